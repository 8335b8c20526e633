"""The strict, canonical MessagePack codec.

Everything but the 80-byte header is MessagePack built from arrays only, ``bin`` for bytes,
unsigned integers. Txs and blocks are decoded by msgspec against their exact types (a C
decoder: parsing a 2,000-tx block takes about a millisecond); policies, coins and undo
data, which their own code checks field by field, by msgpack's unpacker. Decoding is
bounded (the input size is checked before anything is unpacked, and every length the
payload claims is capped by the bytes actually present) and canonical: after the structure
is checked, the value is encoded again and must equal the input byte for byte, so one
object has exactly one encoding and one hash. That one check rejects integers in wider
types than needed, str instead of bin, maps, trailing bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import msgpack
import msgspec
from msgspec import Meta

from .coins import Coin
from .errors import DecodeError, RejectCode
from .hashing import sha256d
from .params import MAX_MONEY
from .primitives import (
    HEADER_SIZE,
    LOCK_SIZE,
    MAX_PUBKEY_SIZE,
    MAX_SIG_SIZE,
    POLICY_LOCK_SIZE,
    U32,
    Block,
    BlockHeader,
    Tx,
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
    """Any MessagePack value, untyped, for the encodings checked field by field by their
    own module (policies and satisfactions), and for coins and undo data."""
    _check_size(data, max_size, what)
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


def _check_size(data: Any, max_size: int, what: str) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"{what}: expected bytes")
    if len(data) > max_size:
        raise DecodeError(
            f"{what}: {len(data)} bytes is more than the limit of {max_size}",
            RejectCode.DECODE_OVERSIZE,
        )


def _array(obj: Any, arity: int | None, what: str) -> list:
    if type(obj) is not list:
        kind = "map" if isinstance(obj, dict) else type(obj).__name__
        raise DecodeError(f"{what}: expected an array, got {kind}")
    if arity is not None and len(obj) != arity:
        raise DecodeError(f"{what}: expected {arity} fields, got {len(obj)}")
    return obj


# Txs and blocks are decoded by msgspec against their exact shape: fixed-arity arrays
# (tuples), ``bin`` for bytes (a ``str`` is refused), unsigned ints in range, sizes
# bounded, no nil, bool, float, map or ext anywhere. What the types cannot say (a lock's
# length depends on its first byte) is checked as the objects are built, and what no
# decoder sees (an int or a length in a wider format than needed) by encoding the decoded
# value again: it must give the input back byte for byte.
_U32 = Annotated[int, Meta(ge=0, le=U32)]
# MessagePack has no int above 2**64 - 1: ``ge=0`` alone is the u64 range (msgspec takes
# no bound past int64).
_U64 = Annotated[int, Meta(ge=0)]
_TxInShape = tuple[
    Annotated[bytes, Meta(min_length=32, max_length=32)],
    _U32,
    Annotated[bytes, Meta(max_length=MAX_PUBKEY_SIZE)],
    Annotated[bytes, Meta(max_length=MAX_SIG_SIZE)],
]
_TxOutShape = tuple[_U64, Annotated[bytes, Meta(min_length=LOCK_SIZE, max_length=POLICY_LOCK_SIZE)]]
_TxShape = tuple[_U32, list[_TxInShape], list[_TxOutShape], _U32]
_decode_tx_shape = msgspec.msgpack.Decoder(_TxShape).decode
_decode_block_shape = msgspec.msgpack.Decoder(
    tuple[Annotated[bytes, Meta(min_length=HEADER_SIZE, max_length=HEADER_SIZE)], list[_TxShape]]
).decode
_encode = msgspec.msgpack.Encoder().encode


def _decode_shape(decode: Any, data: bytes, max_size: int, what: str) -> Any:
    _check_size(data, max_size, what)
    try:
        return decode(data)
    except msgspec.ValidationError as exc:
        # msgspec calls a MessagePack map an object
        raise DecodeError(f"{what}: {str(exc).replace('`object`', '`map`')}") from exc
    except msgspec.DecodeError as exc:
        if "trailing characters" in str(exc):
            raise DecodeError(f"{what}: trailing bytes after the value") from exc
        raise DecodeError(f"{what}: not valid MessagePack ({exc})") from exc
    except RecursionError as exc:
        raise DecodeError(f"{what}: nested too deeply") from exc


def _build_tx(shape: tuple, raw: bytes) -> Tx:
    """The Tx of a decoded shape whose encoding is ``raw``: objects built without
    re-validation (the decoder checked every field but the locks, checked here), both
    hashes computed at once. The txid's encoding is the tx's own with every sig emptied."""
    version, ins, outs, locktime = shape
    inputs = tuple([trusted_txin(p, n, k, sig) for p, n, k, sig in ins])
    for _, lock in outs:
        if not lock_size_ok(lock):
            raise DecodeError("tx output: lock must be 21 bytes, or 33 starting with 0x03")
    outputs = tuple([trusted_txout(value, lock) for value, lock in outs])
    txid = sha256d(_encode((version, [(p, n, k, b"") for p, n, k, _ in ins], outs, locktime)))
    return trusted_tx(version, inputs, outputs, locktime, raw, txid, sha256d(raw))


def _noncanonical(what: str) -> DecodeError:
    return DecodeError(
        f"{what}: not the canonical encoding (wider types than needed, or other types)",
        RejectCode.DECODE_NONCANONICAL,
    )


def encode_tx(tx: Tx) -> bytes:
    return tx.serialize()


def decode_tx(data: bytes, max_size: int = MAX_TX_BYTES) -> Tx:
    shape = _decode_shape(_decode_tx_shape, data, max_size, "tx")
    raw = _encode(shape)
    tx = _build_tx(shape, raw)
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
    the rest is still being built: the header first (at construction, which also checks
    the shape of the whole block), then ``txs()`` in block order, then ``block()``. Each
    step raises the DecodeError that ``decode_block`` would; nothing decoded is valid
    before ``block()`` has returned (it checks the whole encoding is the canonical one)."""

    __slots__ = ("_data", "_known", "_raws", "_tx_shapes", "_txs", "header", "header_bytes")

    def __init__(
        self, data: bytes, max_size: int = MAX_BLOCK_BYTES, known: Mapping[bytes, Tx] | None = None
    ) -> None:
        header_bytes, tx_shapes = _decode_shape(_decode_block_shape, data, max_size, "block")
        self._data = data
        self._known = known
        self._tx_shapes = tx_shapes
        self._txs: list[Tx] = []
        self._raws: list[bytes] = []
        self.header_bytes = header_bytes
        self.header = BlockHeader.deserialize(header_bytes)

    def txs(self) -> Iterator[Tx]:
        lookup = self._known.get if self._known else None
        txs, raws = self._txs, self._raws
        for shape in self._tx_shapes:
            raw = _encode(shape)
            tx = lookup(raw) if lookup is not None else None
            if tx is None:
                tx = _build_tx(shape, raw)
            txs.append(tx)
            raws.append(raw)
            yield tx

    def block(self) -> Block:
        """The block, once every tx has been decoded."""
        if len(self._txs) != len(self._tx_shapes):
            raise RuntimeError("block() before every tx was decoded")
        if _pack_block(self.header_bytes, self._raws) != self._data:
            raise _noncanonical("block")
        block = Block(self.header, tuple(self._txs))
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
