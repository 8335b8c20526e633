"""JSON for the RPC, with amounts that never pass through binary floats.

Bitcoin Core writes amounts as JSON numbers with exactly eight decimals (``50.00000000``) and
reads them back exactly; clients (python-bitcoinrpc, bitcoin-cli) parse them as decimals. A
float would turn 0.1 OBOL into 0.1000000000000000055..., so amounts travel as integer base
units wrapped in ``Amount`` and are formatted by integer arithmetic. Requests are parsed with
``parse_float=Decimal`` for the same reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any

from consensus.params import COIN, MAX_MONEY
from node.rpc.errors import RPC_TYPE_ERROR, RpcError

__all__ = ["Amount", "dumps", "format_amount", "loads", "parse_amount"]


class Amount(int):
    """An amount in base units (1 OBOL = 10**8) that ``dumps`` writes as e.g. ``12.50000000``.

    Arithmetic on it returns a plain ``int``; wrap the final value when building a result.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Amount({int(self)})"


def format_amount(units: int) -> str:
    """Base units as a decimal OBOL string with exactly eight decimals, by integer arithmetic."""
    whole, frac = divmod(abs(units), COIN)
    return f"{'-' if units < 0 else ''}{whole}.{frac:08d}"


def dumps(obj: Any) -> bytes:
    """Compact JSON (no spaces), ASCII-only so any str (even a lone surrogate) encodes.

    Accepts dict (str keys), list, tuple, str, int, bool, None, Amount, Decimal and finite
    floats; anything else raises TypeError, so a bytes or object result is a bug caught here
    rather than a silently stringified value.
    """
    kind = type(obj)
    if kind is int:  # the commonest results (heights, counts) skip the general walk
        return int.__repr__(obj).encode("ascii")
    if kind is str:
        return encode_basestring_ascii(obj).encode("ascii")
    parts: list[str] = []
    _write(obj, parts.append)
    return "".join(parts).encode("ascii")


def _write(obj: Any, out: Callable[[str], object]) -> None:
    kind = type(obj)  # exact types first: most values are plain str, int, dict, list
    if kind is str:
        out(encode_basestring_ascii(obj))
    elif kind is int:
        out(int.__repr__(obj))
    elif obj is None:
        out("null")
    elif obj is True:
        out("true")
    elif obj is False:
        out("false")
    elif isinstance(obj, str):
        out(encode_basestring_ascii(obj))
    elif isinstance(obj, Amount):
        out(format_amount(obj))
    elif isinstance(obj, int):
        out(int.__repr__(obj))  # not repr(): an IntEnum would print its name
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"cannot write {obj} as JSON")
        out(format(obj, "f"))
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"cannot write {obj} as JSON")
        out(float.__repr__(obj))
    elif isinstance(obj, dict):
        out("{")
        for i, (key, value) in enumerate(obj.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            out("," if i else "")
            out(encode_basestring_ascii(key))
            out(":")
            _write(value, out)
        out("}")
    elif isinstance(obj, list | tuple):
        out("[")
        for i, value in enumerate(obj):
            out("," if i else "")
            _write(value, out)
        out("]")
    else:
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads with arguments builds a new decoder (and scanner) per call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def loads(data: bytes | str) -> Any:
    """Parse a request: fractions become Decimal; NaN/Infinity (a Python extension) are refused."""
    if isinstance(data, bytes | bytearray):  # as json.loads reads bytes
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    return _DECODER.decode(data)


# JSON number syntax; Core's ParseFixedPoint accepts the same strings (no spaces, "+", "_").
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_MAX_DIGITS = 40  # far beyond any valid amount, small enough to keep the arithmetic cheap


def parse_amount(value: object, *, allow_zero: bool = True) -> int:
    """An RPC amount argument in OBOL (number or numeric string) as exact base units.

        Mirrors Core's AmountFromValue: -3 "Amount is not a number or string" for other types
        (bool included), -3 "Invalid amount" for a malformed string ("Invalid amount: at most 8
    decimals ..." for more than eight decimals),
        -3 "Amount out of range" outside [0, MAX_MONEY]. Zero is in range; methods that send
        money pass ``allow_zero=False`` and get -3 "Invalid amount" for it.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
        raise RpcError(RPC_TYPE_ERROR, "Amount is not a number or string")
    units = value * COIN if isinstance(value, int) else _to_units(_to_decimal(value))
    if not 0 <= units <= MAX_MONEY:
        raise RpcError(RPC_TYPE_ERROR, "Amount out of range")
    if units == 0 and not allow_zero:
        raise RpcError(RPC_TYPE_ERROR, "Invalid amount")
    return units


def _invalid() -> RpcError:
    return RpcError(RPC_TYPE_ERROR, "Invalid amount")


def _too_precise() -> RpcError:
    return RpcError(RPC_TYPE_ERROR, "Invalid amount: at most 8 decimals (1 base unit = 0.00000001)")


def _to_decimal(value: Decimal | str | float) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid()
        return Decimal(repr(value))  # the shortest decimal that round-trips, as JSON shows it
    if len(value) > 100 or not _NUMBER.fullmatch(value):
        raise _invalid()
    return Decimal(value)


def _to_units(amount: Decimal) -> int:
    """Exact conversion from the decimal's digits and exponent; no context, so no rounding."""
    if not amount.is_finite():
        raise _invalid()
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > _MAX_DIGITS:
        raise _invalid()
    coefficient = int("".join(map(str, digits)))
    if coefficient == 0:
        return 0
    shift = exponent + 8  # power of ten from the coefficient to base units
    if shift > _MAX_DIGITS:
        raise RpcError(RPC_TYPE_ERROR, "Amount out of range")
    if shift >= 0:
        units = coefficient * 10**shift
    else:
        if -shift > _MAX_DIGITS:  # coefficient < 10**-shift, so not a whole number of units
            raise _too_precise()
        units, remainder = divmod(coefficient, 10**-shift)
        if remainder:
            raise _too_precise()
    return -units if sign else units
