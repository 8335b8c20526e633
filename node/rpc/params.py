"""Checking RPC arguments the way Bitcoin Core does: exact types, -3 or -8 with a reason."""

from __future__ import annotations

from typing import Any

from consensus.address import AddressError, decode_address
from consensus.hashing import hex_to_hash
from consensus.params import NetworkParams

from .errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_TYPE_ERROR,
    RpcError,
)

_JSON_TYPE = {
    bool: "bool",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _type_error(value: Any, expected: str) -> RpcError:
    got = _JSON_TYPE.get(type(value), "number")
    return RpcError(RPC_TYPE_ERROR, f"JSON value of type {got} is not of expected type {expected}")


def as_int(
    value: Any, name: str = "", minimum: int | None = None, maximum: int | None = None
) -> int:
    if type(value) is not int:
        raise _type_error(value, "number")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise RpcError(RPC_INVALID_PARAMETER, f"{name or 'value'} out of range")
    return value


def as_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _type_error(value, "bool")
    return value


def as_str(value: Any) -> str:
    if type(value) is not str:
        raise _type_error(value, "string")
    return value


def as_list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise _type_error(value, "array")
    return value


def as_hash(value: Any, name: str) -> bytes:
    text = as_str(value)
    if len(text) != 64:
        raise RpcError(
            RPC_INVALID_PARAMETER, f"{name} must be of length 64 (not {len(text)}, for '{text}')"
        )
    try:
        return hex_to_hash(text)
    except ValueError as exc:
        raise RpcError(
            RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{text}')"
        ) from exc


def as_hex(value: Any, what: str = "hex string") -> bytes:
    text = as_str(value)
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise RpcError(RPC_DESERIALIZATION_ERROR, f"{what} decode failed") from exc


def as_address(value: Any, params: NetworkParams) -> bytes:
    text = as_str(value)
    try:
        return decode_address(text, params)
    except AddressError as exc:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Invalid address: {exc}") from exc


def parse_verbosity(value: Any, default: int) -> int:
    """Core accepts a bool or an int for getblock's and getrawtransaction's verbosity."""
    if value is None:
        return default
    if type(value) is bool:
        return int(value)
    return as_int(value, "verbosity")
