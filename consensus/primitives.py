"""Wire and consensus data types: frozen, slotted, validated on construction.

Hashes are computed once and cached in a private slot; the dataclasses stay immutable to
everyone else. ``txid`` leaves every signature out (no malleability); ``wtxid`` covers the
whole encoding and is what the merkle root commits to.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import msgpack

from .hashing import ZERO_HASH, hash_to_hex, sha256d

U32 = 0xFFFF_FFFF
U64 = 0xFFFF_FFFF_FFFF_FFFF
LOCK_SIZE = 21
# A policy lock (kind 0x03) is 0x03 || sha256(policy): the first byte of a lock fixes its
# length, 33 bytes for this kind and 21 for every other.
POLICY_LOCK_KIND = 0x03
POLICY_LOCK_SIZE = 33
# A policy spend carries the policy in the pubkey field and its satisfaction in the sig
# field, each up to 3,600 bytes; key spends keep 32/33-byte keys and 64/65-byte sigs.
MAX_PUBKEY_SIZE = 3600
MAX_SIG_SIZE = 3600
MAX_COINBASE_SIG_SIZE = 100
COINBASE_INDEX = U32
HEADER_SIZE = 80
_HEADER = struct.Struct("<I32s32sIII")

_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def _u32(name: str, v: object) -> None:
    if type(v) is not int or not 0 <= v <= U32:
        raise ValueError(f"{name} must be an unsigned 32-bit integer")


def _bin(name: str, v: object, size: int | None = None, max_size: int | None = None) -> None:
    if type(v) is not bytes:
        raise ValueError(f"{name} must be bytes")
    if size is not None and len(v) != size:
        raise ValueError(f"{name} must be {size} bytes")
    if max_size is not None and len(v) > max_size:
        raise ValueError(f"{name} must be at most {max_size} bytes")


def lock_size_ok(lock: bytes) -> bool:
    """Whether ``lock`` has the length its first byte fixes."""
    n = len(lock)
    if n == LOCK_SIZE:
        return lock[0] != POLICY_LOCK_KIND
    return n == POLICY_LOCK_SIZE and lock[0] == POLICY_LOCK_KIND


def outpoint_key(txid: bytes, index: int) -> bytes:
    """The 36-byte key of a coin: txid || u32le(index)."""
    return txid + index.to_bytes(4, "little")


NULL_OUTPOINT_KEY = outpoint_key(ZERO_HASH, COINBASE_INDEX)


@dataclass(frozen=True, slots=True)
class OutPoint:
    txid: bytes
    index: int

    def __post_init__(self) -> None:
        _bin("txid", self.txid, 32)
        _u32("index", self.index)

    @property
    def key(self) -> bytes:
        return outpoint_key(self.txid, self.index)

    @classmethod
    def from_key(cls, key: bytes) -> OutPoint:
        return cls(key[:32], int.from_bytes(key[32:36], "little"))

    def __str__(self) -> str:
        return f"{hash_to_hex(self.txid)}:{self.index}"


@dataclass(frozen=True, slots=True)
class TxIn:
    prev_txid: bytes
    prev_index: int
    pubkey: bytes
    sig: bytes
    # The key of the coin spent, computed once: validation, the coin view, the mempool and
    # the indexes each look it up, several times per input of every block.
    outpoint_key: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _bin("prev_txid", self.prev_txid, 32)
        _u32("prev_index", self.prev_index)
        _bin("pubkey", self.pubkey, max_size=MAX_PUBKEY_SIZE)
        _bin("sig", self.sig, max_size=MAX_SIG_SIZE)
        object.__setattr__(self, "outpoint_key", outpoint_key(self.prev_txid, self.prev_index))

    @property
    def is_null(self) -> bool:
        return self.outpoint_key == NULL_OUTPOINT_KEY


@dataclass(frozen=True, slots=True)
class TxOut:
    value: int
    lock: bytes

    def __post_init__(self) -> None:
        if type(self.value) is not int or not 0 <= self.value <= U64:
            raise ValueError("value must be an unsigned 64-bit integer")
        if type(self.lock) is not bytes or not lock_size_ok(self.lock):
            raise ValueError("lock must be 21 bytes, or 33 bytes starting with 0x03")


@dataclass(frozen=True, slots=True)
class Tx:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int
    _raw: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _txid: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _wtxid: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _u32("version", self.version)
        _u32("locktime", self.locktime)
        if type(self.inputs) is not tuple or type(self.outputs) is not tuple:
            raise ValueError("inputs and outputs must be tuples")
        for i in self.inputs:
            if type(i) is not TxIn:
                raise ValueError("inputs must be TxIn")
        for o in self.outputs:
            if type(o) is not TxOut:
                raise ValueError("outputs must be TxOut")

    def to_obj(self, with_sigs: bool = True) -> list:
        return [
            self.version,
            [
                [i.prev_txid, i.prev_index, i.pubkey, i.sig if with_sigs else b""]
                for i in self.inputs
            ],
            [[o.value, o.lock] for o in self.outputs],
            self.locktime,
        ]

    def serialize(self) -> bytes:
        raw = self._raw
        if raw is None:
            raw = _pack(self.to_obj())
            object.__setattr__(self, "_raw", raw)
        return raw

    @property
    def txid(self) -> bytes:
        h = self._txid
        if h is None:
            h = sha256d(_pack(self.to_obj(with_sigs=False)))
            object.__setattr__(self, "_txid", h)
        return h

    @property
    def wtxid(self) -> bytes:
        h = self._wtxid
        if h is None:
            h = sha256d(self.serialize())
            object.__setattr__(self, "_wtxid", h)
        return h

    @property
    def size(self) -> int:
        return len(self.serialize())

    @property
    def is_coinbase(self) -> bool:
        inputs = self.inputs
        return len(inputs) == 1 and inputs[0].outpoint_key == NULL_OUTPOINT_KEY

    @property
    def txid_hex(self) -> str:
        return hash_to_hex(self.txid)


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    prev_hash: bytes
    merkle_root: bytes
    time: int
    bits: int
    nonce: int
    _hash: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _u32("version", self.version)
        _bin("prev_hash", self.prev_hash, 32)
        _bin("merkle_root", self.merkle_root, 32)
        _u32("time", self.time)
        _u32("bits", self.bits)
        _u32("nonce", self.nonce)

    def serialize(self) -> bytes:
        return _HEADER.pack(
            self.version, self.prev_hash, self.merkle_root, self.time, self.bits, self.nonce
        )

    @classmethod
    def deserialize(cls, data: bytes) -> BlockHeader:
        if len(data) != HEADER_SIZE:
            raise ValueError("a block header is 80 bytes")
        header = cls(*_HEADER.unpack(data))
        return header

    @property
    def hash(self) -> bytes:
        h = self._hash
        if h is None:
            h = sha256d(self.serialize())
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def hash_hex(self) -> str:
        return hash_to_hex(self.hash)


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[Tx, ...]
    _raw: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.header) is not BlockHeader:
            raise ValueError("header must be a BlockHeader")
        if type(self.txs) is not tuple:
            raise ValueError("txs must be a tuple")
        for tx in self.txs:
            if type(tx) is not Tx:
                raise ValueError("txs must be Tx")

    def serialize(self) -> bytes:
        raw = self._raw
        if raw is None:
            raw = _pack_block(self.header.serialize(), [tx.serialize() for tx in self.txs])
            object.__setattr__(self, "_raw", raw)
        return raw

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def hash_hex(self) -> str:
        return self.header.hash_hex

    @property
    def size(self) -> int:
        return len(self.serialize())


# Constructors without validation, for the decoder only: it checks every field of a whole
# block in one pass (and falls back to the validating constructors to word an error). A
# frozen dataclass's __init__ and __post_init__ cost three to four times what setting its
# slots does, and a block holds thousands of inputs and outputs.
_new = object.__new__
_TXIN_SLOTS = tuple(
    getattr(TxIn, n).__set__ for n in ("prev_txid", "prev_index", "pubkey", "sig", "outpoint_key")
)
_TXOUT_SLOTS = tuple(getattr(TxOut, n).__set__ for n in ("value", "lock"))
_TX_SLOTS = tuple(
    getattr(Tx, n).__set__
    for n in ("version", "inputs", "outputs", "locktime", "_raw", "_txid", "_wtxid")
)


def trusted_txin(prev_txid: bytes, prev_index: int, pubkey: bytes, sig: bytes) -> TxIn:
    """A TxIn from fields the caller has already validated as ``TxIn.__post_init__`` would."""
    obj = _new(TxIn)
    a, b, c, d, e = _TXIN_SLOTS
    a(obj, prev_txid)
    b(obj, prev_index)
    c(obj, pubkey)
    d(obj, sig)
    e(obj, prev_txid + prev_index.to_bytes(4, "little"))
    return obj


def trusted_txout(value: int, lock: bytes) -> TxOut:
    """A TxOut from fields the caller has already validated."""
    obj = _new(TxOut)
    a, b = _TXOUT_SLOTS
    a(obj, value)
    b(obj, lock)
    return obj


def trusted_tx(
    version: int,
    inputs: tuple[TxIn, ...],
    outputs: tuple[TxOut, ...],
    locktime: int,
    raw: bytes,
    txid: bytes,
    wtxid: bytes,
) -> Tx:
    """A Tx from validated fields, with its encoding and both hashes already known."""
    obj = _new(Tx)
    s_version, s_inputs, s_outputs, s_locktime, s_raw, s_txid, s_wtxid = _TX_SLOTS
    s_version(obj, version)
    s_inputs(obj, inputs)
    s_outputs(obj, outputs)
    s_locktime(obj, locktime)
    s_raw(obj, raw)
    s_txid(obj, txid)
    s_wtxid(obj, wtxid)
    return obj


def _array_header(n: int) -> bytes:
    if n <= 15:
        return bytes((0x90 | n,))
    if n <= 0xFFFF:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _pack_block(header: bytes, tx_raws: list[bytes]) -> bytes:
    """[header: bin80, [Tx...]] assembled from already-encoded txs (no re-encoding)."""
    return b"".join((b"\x92\xc4\x50", header, _array_header(len(tx_raws)), *tx_raws))


def set_cached_raw(obj: Tx | Block, raw: bytes) -> None:
    """Used by the decoder: remember the exact bytes an object was decoded from."""
    object.__setattr__(obj, "_raw", raw)
