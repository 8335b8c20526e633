"""Partially signed transactions (wallet/psbt.py, wallet/satisfy.py): the format's round
trip and refusals, the roles' operations, and the finalizer's choices, each finalized tx
checked by consensus."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.coins import Coin, MemoryCoinView
from consensus.errors import RejectCode, RuleError
from consensus.hashing import sha256
from consensus.params import COIN, DEVNET, REGTEST
from consensus.policy import After, Sha256, Thresh, decode_satisfaction, encode_policy, policy_lock
from consensus.primitives import Tx, TxIn, TxOut, outpoint_key
from consensus.validation import check_tx_contextual
from tests.chain_helpers import key, pk
from wallet import psbt as P
from wallet.psbt import Psbt, PsbtError, PsbtInput, PsbtOutput, decode_psbt, encode_psbt

A, B, C = key(1), key(2, 2), key(3)  # B is secp256k1
D = key(4)
ESCROW_T = 5000
ESCROW = Thresh(1, (Thresh(2, (pk(A), pk(B), pk(C))), Thresh(2, (pk(A), After(ESCROW_T)))))
MATURITY = 6000
LOAN = Thresh(1, (Thresh(2, (pk(D), pk(A))), Thresh(2, (pk(A), After(MATURITY)))))
VALUE = 5 * COIN
HEIGHT = 7000
MTP = 1_700_000_000


def txid(n: int) -> bytes:
    return sha256(b"coin %d" % n)


def psbt_of(policies: list, locktime: int = 0, out_value: int = VALUE - 1000) -> Psbt:
    """A PSBT spending one coin per item of ``policies`` (a policy, or a test key for a key
    coin), coins and fields filled in, paying D's key."""
    ins, coins = [], []
    for n, item in enumerate(policies):
        if hasattr(item, "secret"):
            field, lock = item.pubkey, item.lock
        else:
            field = encode_policy(item)
            lock = policy_lock(field)
        ins.append(TxIn(txid(n), 0, field, b""))
        coins.append(TxOut(VALUE, lock))
    tx = Tx(1, tuple(ins), (TxOut(out_value * len(policies), D.lock),), locktime)
    return Psbt(REGTEST.magic, tx, tuple(PsbtInput(c) for c in coins), (PsbtOutput(key=pk(D)),))


def sign(p: Psbt, index: int, *keys, acp: bool = False) -> Psbt:
    for k in keys:
        p = P.sign_input(p, index, k.key_type, k.secret, REGTEST, acp)
    return p


def consensus_fee(p: Psbt, height: int = HEIGHT) -> int:
    tx = P.extract(p)
    view = MemoryCoinView(
        {
            outpoint_key(i.prev_txid, i.prev_index): Coin(pin.coin.value, pin.coin.lock, 1, False)
            for i, pin in zip(tx.inputs, p.inputs, strict=True)
        }
    )
    return check_tx_contextual(tx, view, height, MTP, REGTEST)


def used(p: Psbt, index: int = 0):
    return decode_satisfaction(p.inputs[index].final)


# --- the format -------------------------------------------------------------------------


def test_round_trip_every_field() -> None:
    hashed = Thresh(2, (pk(A), Sha256(sha256(b"x" * 32))))
    p = P.add_preimage(sign(psbt_of([hashed]), 0, A, acp=True), 0, b"x" * 32)
    full = sign(psbt_of([ESCROW, A]), 0, A)
    full = P.finalize_input(sign(full, 1, A), 1, REGTEST)
    escrow = encode_policy(ESCROW)
    to_policy = Tx(1, full.tx.inputs, (TxOut(VALUE, policy_lock(escrow)),), 0)
    described = Psbt(REGTEST.magic, to_policy, full.inputs, (PsbtOutput(policy=escrow),))
    with pytest.raises(PsbtError, match="does not hash to the output's lock"):
        Psbt(REGTEST.magic, full.tx, full.inputs, (PsbtOutput(policy=escrow),))
    with pytest.raises(PsbtError, match="does not match the output's lock"):
        Psbt(REGTEST.magic, full.tx, full.inputs, (PsbtOutput(key=pk(A)),))
    for q in (p, full, described, P.create_psbt(psbt_of([A]).tx, REGTEST.magic)):
        text = encode_psbt(q)
        assert text.startswith("b3BzYnQB")  # b"opsbt" + version 1
        assert decode_psbt(text, REGTEST.magic) == q


def refused(text: str, reason: str, magic: bytes = REGTEST.magic) -> None:
    with pytest.raises(PsbtError) as exc:
        decode_psbt(text, magic)
    assert reason in exc.value.message


def body(p: Psbt) -> list:
    return msgpack.unpackb(P.encode_psbt_bytes(p)[6:], raw=False)


def pack(obj: list, version: int = 1) -> str:
    raw = P.MAGIC + bytes((version,)) + msgpack.packb(obj, use_bin_type=True)
    return base64.b64encode(raw).decode()


def test_refusals() -> None:
    p = sign(psbt_of([ESCROW]), 0, A)
    text = encode_psbt(p)
    raw = base64.b64decode(text)
    refused(text[:-8], "truncated or damaged")
    refused(text[:-1], "invalid base64")
    refused(text + "=", "invalid base64")
    refused("not base64!", "invalid base64")
    refused(base64.b64encode(b"psbt\xff").decode(), "not a PSBT")
    refused(base64.b64encode(raw[:5]).decode(), "no version")
    refused(base64.b64encode(raw[:5] + b"\x02" + raw[6:]).decode(), "unsupported PSBT version 2")
    refused(text, "another network", DEVNET.magic)
    refused(base64.b64encode(raw + b"\x00").decode(), "trailing bytes")
    obj = body(p)
    obj[2][0].append([9, b""])
    refused(pack(obj), "unknown field 9")
    obj = body(p)
    obj[3][0].append([7, 1])
    refused(pack(obj), "unknown field 7")
    obj = body(p)
    obj[2][0] = obj[2][0][::-1]
    refused(pack(obj), "ascending tag order")
    obj = body(p)
    obj[2][0][0][1][0] += 1  # a coin's value is any amount: the node checks it
    assert decode_psbt(pack(obj), REGTEST.magic).inputs[0].coin.value == VALUE + 1
    obj = body(p)
    obj[2][0][0][1][1] = D.lock  # another lock than the policy's
    refused(pack(obj), "does not match the coin's lock")
    obj = body(p)
    sig_field = obj[2][0][1][1][0]
    sig_field[1] = D.pubkey  # a signature by a key outside the policy
    refused(pack(obj), "not in the policy")
    obj = body(p)
    obj.append(b"")
    refused(pack(obj), "expected 4 items")
    obj = body(p)
    obj[3] = []
    refused(pack(obj), "one input and one output entry")


def test_noncanonical_refused() -> None:
    p = psbt_of([A])
    raw = P.encode_psbt_bytes(p)
    assert raw[6] == 0x94
    wide = raw[:6] + b"\xdc\x00\x04" + raw[7:]  # the same array with a wider header
    refused(base64.b64encode(wide).decode(), "canonical encoding")


@settings(max_examples=40, deadline=None)
@given(
    n_in=st.integers(1, 4),
    signers=st.lists(st.sampled_from([0, 1, 2]), max_size=3),
    acp=st.booleans(),
    locktime=st.sampled_from([0, ESCROW_T - 1, ESCROW_T]),
    cut=st.integers(1, 40),
)
def test_hypothesis_round_trip_and_cuts(n_in, signers, acp, locktime, cut) -> None:
    p = psbt_of([ESCROW] * n_in, locktime)
    for s in signers:
        p = sign(p, 0, (A, B, C)[s], acp=acp)
    p = P.finalize(p, REGTEST)
    text = encode_psbt(p)
    assert decode_psbt(text, REGTEST.magic) == p
    raw = P.encode_psbt_bytes(p)
    with pytest.raises(PsbtError):
        decode_psbt(base64.b64encode(raw[: max(0, len(raw) - cut)]).decode(), REGTEST.magic)


def test_vector_in_protocol_doc() -> None:
    """docs/PROTOCOL.md's vector: a 2-of-3 PSBT of test keys 1, 3 and 4, signed by key 1."""
    p = sign(psbt_of([Thresh(2, (pk(A), pk(C), pk(D)))]), 0, A)
    doc = (Path(__file__).parents[2] / "docs" / "PROTOCOL.md").read_text()
    vector = doc.split("<!-- psbt vector -->")[1].split("```")[1].split()
    assert vector == [encode_psbt(p)]
    assert decode_psbt(vector[0], REGTEST.magic) == p


# --- updater, signer, combiner, joiner ----------------------------------------------------


def test_update_fixes_fields_before_signing_all() -> None:
    full = psbt_of([A, ESCROW])
    bare = P.create_psbt(
        Tx(1, tuple(TxIn(i.prev_txid, 0, b"", b"") for i in full.tx.inputs), full.tx.outputs, 0),
        REGTEST.magic,
    )
    assert P.missing(bare, 0, REGTEST).role == "updater"
    with pytest.raises(PsbtError, match="must be known"):
        sign(P.update_input(bare, 0, full.inputs[0].coin, A.pubkey), 0, A)
    p = P.update_input(bare, 0, full.inputs[0].coin, A.pubkey)
    p = sign(p, 0, A, acp=True)  # ACP covers only its own input: allowed already
    with pytest.raises(PsbtError, match="differs"):
        P.update_input(p, 0, field=C.pubkey)
    p = P.update_input(p, 1, full.inputs[1].coin, encode_policy(ESCROW))
    assert P.missing(sign(p, 0, A), 0, REGTEST).role == "finalizer"
    half = P.update_input(bare, 1, full.inputs[1].coin)
    with pytest.raises(PsbtError, match="before signing ALL"):
        sign(P.update_input(half, 0, full.inputs[0].coin, A.pubkey), 0, A)
    forced = P.update_input(half, 0, full.inputs[0].coin, A.pubkey)
    forced = P.add_signature(forced, 0, pk(A), bytes(64))
    with pytest.raises(PsbtError, match="signed ALL"):
        P.update_input(forced, 1, field=encode_policy(ESCROW))


def test_sign_only_own_key() -> None:
    p = psbt_of([Thresh(2, (pk(A), pk(B)))])
    with pytest.raises(PsbtError, match="not one that can sign"):
        sign(p, 0, C)


def test_combine_and_its_refusals() -> None:
    p = psbt_of([ESCROW])
    one, two = sign(p, 0, A), sign(p, 0, B)
    both = P.combine([one, two])
    assert [k for k, _ in both.inputs[0].sigs] == sorted(
        [pk(A), pk(B)], key=lambda k: (k.key_type, k.pubkey)
    )
    assert P.combine([both, one]) == both
    with pytest.raises(PsbtError, match="another transaction"):
        P.combine([one, psbt_of([ESCROW], locktime=1)])
    with pytest.raises(PsbtError, match="another network"):
        P.combine([one, replace(two, magic=DEVNET.magic)])
    final = P.finalize(both, REGTEST)
    assert P.combine([one, final]).inputs[0].final == final.inputs[0].final


def test_join_then_each_signs_own_inputs() -> None:
    left, right = psbt_of([A]), psbt_of([C])
    right = Psbt(
        right.magic,
        Tx(2, (TxIn(txid(9), 1, C.pubkey, b""),), right.tx.outputs, 0),
        right.inputs,
        right.outputs,
    )
    joined = P.join([left, right])
    assert len(joined.tx.inputs) == 2 and len(joined.tx.outputs) == 2 and joined.tx.version == 2
    assert P.missing(joined, 0, REGTEST).role == "signer"
    signed = P.combine([sign(joined, 0, A), sign(joined, 1, C)])
    done = P.finalize(signed, REGTEST)
    assert P.is_complete(done)
    assert consensus_fee(done) == 2000
    with pytest.raises(PsbtError, match="multiple PSBTs"):
        P.join([left, left])
    with pytest.raises(PsbtError, match="join first"):
        P.join([sign(left, 0, A), right])
    # One party changes an output after the other signed: that signature no longer counts.
    a_signed = sign(joined, 0, A)
    outs = list(a_signed.tx.outputs)
    outs[1] = TxOut(outs[1].value - 1, outs[1].lock)
    changed = replace(a_signed, tx=Tx(2, a_signed.tx.inputs, tuple(outs), 0))
    changed = P.finalize(sign(changed, 1, C), REGTEST)
    assert not P.is_complete(changed)
    assert P.missing(changed, 0, REGTEST).keys == (pk(A),)
    forged = Tx(
        2,
        (
            TxIn(changed.tx.inputs[0].prev_txid, 0, A.pubkey, a_signed.inputs[0].sigs[0][1]),
            TxIn(txid(9), 1, C.pubkey, changed.inputs[1].final),
        ),
        tuple(outs),
        0,
    )
    view = MemoryCoinView(
        {
            outpoint_key(txid(0), 0): Coin(VALUE, A.lock, 1, False),
            outpoint_key(txid(9), 1): Coin(VALUE, C.lock, 1, False),
        }
    )
    with pytest.raises(RuleError) as exc:
        check_tx_contextual(forged, view, HEIGHT, MTP, REGTEST)
    assert exc.value.code is RejectCode.TX_BAD_SIGNATURE


# --- the finalizer ----------------------------------------------------------------------


@pytest.mark.parametrize("pair", [(A, B), (A, C), (B, C)])
def test_escrow_any_two_of_three(pair) -> None:
    p = P.finalize(sign(psbt_of([ESCROW]), 0, *pair), REGTEST)
    assert consensus_fee(p) == 1000
    assert used(p)[1] is None


def test_exactly_k_with_three_signatures() -> None:
    p = P.finalize(sign(psbt_of([ESCROW]), 0, A, B, C), REGTEST)
    sat = used(p)
    assert sat[1] is None and sum(s is not None for s in sat[0]) == 2
    assert consensus_fee(p) == 1000


def test_prefers_no_timelock_when_both_work() -> None:
    p = P.finalize(sign(psbt_of([ESCROW], locktime=ESCROW_T), 0, A, C), REGTEST)
    assert used(p)[1] is None and used(p)[0][0] is not None
    refund = P.finalize(sign(psbt_of([ESCROW], locktime=ESCROW_T), 0, A), REGTEST)
    assert used(refund)[0] is None and used(refund)[1] == [used(refund)[1][0], True]
    assert consensus_fee(refund) == 1000


def test_refund_before_timelock_is_incomplete() -> None:
    p = P.finalize(sign(psbt_of([ESCROW], locktime=ESCROW_T - 1), 0, A), REGTEST)
    assert not P.is_complete(p)
    m = P.missing(p, 0, REGTEST)
    assert m.role == "signer" and m.keys == (pk(B),) and m.after == ()
    timelock_only = psbt_of([Thresh(2, (pk(A), After(ESCROW_T)))], locktime=ESCROW_T - 1)
    assert P.missing(sign(timelock_only, 0, A), 0, REGTEST).after == (ESCROW_T,)


def test_lending_shapes() -> None:
    repay = P.finalize(sign(psbt_of([LOAN]), 0, D, A), REGTEST)
    assert consensus_fee(repay) == 1000 and used(repay)[1] is None
    early = P.finalize(sign(psbt_of([LOAN], locktime=MATURITY - 1), 0, A), REGTEST)
    assert not P.is_complete(early) and P.missing(early, 0, REGTEST).keys == (pk(D),)
    claim = P.finalize(sign(psbt_of([LOAN], locktime=MATURITY), 0, A), REGTEST)
    assert consensus_fee(claim) == 1000 and used(claim)[0] is None


def test_hash_lock_and_acp() -> None:
    secret = b"p" * 32
    policy = Thresh(2, (pk(A), Sha256(sha256(secret))))
    p = sign(psbt_of([policy]), 0, A, acp=True)
    m = P.missing(p, 0, REGTEST)
    assert m.hashes == (sha256(secret),) and m.keys == ()
    with pytest.raises(PsbtError, match="no hash lock"):
        P.add_preimage(p, 0, b"q" * 32)
    done = P.finalize(P.add_preimage(p, 0, secret), REGTEST)
    assert len(used(done)[0]) == 65 and consensus_fee(done) == 1000


def test_invalid_signature_is_not_used() -> None:
    p = psbt_of([Thresh(2, (pk(A), pk(C)))])
    p = P.add_signature(sign(p, 0, A), 0, pk(C), bytes(64))
    assert not P.is_complete(P.finalize(p, REGTEST))
    assert P.missing(p, 0, REGTEST).keys == (pk(C),)


def test_estimated_size_is_exact_for_ed25519() -> None:
    p = psbt_of([ESCROW, A])
    estimate = P.estimated_size(p, REGTEST)
    done = P.finalize(sign(sign(p, 0, A, C), 1, A), REGTEST)
    assert P.estimated_size(done, REGTEST) == P.extract(done).size == estimate


@settings(max_examples=30, deadline=None)
@given(
    left=st.sets(st.sampled_from([0, 1, 2])),
    right=st.sets(st.sampled_from([0, 1, 2])),
    acp=st.booleans(),
)
def test_combine_is_order_free_and_finalizes_with_any_two(left, right, acp) -> None:
    """Signatures split between two copies: combined either way, the same signatures;
    finalized, complete exactly when two different keys signed, and then valid."""
    base = psbt_of([ESCROW])
    keys = (A, B, C)
    x = sign(base, 0, *[keys[i] for i in sorted(left)], acp=acp)
    y = sign(base, 0, *[keys[i] for i in sorted(right)], acp=acp)
    xy, yx = P.combine([x, y]), P.combine([y, x])
    assert xy.inputs[0].sig_map.keys() == yx.inputs[0].sig_map.keys()
    assert xy == yx  # both signers sign deterministically
    done = P.finalize(xy, REGTEST)
    assert P.is_complete(done) == (len(left | right) >= 2)
    if P.is_complete(done):
        assert consensus_fee(done) == 1000


def test_anyonecanpay_final_leaves_other_inputs_open() -> None:
    """A pledge finalized ALL|ANYONECANPAY still lets other inputs get their fields."""
    full = psbt_of([ESCROW, A])
    half = P.update_input(
        P.create_psbt(
            Tx(1, (full.tx.inputs[0], TxIn(txid(1), 0, b"", b"")), full.tx.outputs, 0),
            REGTEST.magic,
        ),
        0,
        full.inputs[0].coin,
    )
    pledged = P.finalize(sign(half, 0, A, C, acp=True), REGTEST)
    assert pledged.inputs[0].final is not None
    opened = P.update_input(pledged, 1, full.inputs[1].coin, A.pubkey)
    done = P.finalize(sign(opened, 1, A), REGTEST)
    assert P.is_complete(done) and consensus_fee(done) == 2000


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_damage_is_a_psbt_error(data) -> None:
    """Bytes flipped, cut or inserted anywhere: a PsbtError, or a PSBT that encodes back
    to exactly those bytes; never another exception."""
    p = P.finalize_input(sign(psbt_of([ESCROW, A]), 0, A, B), 0, REGTEST)
    raw = bytearray(P.encode_psbt_bytes(p))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del raw[pos]
        else:
            raw.insert(pos, data.draw(st.integers(0, 255)))
    try:
        q = P.decode_psbt_bytes(bytes(raw), REGTEST.magic)
    except PsbtError:
        return
    assert P.encode_psbt_bytes(q) == bytes(raw)
