"""The wire: one frozen class per message, each with its command and payload cap, one registry.

A frame is one binary WebSocket message holding the MessagePack array
``[magic: bin4, command: str, payload: array]``; the payload is the message's fields in a
fixed order (blocks and txs inside as their canonical encodings, as ``bin``).

Decoding is split in two so that junk costs almost nothing to refuse:

1. ``read_envelope`` looks only at the fixed-shape prefix (array of 3, bin of 4, a short
   lowercase string): the magic and the command come out without unpacking the payload, so
   a frame of the wrong network, or a payload above its message's cap, is refused before
   any object is built. The command is only ever a key into ``MESSAGES``: no class is made
   from a name a peer sent.
2. ``decode_payload`` unpacks with bounds, requires the payload to be its own canonical
   encoding (so the whole frame is), and builds the message: exact arity and types, counts
   within Bitcoin Core's limits (2,000 headers, 50,000 inventory items, 101 locator hashes,
   1,000 addresses), blocks and txs through the consensus decoder.

Any failure is a ``consensus.errors.DecodeError``; the peer layer treats it as misbehaviour.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import msgpack

from consensus.encoding import MAX_BLOCK_BYTES, MAX_TX_BYTES, decode_block, decode_tx
from consensus.errors import DecodeError, RejectCode
from consensus.primitives import HEADER_SIZE, Block, BlockHeader, Tx

PROTOCOL_VERSION = 1
MIN_PROTOCOL_VERSION = 1

# A block message is the block's encoding plus a few bytes of envelope: one frame holds the
# largest valid block, and nothing much larger is ever read.
MAX_FRAME_SIZE = MAX_BLOCK_BYTES + 4096

MAX_HEADERS = 2000  # Core's MAX_HEADERS_RESULTS
MAX_INV = 50_000  # Core's MAX_INV_SZ
MAX_LOCATOR = 101  # Core's MAX_LOCATOR_SZ
MAX_ADDR = 1000  # Core's MAX_ADDR_TO_SEND
MAX_USER_AGENT = 256  # Core's MAX_SUBVERSION_LENGTH
MAX_NETWORK_NAME = 16
MAX_HOST = 45  # the longest textual IPv6 address

INV_TX = 1  # Core's MSG_TX
INV_BLOCK = 2  # Core's MSG_BLOCK
INV_TYPES = frozenset({INV_TX, INV_BLOCK})

U16 = 0xFFFF
U32 = 0xFFFF_FFFF
U64 = 0xFFFF_FFFF_FFFF_FFFF

_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
_COMMAND = re.compile(rb"[a-z]{1,12}")
_PREFIX = b"\x93\xc4\x04"  # array of 3, then bin of length 4: the magic


# --- field checks: ValueError here becomes a DecodeError at the edge -----------------------


def _uint(name: str, value: object, maximum: int) -> None:
    if type(value) is not int or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an unsigned integer up to {maximum}")


def _bin(name: str, value: object, size: int) -> None:
    if type(value) is not bytes or len(value) != size:
        raise ValueError(f"{name} must be {size} bytes")


def _text(name: str, value: object, max_len: int) -> None:
    if type(value) is not str or len(value) > max_len:
        raise ValueError(f"{name} must be a string of at most {max_len} characters")
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"{name} must be printable ASCII")


def _seq(name: str, value: object, max_len: int) -> None:
    if type(value) is not tuple or len(value) > max_len:
        raise ValueError(f"{name} must be a tuple of at most {max_len} items")


def _fields(obj: object, arity: int, what: str) -> list[Any]:
    if type(obj) is not list or len(obj) != arity:
        raise ValueError(f"{what}: expected an array of {arity} fields")
    return obj


def _list(obj: object, what: str) -> list[Any]:
    if type(obj) is not list:
        raise ValueError(f"{what}: expected an array")
    return obj


# --- items inside messages ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvItem:
    """One inventory entry: what kind (tx or block) and its hash (txid or block hash)."""

    type: int
    hash: bytes

    def __post_init__(self) -> None:
        if type(self.type) is not int or self.type not in INV_TYPES:
            raise ValueError("inventory type must be 1 (tx) or 2 (block)")
        _bin("inventory hash", self.hash, 32)

    def to_obj(self) -> list[Any]:
        return [self.type, self.hash]

    @classmethod
    def from_obj(cls, obj: object) -> InvItem:
        return cls(*_fields(obj, 2, "inventory item"))


@dataclass(frozen=True, slots=True)
class NetAddress:
    """A peer address for gossip: an IP literal in its canonical text form, never a host
    name (a peer must not make us resolve names), with a port and when it was last seen."""

    time: int
    host: str
    port: int

    def __post_init__(self) -> None:
        _uint("address time", self.time, U32)
        _text("address host", self.host, MAX_HOST)
        try:
            canonical = str(ipaddress.ip_address(self.host))
        except ValueError as exc:
            raise ValueError("address host must be an IP address") from exc
        if canonical != self.host:
            raise ValueError("address host must be in canonical form")
        _uint("address port", self.port, U16)
        if self.port == 0:
            raise ValueError("address port cannot be 0")

    def to_obj(self) -> list[Any]:
        return [self.time, self.host, self.port]

    @classmethod
    def from_obj(cls, obj: object) -> NetAddress:
        return cls(*_fields(obj, 3, "address"))


# --- messages ----------------------------------------------------------------------------


class Message:
    """Base of every wire message: ``command`` names it on the wire, ``max_payload`` caps
    the bytes of its payload, ``solicited`` marks data a peer may only send on request."""

    __slots__ = ()
    command: ClassVar[str]
    max_payload: ClassVar[int]
    solicited: ClassVar[bool] = False

    def to_fields(self) -> list[Any]:
        raise NotImplementedError

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Version(Message):
    """The first message each side sends: who we are and what we have.
    ``node_id`` is the sender's Ed25519 public key; ``verack`` proves it holds the key."""

    command: ClassVar[str] = "version"
    max_payload: ClassVar[int] = 1024

    protocol_version: int
    network: str
    node_id: bytes
    nonce: int
    best_height: int
    best_hash: bytes
    user_agent: str
    listen_port: int  # 0: the sender accepts no connections
    time: int

    def __post_init__(self) -> None:
        _uint("protocol version", self.protocol_version, U32)
        _text("network", self.network, MAX_NETWORK_NAME)
        _bin("node id", self.node_id, 32)
        _uint("nonce", self.nonce, U64)
        _uint("best height", self.best_height, U32)
        _bin("best hash", self.best_hash, 32)
        _text("user agent", self.user_agent, MAX_USER_AGENT)
        _uint("listen port", self.listen_port, U16)
        _uint("time", self.time, U64)

    def to_fields(self) -> list[Any]:
        return [
            self.protocol_version,
            self.network,
            self.node_id,
            self.nonce,
            self.best_height,
            self.best_hash,
            self.user_agent,
            self.listen_port,
            self.time,
        ]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        return cls(*_fields(fields, 9, "version"))


@dataclass(frozen=True, slots=True)
class Verack(Message):
    """Accepts the peer's version. The signature (by our node key, over the peer's nonce,
    see ``identity``) proves we own the node id we claimed, so nobody can take another
    node's id to get it banned or to shut it out as a duplicate."""

    command: ClassVar[str] = "verack"
    max_payload: ClassVar[int] = 80

    signature: bytes

    def __post_init__(self) -> None:
        _bin("signature", self.signature, 64)

    def to_fields(self) -> list[Any]:
        return [self.signature]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        return cls(*_fields(fields, 1, "verack"))


class _NonceMessage(Message):
    """ping and pong share one shape: a 64-bit nonce (the pong echoes the ping's)."""

    __slots__ = ()
    max_payload: ClassVar[int] = 16
    nonce: int

    def __post_init__(self) -> None:
        _uint("nonce", self.nonce, U64)

    def to_fields(self) -> list[Any]:
        return [self.nonce]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        return cls(*_fields(fields, 1, cls.command))


@dataclass(frozen=True, slots=True)
class Ping(_NonceMessage):
    command: ClassVar[str] = "ping"
    nonce: int


@dataclass(frozen=True, slots=True)
class Pong(_NonceMessage):
    command: ClassVar[str] = "pong"
    nonce: int


@dataclass(frozen=True, slots=True)
class GetAddr(Message):
    command: ClassVar[str] = "getaddr"
    max_payload: ClassVar[int] = 8

    def to_fields(self) -> list[Any]:
        return []

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        _fields(fields, 0, "getaddr")
        return cls()


@dataclass(frozen=True, slots=True)
class Addr(Message):
    command: ClassVar[str] = "addr"
    max_payload: ClassVar[int] = 8 + MAX_ADDR * 64

    addresses: tuple[NetAddress, ...]

    def __post_init__(self) -> None:
        _seq("addresses", self.addresses, MAX_ADDR)
        for a in self.addresses:
            if type(a) is not NetAddress:
                raise ValueError("addresses must be NetAddress")

    def to_fields(self) -> list[Any]:
        return [[a.to_obj() for a in self.addresses]]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        (items,) = _fields(fields, 1, "addr")
        return cls(tuple(NetAddress.from_obj(a) for a in _list(items, "addresses")))


class _InvLike(Message):
    """inv, getdata and notfound share one shape: a list of inventory items."""

    __slots__ = ()
    max_payload: ClassVar[int] = MAX_FRAME_SIZE
    items: tuple[InvItem, ...]

    if TYPE_CHECKING:
        # Each subclass is a dataclass whose one field is ``items``.
        def __init__(self, items: tuple[InvItem, ...]) -> None: ...

    def _check_items(self) -> None:
        _seq("inventory", self.items, MAX_INV)
        for item in self.items:
            if type(item) is not InvItem:
                raise ValueError("inventory must hold InvItem")

    def to_fields(self) -> list[Any]:
        return [[i.to_obj() for i in self.items]]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        (items,) = _fields(fields, 1, cls.command)
        return cls(tuple(InvItem.from_obj(i) for i in _list(items, "inventory")))

    def hashes(self, kind: int) -> list[bytes]:
        return [i.hash for i in self.items if i.type == kind]


@dataclass(frozen=True, slots=True)
class Inv(_InvLike):
    """Announces txs (batched, see ``relay``); blocks are announced with ``headers``."""

    command: ClassVar[str] = "inv"
    items: tuple[InvItem, ...]

    def __post_init__(self) -> None:
        self._check_items()


@dataclass(frozen=True, slots=True)
class GetData(_InvLike):
    command: ClassVar[str] = "getdata"
    items: tuple[InvItem, ...]

    def __post_init__(self) -> None:
        self._check_items()


@dataclass(frozen=True, slots=True)
class NotFound(_InvLike):
    command: ClassVar[str] = "notfound"
    items: tuple[InvItem, ...]

    def __post_init__(self) -> None:
        self._check_items()


@dataclass(frozen=True, slots=True)
class TxMsg(Message):
    command: ClassVar[str] = "tx"
    max_payload: ClassVar[int] = MAX_TX_BYTES + 8
    solicited: ClassVar[bool] = True

    tx: Tx

    def __post_init__(self) -> None:
        if type(self.tx) is not Tx:
            raise ValueError("tx must be a Tx")

    def to_fields(self) -> list[Any]:
        return [self.tx.serialize()]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        (raw,) = _fields(fields, 1, "tx message")
        if type(raw) is not bytes:
            raise ValueError("tx message: the tx must be bin")
        return cls(decode_tx(raw))


@dataclass(frozen=True, slots=True)
class BlockMsg(Message):
    command: ClassVar[str] = "block"
    max_payload: ClassVar[int] = MAX_FRAME_SIZE
    solicited: ClassVar[bool] = True

    block: Block

    def __post_init__(self) -> None:
        if type(self.block) is not Block:
            raise ValueError("block must be a Block")

    def to_fields(self) -> list[Any]:
        return [self.block.serialize()]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        (raw,) = _fields(fields, 1, "block message")
        if type(raw) is not bytes:
            raise ValueError("block message: the block must be bin")
        return cls(decode_block(raw))


@dataclass(frozen=True, slots=True)
class GetHeaders(Message):
    """Asks for up to 2,000 headers after the first locator hash the peer has on its best
    chain, stopping early at ``stop`` (32 zero bytes: no stop)."""

    command: ClassVar[str] = "getheaders"
    max_payload: ClassVar[int] = 8 + (MAX_LOCATOR + 1) * 34

    locator: tuple[bytes, ...]
    stop: bytes

    def __post_init__(self) -> None:
        _seq("locator", self.locator, MAX_LOCATOR)
        for h in self.locator:
            _bin("locator hash", h, 32)
        _bin("stop hash", self.stop, 32)

    def to_fields(self) -> list[Any]:
        return [list(self.locator), self.stop]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        locator, stop = _fields(fields, 2, "getheaders")
        return cls(tuple(_list(locator, "locator")), stop)


@dataclass(frozen=True, slots=True)
class Headers(Message):
    """Up to 2,000 consecutive 80-byte headers: a reply to getheaders, or an announcement
    of new blocks."""

    command: ClassVar[str] = "headers"
    max_payload: ClassVar[int] = 1 + 3 + MAX_HEADERS * (2 + HEADER_SIZE)

    headers: tuple[BlockHeader, ...]

    def __post_init__(self) -> None:
        _seq("headers", self.headers, MAX_HEADERS)
        for h in self.headers:
            if type(h) is not BlockHeader:
                raise ValueError("headers must be BlockHeader")

    def to_fields(self) -> list[Any]:
        return [[h.serialize() for h in self.headers]]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        (items,) = _fields(fields, 1, "headers")
        headers = []
        for raw in _list(items, "headers"):
            _bin("header", raw, HEADER_SIZE)
            headers.append(BlockHeader.deserialize(raw))
        return cls(tuple(headers))


MESSAGES: dict[str, type[Message]] = {
    cls.command: cls
    for cls in (
        Version,
        Verack,
        Ping,
        Pong,
        GetAddr,
        Addr,
        Inv,
        GetData,
        NotFound,
        TxMsg,
        BlockMsg,
        GetHeaders,
        Headers,
    )
}


# --- frames ------------------------------------------------------------------------------


def encode_frame(magic: bytes, msg: Message) -> bytes:
    """The one canonical frame of ``msg`` on the network of ``magic``."""
    return _frame(magic, msg.command, msg.to_fields())


def block_frame(magic: bytes, raw_block: bytes) -> bytes:
    """``encode_frame(magic, BlockMsg(decode_block(raw_block)))`` for a block kept in its
    encoding (as the database keeps it), without decoding and re-encoding it: serving a
    block costs a copy, not a decode."""
    return _frame(magic, BlockMsg.command, [raw_block])


def _frame(magic: bytes, command: str, fields: list[Any]) -> bytes:
    name = command.encode()
    return b"".join((_PREFIX, magic, bytes((0xA0 | len(name),)), name, _pack(fields)))


@dataclass(frozen=True, slots=True)
class Envelope:
    """A frame's prefix, read without touching the payload."""

    magic: bytes
    command: str
    kind: type[Message] | None  # None: a command this node does not know (ignored, as Core)
    payload: bytes


def read_envelope(frame: bytes) -> Envelope:
    """Split a frame into magic, command and payload bytes; DecodeError if the prefix is
    not the canonical shape. Cost is constant whatever the frame's size."""
    if type(frame) is not bytes or len(frame) < 9 or frame[:3] != _PREFIX:
        raise DecodeError("frame: not a [magic, command, payload] array")
    magic = frame[3:7]
    head = frame[7]
    if head & 0xE0 != 0xA0:
        raise DecodeError("frame: the command must be a short string")
    end = 8 + (head & 0x1F)
    command = frame[8:end]
    if _COMMAND.fullmatch(command) is None:
        raise DecodeError("frame: the command must be 1 to 12 lowercase letters")
    name = command.decode()
    return Envelope(magic, name, MESSAGES.get(name), frame[end:])


def decode_payload(kind: type[Message], payload: bytes) -> Message:
    """Strictly decode ``payload`` as a ``kind`` message (see the module docstring)."""
    size = len(payload)
    if size > kind.max_payload:
        raise DecodeError(
            f"{kind.command}: payload of {size} bytes is above its cap of {kind.max_payload}",
            RejectCode.DECODE_OVERSIZE,
        )
    try:
        obj = msgpack.unpackb(
            payload,
            raw=False,
            use_list=True,
            max_bin_len=size,
            max_str_len=size,
            max_array_len=min(size, MAX_INV),
            max_map_len=0,
            max_ext_len=0,
        )
    except msgpack.ExtraData as exc:
        raise DecodeError(f"{kind.command}: trailing bytes after the payload") from exc
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        raise DecodeError(f"{kind.command}: not valid MessagePack ({exc})") from exc
    if type(obj) is not list:
        raise DecodeError(f"{kind.command}: the payload must be an array")
    if _pack(obj) != payload:
        raise DecodeError(
            f"{kind.command}: payload is not in its canonical encoding",
            RejectCode.DECODE_NONCANONICAL,
        )
    try:
        return kind.from_fields(obj)
    except DecodeError:
        raise
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"{kind.command}: {exc}") from exc


def decode_frame(frame: bytes, magic: bytes) -> Message | None:
    """Both steps at once, for tests and tools: the message, or None for an unknown command."""
    env = read_envelope(frame)
    if env.magic != magic:
        raise DecodeError("frame: wrong network magic")
    if env.kind is None:
        return None
    return decode_payload(env.kind, env.payload)
