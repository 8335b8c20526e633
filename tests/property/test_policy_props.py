"""Properties of policies: canonical encoding, and an evaluator that agrees with a plain
reference evaluator written here from the rules, on random policies and satisfactions."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.errors import RejectCode, RuleError
from consensus.params import LOCKTIME_THRESHOLD, REGTEST
from consensus.policy import (
    MAX_POLICY_SIZE,
    After,
    Key,
    Sha256,
    SpendContext,
    Thresh,
    decode_policy,
    encode_policy,
    evaluate,
    policy_depth,
    policy_keys,
    policy_to_obj,
)
from consensus.policy_text import format_policy, parse_policy
from consensus.primitives import Tx, TxIn, TxOut, _pack
from consensus.signatures import SECP256K1
from tests.chain_helpers import key, pk

KEYS = [pk(key(400 + i)) for i in range(4)] + [
    pk(key(410 + i, SECP256K1.key_type)) for i in range(2)
]
PREIMAGES = [bytes([i]) * 32 for i in range(3)]
HASHES = [Sha256(hashlib.sha256(p).digest()) for p in PREIMAGES]

leaves = st.one_of(
    st.sampled_from(KEYS),
    st.builds(
        After, st.sampled_from([1, 499_999_999, 500_000_000, 2**32 - 1]) | st.integers(1, 10**6)
    ),
    st.sampled_from(HASHES),
    st.builds(Sha256, st.binary(min_size=32, max_size=32)),
)


def _thresh(children):
    return st.lists(children, min_size=1, max_size=6).flatmap(
        lambda subs: st.integers(1, len(subs)).map(lambda k: Thresh(k, tuple(subs)))
    )


def _within_limits(policy) -> bool:
    return (
        policy_depth(policy) <= 8
        and len(policy_keys(policy)) <= 20
        and len(_pack(policy_to_obj(policy))) <= MAX_POLICY_SIZE
    )


policies = st.recursive(leaves, _thresh, max_leaves=20).filter(_within_limits)


@given(policies)
def test_policies_encode_canonically(policy) -> None:
    data = encode_policy(policy)
    assert decode_policy(data) == policy
    assert encode_policy(decode_policy(data)) == data


def _sat(draw, policy):
    """A random satisfaction of the policy's shape (root used), sometimes wrong."""
    if type(policy) is Key:
        return draw(st.sampled_from([b"\x11" * 64, b"\x22" * 64 + b"\x81", b"\x33" * 64 + b"\x01"]))
    if type(policy) is Thresh:
        return [draw(st.none()) if not draw(st.booleans()) else _sat(draw, s) for s in policy.subs]
    if type(policy) is After:
        return True
    return draw(st.sampled_from([*PREIMAGES, b"\x07" * 32]))


def reference(policy, sat, locktime: int) -> tuple[str, list[tuple[bytes, int]]]:
    """(verdict, the (pubkey, sig length) of each used key), straight from the rules."""
    used: list[tuple[bytes, int]] = []

    def walk(p, s) -> str | None:
        if type(p) is Key:
            if len(s) == 65 and s[64] != 0x81:
                return RejectCode.TX_BAD_SIG_FLAG
            used.append((p.pubkey, len(s)))
            return None
        if type(p) is Thresh:
            n_used = sum(x is not None for x in s)
            if n_used != p.k:
                return (
                    RejectCode.POLICY_THRESHOLD_NOT_MET
                    if n_used < p.k
                    else RejectCode.POLICY_TOO_MANY_SATISFIED
                )
            for sub, x in zip(p.subs, s, strict=True):
                if x is not None and (err := walk(sub, x)):
                    return err
            return None
        if type(p) is After:
            same_domain = (locktime < LOCKTIME_THRESHOLD) == (p.n < LOCKTIME_THRESHOLD)
            return None if same_domain and locktime >= p.n else RejectCode.POLICY_TIMELOCK
        ok = hashlib.sha256(s).digest() == p.hash
        return None if ok else RejectCode.POLICY_WRONG_PREIMAGE

    return walk(policy, sat) or "valid", used


@settings(max_examples=200)
@given(policies, st.data(), st.sampled_from([0, 1, 700_000, 500_000_000, 2**32 - 1]))
def test_evaluator_agrees_with_reference(policy, data, locktime: int) -> None:
    sat = _sat(data.draw, policy)
    tx = Tx(1, (TxIn(bytes(32), 0, encode_policy(policy), b""),), (TxOut(1, bytes(21)),), locktime)
    ctx = SpendContext(REGTEST, tx, 0, 5, b"\x03" + bytes(32), b"m" * 32)
    expected, used = reference(policy, sat, locktime)
    checks: list = []
    try:
        evaluate(policy, sat, ctx, checks)
        verdict = "valid"
    except RuleError as exc:
        verdict = exc.code
    assert verdict == expected
    if verdict == "valid":
        assert [(c[1], len(c[2])) for c in checks] == [(pk_, 64) for pk_, _ in used]


@given(st.lists(st.sampled_from(KEYS), min_size=1, max_size=6, unique=True), st.data())
def test_threshold_needs_exactly_k(keys, data) -> None:
    k = data.draw(st.integers(1, len(keys)))
    policy = Thresh(k, tuple(keys))
    mask = data.draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
    sat = [b"\x11" * 64 if m else None for m in mask]
    tx = Tx(1, (TxIn(bytes(32), 0, b"", b""),), (TxOut(1, bytes(21)),), 0)
    ctx = SpendContext(REGTEST, tx, 0, 5, b"\x03" + bytes(32), b"m" * 32)
    checks: list = []
    if sum(mask) == k:
        evaluate(policy, sat, ctx, checks)
        assert len(checks) == k
    else:
        try:
            evaluate(policy, sat, ctx, checks)
        except RuleError as exc:
            assert exc.code in (
                RejectCode.POLICY_THRESHOLD_NOT_MET,
                RejectCode.POLICY_TOO_MANY_SATISFIED,
            )
        else:
            raise AssertionError("a satisfaction with other than k used children passed")


@given(policies)
def test_policies_round_trip_through_text(policy) -> None:
    text = format_policy(policy)
    assert parse_policy(text, sane=False) == policy
    assert format_policy(parse_policy(text, sane=False)) == text
