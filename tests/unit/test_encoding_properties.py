"""The tx and block decoders (msgspec) on arbitrary bytes, and against a reference.

Any byte string is either refused with a DecodeError or decodes to an object that encodes
back to exactly those bytes. The reference is the codec obol had before msgspec, reduced to
its rules: msgpack's own unpacker, the shape checked field by field, the value packed again
and compared. Both must give the same verdict (accepted, or the same reject code) and, when
they accept, the same fields.
"""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.encoding import MAX_BLOCK_BYTES, decode_block, decode_tx
from consensus.errors import DecodeError, RejectCode
from consensus.primitives import (
    HEADER_SIZE,
    MAX_PUBKEY_SIZE,
    MAX_SIG_SIZE,
    U32,
    U64,
    lock_size_ok,
)
from tests.unit.test_encoding import sample_block, sample_tx

_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack


class _Bad(Exception):
    pass


def _u(v: Any, top: int) -> None:
    if type(v) is not int or not 0 <= v <= top:
        raise _Bad


def _b(v: Any, lo: int, hi: int) -> None:
    if type(v) is not bytes or not lo <= len(v) <= hi:
        raise _Bad


def _arr(v: Any, n: int | None = None) -> list:
    if type(v) is not list or (n is not None and len(v) != n):
        raise _Bad
    return v


def _ref_tx(obj: Any) -> None:
    version, ins, outs, locktime = _arr(obj, 4)
    _u(version, U32)
    _u(locktime, U32)
    for i in _arr(ins):
        prev, index, pubkey, sig = _arr(i, 4)
        _b(prev, 32, 32)
        _u(index, U32)
        _b(pubkey, 0, MAX_PUBKEY_SIZE)
        _b(sig, 0, MAX_SIG_SIZE)
    for o in _arr(outs):
        value, lock = _arr(o, 2)
        _u(value, U64)
        if type(lock) is not bytes or not lock_size_ok(lock):
            raise _Bad


def _ref_block(obj: Any) -> None:
    header, txs = _arr(obj, 2)
    _b(header, HEADER_SIZE, HEADER_SIZE)
    for t in _arr(txs):
        _ref_tx(t)


def reference(data: bytes, check, max_size: int) -> tuple[RejectCode | None, Any]:
    """(None, the decoded value) or (the reject code, None), by the pre-msgspec rules."""
    if len(data) > max_size:
        return RejectCode.DECODE_OVERSIZE, None
    n = len(data)
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=False,
            max_bin_len=n,
            max_str_len=n,
            max_array_len=n,
            max_map_len=n,
            max_ext_len=0,
        )
        check(obj)
    except (ValueError, TypeError, OverflowError, RecursionError, msgpack.UnpackException, _Bad):
        return RejectCode.DECODE_MALFORMED, None
    if _pack(obj) != data:
        return RejectCode.DECODE_NONCANONICAL, None
    return None, obj


def verdict(decode, data: bytes) -> tuple[RejectCode | None, Any]:
    try:
        value = decode(data)
    except DecodeError as exc:
        return exc.code, None
    assert value.serialize() == data
    return None, value


def agree_tx(data: bytes) -> None:
    code, obj = reference(data, _ref_tx, MAX_BLOCK_BYTES)
    ours, tx = verdict(decode_tx, data)
    assert ours == code, data.hex()
    if tx is not None:
        assert tx.to_obj() == obj


def agree_block(data: bytes) -> None:
    code, obj = reference(data, _ref_block, MAX_BLOCK_BYTES)
    ours, block = verdict(decode_block, data)
    assert ours == code, data.hex()
    if block is not None:
        assert [block.header.serialize(), [t.to_obj() for t in block.txs]] == obj


TX = sample_tx().serialize()
BLOCK = sample_block().serialize()


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """A valid encoding with a few bytes overwritten, inserted or deleted."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        byte = draw(st.integers(0, 255))
        if op == "set" and at < len(data):
            data[at] = byte
        elif op == "insert":
            data.insert(at, byte)
        elif at < len(data):
            del data[at]
    return bytes(data)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, 1, 127, 128, 255, 256, U32, U32 + 1, U64]),
    st.floats(allow_nan=False),
    st.binary(max_size=40),
    st.sampled_from([bytes(21), b"\x03" * 33, b"\x01" * 33, bytes(32), bytes(80)]),
    st.text(max_size=4),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5), max_leaves=30)


def mostly(valid: st.SearchStrategy, other: st.SearchStrategy = scalars) -> st.SearchStrategy:
    """``valid`` three times in four: a tx with one bad field among good ones."""
    return st.one_of(valid, valid, valid, other)


inputs = st.lists(
    st.tuples(
        mostly(st.just(bytes(32)), st.binary(max_size=33)),
        mostly(st.integers(0, U32)),
        mostly(st.binary(max_size=40)),
        mostly(st.binary(max_size=70)),
    ).map(list),
    max_size=3,
)
outputs = st.lists(
    st.tuples(
        mostly(st.integers(0, U64)),
        st.sampled_from([bytes(21), b"\x03" * 33, b"\x03" * 21, b"\x01" * 33, bytes(20)]),
    ).map(list),
    max_size=3,
)
tx_shaped = st.tuples(
    mostly(st.integers(0, U32)), inputs, outputs, mostly(st.integers(0, U32 + 1))
).map(list)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), mutated(TX)))
def test_any_bytes_as_a_tx(data: bytes) -> None:
    agree_tx(data)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), mutated(BLOCK)))
def test_any_bytes_as_a_block(data: bytes) -> None:
    agree_block(data)


@settings(max_examples=200, deadline=None)
@given(st.one_of(tx_shaped, values))
def test_tx_shaped_values(obj: Any) -> None:
    agree_tx(_pack(obj))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.just(bytes(80)), st.binary(max_size=81), scalars), st.lists(tx_shaped))
def test_block_shaped_values(header: Any, txs: list) -> None:
    agree_block(_pack([header, txs]))
    agree_block(_pack([header, [sample_tx().to_obj(), *txs]]))
