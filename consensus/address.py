"""bech32 / bech32m (BIP-173, BIP-350) and obol addresses.

An obol address is bech32m with the network's hrp, the lock's key type as the witness
version symbol and the 20-byte hash as the program: ``obrt1p...`` for an Ed25519 lock on
regtest, ``obrt1z...`` for secp256k1. A policy lock (kind 0x03) has version symbol 3 and
its 32-byte sha256 as the program: ``obrt1r...``.
"""

from __future__ import annotations

from enum import Enum

from .params import NetworkParams
from .primitives import LOCK_SIZE, POLICY_LOCK_KIND, POLICY_LOCK_SIZE
from .signatures import REGISTRY

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_MAP = {c: i for i, c in enumerate(CHARSET)}
_BECH32M_CONST = 0x2BC830A3
_MAX_LENGTH = 90


class AddressError(ValueError):
    """Not a valid address (of this network)."""


class Encoding(Enum):
    BECH32 = 1
    BECH32M = 2


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _checksum(hrp: str, data: list[int], spec: Encoding) -> list[int]:
    const = 1 if spec is Encoding.BECH32 else _BECH32M_CONST
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def bech32_encode(hrp: str, data: list[int], spec: Encoding) -> str:
    combined = data + _checksum(hrp, data, spec)
    return hrp + "1" + "".join(CHARSET[d] for d in combined)


def bech32_decode(text: str) -> tuple[str, list[int], Encoding]:
    """(hrp, data without checksum, encoding); AddressError on anything invalid."""
    if not isinstance(text, str):
        raise AddressError("an address is a string")
    if any(ord(x) < 33 or ord(x) > 126 for x in text):
        raise AddressError("invalid character in address")
    if text.lower() != text and text.upper() != text:
        raise AddressError("mixed case in address")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text) or len(text) > _MAX_LENGTH:
        raise AddressError("invalid separator position or length")
    hrp = text[:pos]
    try:
        data = [_CHARSET_MAP[x] for x in text[pos + 1 :]]
    except KeyError as exc:
        raise AddressError("invalid bech32 character") from exc
    const = _polymod(_hrp_expand(hrp) + data)
    if const == 1:
        spec = Encoding.BECH32
    elif const == _BECH32M_CONST:
        spec = Encoding.BECH32M
    else:
        raise AddressError("invalid checksum")
    return hrp, data[:-6], spec


def convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    acc = bits = 0
    ret: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value < 0 or value >> frombits:
            raise AddressError("invalid data value")
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        raise AddressError("invalid padding")
    return ret


def decode_segwit(hrp: str, addr: str) -> tuple[int, bytes]:
    """BIP-350 segwit address decoding: (witness version, program)."""
    hrpgot, data, spec = bech32_decode(addr)
    if hrpgot != hrp:
        raise AddressError(f"address is for {hrpgot!r}, not {hrp!r}")
    if not data:
        raise AddressError("empty data")
    version = data[0]
    program = bytes(convertbits(data[1:], 5, 8, False))
    if len(program) < 2 or len(program) > 40:
        raise AddressError("invalid program length")
    if version > 16:
        raise AddressError("invalid witness version")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError("invalid program length for witness version 0")
    if (version == 0) != (spec is Encoding.BECH32):
        raise AddressError("wrong checksum variant for the witness version")
    return version, program


def encode_segwit(hrp: str, witver: int, program: bytes) -> str:
    spec = Encoding.BECH32 if witver == 0 else Encoding.BECH32M
    text = bech32_encode(hrp, [witver, *convertbits(program, 8, 5, True)], spec)
    decode_segwit(hrp, text)
    return text


def encode_address(lock: bytes, params: NetworkParams) -> str:
    policy = len(lock) == POLICY_LOCK_SIZE and lock[0] == POLICY_LOCK_KIND
    if not policy and (len(lock) != LOCK_SIZE or lock[0] not in REGISTRY):
        raise AddressError("not a lock of a known key type")
    return encode_segwit(params.hrp, lock[0], lock[1:])


def decode_address(text: str, params: NetworkParams) -> bytes:
    """The lock an address of this network stands for (21 bytes, 33 for a policy)."""
    version, program = decode_segwit(params.hrp, text)
    if version == POLICY_LOCK_KIND:
        if len(program) != POLICY_LOCK_SIZE - 1:
            raise AddressError("a policy address carries a 32-byte hash")
        return bytes((version,)) + program
    if version not in REGISTRY:
        raise AddressError(f"unknown key type {version}")
    if len(program) != LOCK_SIZE - 1:
        raise AddressError("an obol address carries a 20-byte hash")
    return bytes((version,)) + program
