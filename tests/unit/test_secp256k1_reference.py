"""secp256k1 through libsecp256k1 (coincurve) against python-ecdsa, the independent reference.

The reference below is the implementation obol used before: python-ecdsa with the same
size, prefix and low-S rules. Both must give the same signatures (RFC 6979, low S) and the
same verdict, with the same reject code, on every key, signature and message.
"""

from __future__ import annotations

import hashlib

import pytest
from ecdsa import BadSignatureError, SECP256k1, SigningKey, VerifyingKey
from ecdsa.errors import MalformedPointError
from ecdsa.util import sigdecode_string, sigencode_string_canonize
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.errors import RejectCode, RuleError
from consensus.signatures import SECP256K1

N = SECP256k1.order
P = SECP256k1.curve.p()

secrets = st.integers(min_value=1, max_value=N - 1).map(lambda k: k.to_bytes(32, "big"))
digests = st.binary(min_size=32, max_size=32)


def ref_sign(secret: bytes, msg: bytes) -> bytes:
    sk = SigningKey.from_string(secret, curve=SECP256k1)
    return sk.sign_digest_deterministic(
        msg, hashfunc=hashlib.sha256, sigencode=sigencode_string_canonize
    )


def ref_pubkey(secret: bytes) -> bytes:
    return (
        SigningKey.from_string(secret, curve=SECP256k1).get_verifying_key().to_string("compressed")
    )


def ref_verdict(pubkey: bytes, sig: bytes, msg: bytes) -> RejectCode | None:
    if len(pubkey) != 33 or pubkey[0] not in (2, 3) or len(sig) != 64:
        return RejectCode.TX_BAD_SIGNATURE
    if int.from_bytes(sig[32:], "big") > N // 2:
        return RejectCode.TX_HIGH_S
    try:
        vk = VerifyingKey.from_string(pubkey, curve=SECP256k1)
        ok = vk.verify_digest(sig, msg, sigdecode=sigdecode_string)
    except (BadSignatureError, MalformedPointError, AssertionError):
        return RejectCode.TX_BAD_SIGNATURE
    return None if ok else RejectCode.TX_BAD_SIGNATURE


def verdict(pubkey: bytes, sig: bytes, msg: bytes) -> RejectCode | None:
    try:
        SECP256K1.verify(pubkey, sig, msg)
    except RuleError as exc:
        return exc.code
    return None


def agree(pubkey: bytes, sig: bytes, msg: bytes) -> RejectCode | None:
    theirs, ours = ref_verdict(pubkey, sig, msg), verdict(pubkey, sig, msg)
    assert ours == theirs, (pubkey.hex(), sig.hex(), msg.hex())
    return ours


@settings(max_examples=60, deadline=None)
@given(secrets, digests, digests)
def test_sign_and_verify_match_the_reference(secret: bytes, msg: bytes, other: bytes) -> None:
    pubkey = SECP256K1.pubkey_from_secret(secret)
    assert pubkey == ref_pubkey(secret)
    sig = SECP256K1.sign(secret, msg)
    assert sig == ref_sign(secret, msg)
    assert int.from_bytes(sig[32:], "big") <= N // 2
    assert agree(pubkey, sig, msg) is None
    assert agree(pubkey, sig, other) is (None if other == msg else RejectCode.TX_BAD_SIGNATURE)


@settings(max_examples=40, deadline=None)
@given(secrets, digests)
def test_high_s_is_rejected_by_both(secret: bytes, msg: bytes) -> None:
    pubkey, sig = SECP256K1.pubkey_from_secret(secret), SECP256K1.sign(secret, msg)
    high = sig[:32] + (N - int.from_bytes(sig[32:], "big")).to_bytes(32, "big")
    assert agree(pubkey, high, msg) is RejectCode.TX_HIGH_S


scalars = st.one_of(
    st.sampled_from([0, 1, N // 2, N // 2 + 1, N - 1, N, N + 1, 2**256 - 1]),
    st.integers(min_value=0, max_value=2**256 - 1),
)


@settings(max_examples=80, deadline=None)
@given(secrets, digests, scalars, st.booleans())
def test_out_of_range_r_or_s(secret: bytes, msg: bytes, value: int, in_r: bool) -> None:
    pubkey, sig = SECP256K1.pubkey_from_secret(secret), SECP256K1.sign(secret, msg)
    if in_r:
        bad = value.to_bytes(32, "big") + sig[32:]
    else:
        bad = sig[:32] + value.to_bytes(32, "big")
    agree(pubkey, bad, msg)


@settings(max_examples=80, deadline=None)
@given(secrets, digests, st.binary(min_size=0, max_size=70), st.binary(min_size=0, max_size=70))
def test_malformed_keys_and_signatures(secret: bytes, msg: bytes, key: bytes, sig: bytes) -> None:
    good = SECP256K1.sign(secret, msg)
    assert agree(key, good, msg) is not None or key == SECP256K1.pubkey_from_secret(secret)
    agree(SECP256K1.pubkey_from_secret(secret), sig, msg)


xs = st.one_of(
    st.sampled_from([0, 1, 5, P - 1, P, P + 1, 2**256 - 1]),
    st.integers(min_value=0, max_value=2**256 - 1),
)


@settings(max_examples=80, deadline=None)
@given(secrets, digests, xs, st.sampled_from([2, 3]))
def test_points_off_the_curve_and_out_of_the_field(
    secret: bytes, msg: bytes, x: int, prefix: int
) -> None:
    # About half of all x have no point; x >= p is no field element at all.
    sig = SECP256K1.sign(secret, msg)
    agree(bytes([prefix]) + x.to_bytes(32, "big"), sig, msg)


@pytest.mark.parametrize("prefix", [0, 1, 4, 5, 6, 7, 0xFF])
def test_other_prefixes(prefix: int) -> None:
    secret = (12345).to_bytes(32, "big")
    msg = hashlib.sha256(b"m").digest()
    pubkey, sig = SECP256K1.pubkey_from_secret(secret), SECP256K1.sign(secret, msg)
    assert agree(bytes([prefix]) + pubkey[1:], sig, msg) is RejectCode.TX_BAD_SIGNATURE
    # the same key with its parity flipped is the negated point: a different key
    flipped = bytes([pubkey[0] ^ 1]) + pubkey[1:]
    assert agree(flipped, sig, msg) is RejectCode.TX_BAD_SIGNATURE
