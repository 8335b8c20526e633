"""Fuzz targets, as Bitcoin Core keeps them (src/test/fuzz): one function per decoder that
takes untrusted bytes. Each must either accept its input or reject it with the decoder's
own error; any other exception, or an accepted input that does not re-encode to the same
bytes, is a bug. Coverage-guided runs use atheris (``scripts/fuzz``); the suite replays
the committed corpus and runs each target briefly."""

from __future__ import annotations

from collections.abc import Callable

from consensus.encoding import (
    decode_block,
    decode_coin,
    decode_header,
    decode_tx,
    decode_undo,
    encode_coin,
    encode_undo,
)
from consensus.errors import DecodeError
from consensus.params import REGTEST
from node.rpc.errors import RpcError
from node.rpc.jsonfmt import loads
from node.rpc.server import _Call, _parse_request
from p2p.messages import decode_frame, encode_frame


def tx(data: bytes) -> None:
    try:
        decoded = decode_tx(data)
    except DecodeError:
        return
    assert decoded.serialize() == data


def block(data: bytes) -> None:
    try:
        decoded = decode_block(data)
    except DecodeError:
        return
    assert decoded.serialize() == data


def header(data: bytes) -> None:
    try:
        decoded = decode_header(data)
    except DecodeError:
        return
    assert decoded.serialize() == data


def coin(data: bytes) -> None:
    try:
        decoded = decode_coin(data)
    except DecodeError:
        return
    assert encode_coin(decoded) == data


def undo(data: bytes) -> None:
    try:
        decoded = decode_undo(data)
    except DecodeError:
        return
    assert encode_undo(decoded) == data


def p2p_frame(data: bytes) -> None:
    try:
        message = decode_frame(data, REGTEST.magic)
    except DecodeError:
        return
    if message is not None:
        assert encode_frame(REGTEST.magic, message) == data


def rpc_request(data: bytes) -> None:
    try:
        obj = loads(data)
    except (ValueError, RecursionError):
        return
    for item in obj if isinstance(obj, list) else [obj]:
        try:
            _parse_request(item, _Call())
        except RpcError:
            pass


TARGETS: dict[str, Callable[[bytes], None]] = {
    "tx": tx,
    "block": block,
    "header": header,
    "coin": coin,
    "undo": undo,
    "p2p_frame": p2p_frame,
    "rpc_request": rpc_request,
}
