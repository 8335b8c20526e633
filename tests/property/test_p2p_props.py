"""Hypothesis properties of the wire codec: every message round-trips through its one frame,
and a frame changed anywhere is refused or is itself the one frame of what it decodes to."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.errors import DecodeError
from consensus.params import REGTEST
from p2p.messages import (
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
    decode_frame,
    encode_frame,
)
from tests.property.test_consensus_props import blocks, headers, txs

MAGIC = REGTEST.magic
u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
hash32 = st.binary(min_size=32, max_size=32)
ascii_char = st.characters(min_codepoint=32, max_codepoint=126)
networks = st.text(ascii_char, max_size=16)
user_agents = st.text(ascii_char, max_size=256)
hosts = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
)
addresses = st.builds(NetAddress, u32, hosts, st.integers(1, 2**16 - 1))
inv_items = st.builds(InvItem, st.sampled_from([1, 2]), hash32)
inventory = st.lists(inv_items, max_size=20).map(tuple)

messages = st.one_of(
    st.builds(Version, u32, networks, hash32, u64, u32, hash32, user_agents, u16, u64),
    st.builds(Verack, st.binary(min_size=64, max_size=64)),
    st.builds(Ping, u64),
    st.builds(Pong, u64),
    st.just(GetAddr()),
    st.builds(Addr, st.lists(addresses, max_size=10).map(tuple)),
    st.builds(Inv, inventory),
    st.builds(GetData, inventory),
    st.builds(NotFound, inventory),
    st.builds(TxMsg, txs),
    st.builds(BlockMsg, blocks),
    st.builds(GetHeaders, st.lists(hash32, max_size=12).map(tuple), hash32),
    st.builds(Headers, st.lists(headers, max_size=6).map(tuple)),
)


@given(messages)
@settings(max_examples=300)
def test_message_round_trip(msg: Message) -> None:
    raw = encode_frame(MAGIC, msg)
    decoded = decode_frame(raw, MAGIC)
    assert decoded == msg
    assert type(decoded) is MESSAGES[msg.command]
    assert encode_frame(MAGIC, decoded) == raw


@given(messages, st.data())
@settings(max_examples=300)
def test_mutated_frame_is_rejected_or_canonical(msg: Message, data: st.DataObject) -> None:
    raw = bytearray(encode_frame(MAGIC, msg))
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[pos]))
    mutated = bytes(raw)
    try:
        decoded = decode_frame(mutated, MAGIC)
    except DecodeError:
        return
    if decoded is not None:
        assert encode_frame(MAGIC, decoded) == mutated
