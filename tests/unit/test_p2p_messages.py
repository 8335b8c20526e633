"""The wire codec: every message round-trips, the registry is the only way from a command to
a class, and every kind of bad frame is refused with a DecodeError."""

from __future__ import annotations

import msgpack
import pytest

from consensus.builder import genesis_block
from consensus.errors import DecodeError, RejectCode
from consensus.hashing import sha256d
from consensus.params import DEVNET, REGTEST
from p2p.messages import (
    INV_BLOCK,
    INV_TX,
    MAX_ADDR,
    MAX_FRAME_SIZE,
    MAX_HEADERS,
    MAX_INV,
    MAX_LOCATOR,
    MESSAGES,
    Addr,
    BlockMsg,
    GetAddr,
    GetData,
    GetHeaders,
    Headers,
    Inv,
    InvItem,
    Message,
    NetAddress,
    NotFound,
    Ping,
    Pong,
    TxMsg,
    Verack,
    Version,
    block_frame,
    decode_frame,
    decode_payload,
    encode_frame,
    read_envelope,
)
from tests.unit.test_encoding import sample_block, sample_tx

MAGIC = REGTEST.magic
H = sha256d(b"x")


def pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def frame(command: str, payload: object, magic: bytes = MAGIC) -> bytes:
    return pack([magic, command, payload])


def samples() -> list[Message]:
    block = sample_block()
    return [
        Version(1, "regtest", bytes(range(32)), 2**64 - 1, 7, H, "/obol:0.1.0/", 19444, 2**40),
        Verack(bytes(64)),
        Ping(0),
        Pong(2**64 - 1),
        GetAddr(),
        Addr((NetAddress(1, "127.0.0.1", 19444), NetAddress(2**32 - 1, "::1", 1))),
        Inv((InvItem(INV_TX, H), InvItem(INV_BLOCK, H))),
        GetData((InvItem(INV_BLOCK, H),)),
        NotFound(()),
        TxMsg(sample_tx()),
        BlockMsg(block),
        GetHeaders((H, sha256d(b"y")), bytes(32)),
        Headers((block.header, genesis_block(REGTEST).header)),
    ]


def test_registry_has_one_class_per_command() -> None:
    assert set(MESSAGES) == {
        "version",
        "verack",
        "ping",
        "pong",
        "getaddr",
        "addr",
        "inv",
        "getdata",
        "notfound",
        "tx",
        "block",
        "getheaders",
        "headers",
    }
    for command, cls in MESSAGES.items():
        assert cls.command == command
        assert 0 < cls.max_payload <= MAX_FRAME_SIZE
    assert {c.command for c in MESSAGES.values() if c.solicited} == {"tx", "block"}


@pytest.mark.parametrize("msg", samples(), ids=lambda m: m.command)
def test_round_trip(msg: Message) -> None:
    raw = encode_frame(MAGIC, msg)
    assert raw == frame(msg.command, msg.to_fields())  # the frame is plain MessagePack
    assert decode_frame(raw, MAGIC) == msg
    env = read_envelope(raw)
    assert (env.magic, env.command, env.kind) == (MAGIC, msg.command, type(msg))
    assert len(env.payload) <= type(msg).max_payload


def test_unknown_command_is_not_an_error_and_builds_nothing() -> None:
    raw = frame("sendcmpct", [1])
    env = read_envelope(raw)
    assert env.kind is None and env.command == "sendcmpct"
    assert decode_frame(raw, MAGIC) is None
    # Names of Python things are just unknown commands: no class is looked up by name.
    for name in ("message", "block", "tx"):
        assert MESSAGES.get(name.upper()) is None
    assert read_envelope(frame("object", [])).kind is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x93",
        b"garbage that is not msgpack at all",
        pack([MAGIC, "ping"]),  # two elements
        pack([MAGIC, "ping", [1], 0]),  # four elements
        pack({"magic": MAGIC}),
        pack([MAGIC.decode(), "ping", [1]]),  # magic as str
        pack([b"obr", "ping", [1]]),  # 3-byte magic
        pack([MAGIC, b"ping", [1]]),  # command as bin
        pack([MAGIC, "Ping", [1]]),  # not lowercase
        pack([MAGIC, "ping pong", [1]]),
        pack([MAGIC, "", [1]]),
        pack([MAGIC, "a" * 13, [1]]),
    ],
)
def test_bad_envelopes(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        read_envelope(raw)


def test_wrong_magic_is_visible_before_decoding() -> None:
    raw = encode_frame(DEVNET.magic, Ping(1))
    assert read_envelope(raw).magic == DEVNET.magic
    with pytest.raises(DecodeError, match="magic"):
        decode_frame(raw, MAGIC)


@pytest.mark.parametrize(
    ("command", "payload"),
    [
        ("ping", []),  # missing field
        ("ping", [1, 2]),  # extra field
        ("ping", [-1]),
        ("ping", ["1"]),
        ("ping", [True]),
        ("ping", {"nonce": 1}),
        ("ping", 1),
        ("getaddr", [0]),
        ("verack", [bytes(63)]),
        ("version", [1, "regtest", bytes(31), 1, 1, H, "ua", 1, 1]),
        ("version", [1, "regtest", bytes(32), 1, 1, H, "ua\x00", 1, 1]),
        ("version", [1, "regtest", bytes(32), 1, 1, H, "x" * 257, 1, 1]),
        ("version", [1, "regtest", bytes(32), 1, 1, H, "ua", 65536, 1]),
        ("addr", [[[1, "localhost", 80]]]),  # a name, not an IP
        ("addr", [[[1, "127.000.0.1", 80]]]),  # not canonical
        ("addr", [[[1, "127.0.0.1", 0]]]),
        ("addr", [[[1, "127.0.0.1"]]]),
        ("inv", [[[3, H]]]),  # unknown inventory type
        ("inv", [[[1, H[:31]]]]),
        ("inv", [[1, H]]),
        ("getheaders", [[H[:31]], bytes(32)]),
        ("getheaders", [[H], bytes(31)]),
        ("headers", [[bytes(79)]]),
        ("headers", [[bytes(81)]]),
        ("tx", [b"\x00"]),
        ("tx", ["not bin"]),
        ("block", [b"\x92"]),
    ],
)
def test_bad_payloads(command: str, payload: object) -> None:
    with pytest.raises(DecodeError):
        decode_frame(frame(command, payload), MAGIC)


def test_noncanonical_payload() -> None:
    good = encode_frame(MAGIC, Ping(5))
    wide = read_envelope(good).payload.replace(b"\x05", b"\xcc\x05")  # uint8 for a fixint
    with pytest.raises(DecodeError) as exc:
        decode_payload(Ping, wide)
    assert exc.value.code is RejectCode.DECODE_NONCANONICAL


def test_trailing_bytes() -> None:
    with pytest.raises(DecodeError):
        decode_frame(encode_frame(MAGIC, Ping(5)) + b"\x00", MAGIC)


def test_payload_caps_are_checked_before_unpacking() -> None:
    huge = bytes(Ping.max_payload + 1)
    with pytest.raises(DecodeError) as exc:
        decode_payload(Ping, huge)
    assert exc.value.code is RejectCode.DECODE_OVERSIZE


def test_count_limits() -> None:
    header = genesis_block(REGTEST).header.serialize()
    assert decode_frame(frame("headers", [[header] * MAX_HEADERS]), MAGIC) is not None
    with pytest.raises(DecodeError):
        decode_frame(frame("headers", [[header] * (MAX_HEADERS + 1)]), MAGIC)
    with pytest.raises(DecodeError):
        decode_frame(frame("getheaders", [[H] * (MAX_LOCATOR + 1), bytes(32)]), MAGIC)
    with pytest.raises(DecodeError):
        decode_frame(frame("addr", [[[1, "127.0.0.1", 1]] * (MAX_ADDR + 1)]), MAGIC)
    items = [[INV_TX, H]] * (MAX_INV + 1)
    with pytest.raises(DecodeError):
        decode_payload(Inv, pack([items])[: Inv.max_payload])
    with pytest.raises(ValueError):
        Inv(tuple(InvItem(INV_TX, H) for _ in range(MAX_INV + 1)))


def test_constructors_validate() -> None:
    with pytest.raises(ValueError):
        Ping(-1)
    with pytest.raises(ValueError):
        Headers([genesis_block(REGTEST).header])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        NetAddress(0, "::ffff:1.2.3.4x", 1)
    with pytest.raises(ValueError):
        InvItem(0, H)


def test_block_and_tx_go_through_the_consensus_decoder() -> None:
    block = sample_block()
    assert decode_frame(frame("block", [block.serialize()]), MAGIC) == BlockMsg(block)
    raw = sample_tx().serialize()
    assert raw[:2] == b"\x94\x01"
    wide = b"\x94\xcc\x01" + raw[2:]  # version 1 as a uint8: a second encoding of the tx
    with pytest.raises(DecodeError) as exc:
        decode_frame(frame("tx", [wide]), MAGIC)
    assert exc.value.code is RejectCode.DECODE_NONCANONICAL
    with pytest.raises(DecodeError):
        decode_frame(frame("tx", [raw + b"\x00"]), MAGIC)
    header = block.serialize()[:83]
    with pytest.raises(DecodeError):
        decode_frame(frame("block", [header + b"\x91" + wide]), MAGIC)


def test_a_stored_block_is_framed_as_its_block_message() -> None:
    block = sample_block()
    for params in (REGTEST, DEVNET):
        framed = block_frame(params.magic, block.serialize())
        assert framed == encode_frame(params.magic, BlockMsg(block))
        assert decode_frame(framed, params.magic) == BlockMsg(block)
