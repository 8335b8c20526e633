"""The strict, canonical MessagePack codec.

Everything but the 80-byte header is MessagePack built from arrays only, ``bin`` for bytes,
unsigned integers. Decoding is bounded (the input size is checked before anything is
unpacked, and every length the payload claims is capped by the bytes actually present) and
canonical: after the structure is checked, the value is encoded again and must equal the
input byte for byte, so one object has exactly one encoding and one hash. That one check
rejects integers in wider types than needed, str instead of bin, maps, trailing bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgpack

from .coins import Coin
from .errors import DecodeError, RejectCode
from .hashing import sha256d
from .params import MAX_MONEY
from .primitives import (
    HEADER_SIZE,
    MAX_PUBKEY_SIZE,
    MAX_SIG_SIZE,
    U32,
    U64,
    Block,
    BlockHeader,
    Tx,
    TxIn,
    TxOut,
    _pack,
    _pack_block,
    lock_size_ok,
    set_cached_raw,
    trusted_tx,
    trusted_txin,
    trusted_txout,
)

MAX_BLOCK_BYTES = 1_000_000
MAX_TX_BYTES = MAX_BLOCK_BYTES


def _unpack(data: bytes, max_size: int, what: str) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"{what}: expected bytes")
    if len(data) > max_size:
        raise DecodeError(
            f"{what}: {len(data)} bytes is more than the limit of {max_size}",
            RejectCode.DECODE_OVERSIZE,
        )
    n = len(data)
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=False,
            max_bin_len=n,
            max_str_len=n,
            max_array_len=n,
            max_map_len=n,
            max_ext_len=0,
        )
    except msgpack.ExtraData as exc:
        raise DecodeError(f"{what}: trailing bytes after the value") from exc
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        raise DecodeError(f"{what}: not valid MessagePack ({exc})") from exc


def _array(obj: Any, arity: int | None, what: str) -> list:
    if type(obj) is not list:
        kind = "map" if isinstance(obj, dict) else type(obj).__name__
        raise DecodeError(f"{what}: expected an array, got {kind}")
    if arity is not None and len(obj) != arity:
        raise DecodeError(f"{what}: expected {arity} fields, got {len(obj)}")
    return obj


def _tx_from_obj(obj: Any) -> Tx:
    version, ins, outs, locktime = _array(obj, 4, "tx")
    inputs = tuple(TxIn(*_array(i, 4, "tx input")) for i in _array(ins, None, "tx inputs"))
    outputs = tuple(TxOut(*_array(o, 2, "tx output")) for o in _array(outs, None, "tx outputs"))
    return Tx(version, inputs, outputs, locktime)


def _tx_from_obj_fast(obj: Any, raw: bytes) -> Tx | None:
    """The common case of ``_tx_from_obj``, given ``raw = _pack(obj)``: every field
    checked inline, objects built without re-validation, both hashes computed at once;
    None if anything is off, and then the validating path decides (and words the error).

    The txid's encoding is the tx's own with every sig emptied, so it is packed from the
    same arrays after blanking them: no second walk over the tx's objects.
    """
    if type(obj) is not list or len(obj) != 4:
        return None
    version, ins, outs, locktime = obj
    if (
        type(version) is not int
        or not 0 <= version <= U32
        or type(locktime) is not int
        or not 0 <= locktime <= U32
        or type(ins) is not list
        or type(outs) is not list
    ):
        return None
    inputs = []
    for i in ins:
        if type(i) is not list or len(i) != 4:
            return None
        prev, index, pubkey, sig = i
        if (
            type(prev) is not bytes
            or len(prev) != 32
            or type(index) is not int
            or not 0 <= index <= U32
            or type(pubkey) is not bytes
            or len(pubkey) > MAX_PUBKEY_SIZE
            or type(sig) is not bytes
            or len(sig) > MAX_SIG_SIZE
        ):
            return None
        inputs.append(trusted_txin(prev, index, pubkey, sig))
    outputs = []
    for o in outs:
        if type(o) is not list or len(o) != 2:
            return None
        value, lock = o
        if type(value) is not int or not 0 <= value <= U64:
            return None
        if type(lock) is not bytes or not lock_size_ok(lock):
            return None
        outputs.append(trusted_txout(value, lock))
    for i in ins:
        i[3] = b""
    txid = sha256d(_pack(obj))
    return trusted_tx(version, tuple(inputs), tuple(outputs), locktime, raw, txid, sha256d(raw))


def _noncanonical(what: str) -> DecodeError:
    return DecodeError(
        f"{what}: not the canonical encoding (wider types than needed, or other types)",
        RejectCode.DECODE_NONCANONICAL,
    )


def encode_tx(tx: Tx) -> bytes:
    return tx.serialize()


def decode_tx(data: bytes, max_size: int = MAX_TX_BYTES) -> Tx:
    obj = _unpack(data, max_size, "tx")
    raw = _pack(obj)
    tx = _tx_from_obj_fast(obj, raw)
    if tx is None:
        try:
            tx = _tx_from_obj(obj)
        except ValueError as exc:
            if isinstance(exc, DecodeError):
                raise
            raise DecodeError(f"tx: {exc}") from exc
        set_cached_raw(tx, raw)
    if raw != data:
        raise _noncanonical("tx")
    return tx


def encode_block(block: Block) -> bytes:
    return block.serialize()


def decode_block(
    data: bytes, max_size: int = MAX_BLOCK_BYTES, known: Mapping[bytes, Tx] | None = None
) -> Block:
    """The block encoded in ``data``, strictly.

    ``known`` maps the encodings of txs already decoded (a node's mempool) to their
    objects: a tx of the block with the same bytes is that object, not built again. The
    result is the same (decoding is deterministic and a Tx immutable); only the work of
    checking and hashing a tx the node has already checked is skipped.
    """
    decoding = BlockDecoding(data, max_size, known)
    for _ in decoding.txs():
        pass
    return decoding.block()


class BlockDecoding:
    """``decode_block`` one tx at a time, for a caller with work to do on each tx while
    the rest is still being decoded: the header first (at construction), then ``txs()``
    in block order, then ``block()``. Each step raises the DecodeError that
    ``decode_block`` would; nothing decoded is valid before ``block()`` has returned (it
    checks the whole encoding is the canonical one)."""

    __slots__ = ("_data", "_known", "_raws", "_tx_objs", "_txs", "header", "header_bytes")

    def __init__(
        self, data: bytes, max_size: int = MAX_BLOCK_BYTES, known: Mapping[bytes, Tx] | None = None
    ) -> None:
        obj = _unpack(data, max_size, "block")
        header_bytes, tx_objs = _array(obj, 2, "block")
        if type(header_bytes) is not bytes or len(header_bytes) != HEADER_SIZE:
            raise DecodeError("block: the header must be 80 bytes of bin")
        self._data = data
        self._known = known
        self._tx_objs = _array(tx_objs, None, "block txs")
        self._txs: list[Tx] = []
        self._raws: list[bytes] = []
        self.header_bytes = header_bytes
        try:
            self.header = BlockHeader.deserialize(header_bytes)
        except DecodeError:
            raise
        except ValueError as exc:
            raise DecodeError(f"block: {exc}") from exc

    def txs(self) -> Iterator[Tx]:
        lookup = self._known.get if self._known else None
        txs, raws = self._txs, self._raws
        for t in self._tx_objs:
            raw = _pack(t)
            tx = lookup(raw) if lookup is not None else None
            if tx is None:
                try:
                    tx = _tx_from_obj_fast(t, raw)
                    if tx is None:
                        tx = _tx_from_obj(t)
                        set_cached_raw(tx, raw)
                except DecodeError:
                    raise
                except ValueError as exc:
                    raise DecodeError(f"block: {exc}") from exc
            txs.append(tx)
            raws.append(raw)
            yield tx

    def block(self) -> Block:
        """The block, once every tx has been decoded."""
        if len(self._txs) != len(self._tx_objs):
            raise RuntimeError("block() before every tx was decoded")
        try:
            block = Block(self.header, tuple(self._txs))
        except DecodeError:
            raise
        except ValueError as exc:
            raise DecodeError(f"block: {exc}") from exc
        if _pack_block(self.header_bytes, self._raws) != self._data:
            raise _noncanonical("block")
        set_cached_raw(block, bytes(self._data))
        return block


def decode_header(data: bytes) -> BlockHeader:
    if type(data) is not bytes or len(data) != HEADER_SIZE:
        raise DecodeError("a block header is exactly 80 bytes")
    return BlockHeader.deserialize(data)


# Coins and undo data: stored by the node, defined here so their one encoding is fixed.


def encode_coin(coin: Coin) -> bytes:
    return _pack([coin.value, coin.lock, coin.height, coin.coinbase])


def _coin_from_obj(obj: Any) -> Coin:
    value, lock, height, coinbase = _array(obj, 4, "coin")
    if type(value) is not int or not 0 <= value <= MAX_MONEY:
        raise DecodeError("coin: value must be an amount within MAX_MONEY")
    if type(lock) is not bytes or not lock_size_ok(lock):
        raise DecodeError("coin: lock must be 21 bytes, or 33 starting with 0x03")
    if type(height) is not int or not 0 <= height <= 0xFFFFFFFF:
        raise DecodeError("coin: height must be an unsigned 32-bit integer")
    if type(coinbase) is not bool:
        raise DecodeError("coin: coinbase flag must be a bool")
    return Coin(value, lock, height, coinbase)


def decode_coin(data: bytes) -> Coin:
    obj = _unpack(data, 128, "coin")
    coin = _coin_from_obj(obj)
    if _pack(obj) != data:
        raise _noncanonical("coin")
    return coin


def encode_undo(spent: tuple[Coin, ...]) -> bytes:
    return _pack([[c.value, c.lock, c.height, c.coinbase] for c in spent])


def decode_undo(data: bytes) -> tuple[Coin, ...]:
    obj = _unpack(data, 64 * MAX_BLOCK_BYTES, "undo")
    coins = tuple(_coin_from_obj(c) for c in _array(obj, None, "undo"))
    if _pack(obj) != data:
        raise _noncanonical("undo")
    return coins
