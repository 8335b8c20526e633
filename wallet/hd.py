"""Hierarchical deterministic keys: SLIP-0010 for Ed25519 and BIP32 for secp256k1.

One BIP39 seed backs every key of a wallet, for both key types:

- Ed25519 (key type 1, the default) follows SLIP-0010: HMAC key ``"ed25519 seed"``, hardened
  children only (Ed25519 scalars are hashes of the private key, so there is no public
  derivation), and the child key is I_L itself.
- secp256k1 (key type 2) follows BIP32: HMAC key ``"Bitcoin seed"``, hardened and normal
  children, child key = I_L + k_par mod n, compressed public keys. An invalid child
  (I_L >= n or a zero key, probability below 2^-127) is skipped for the next index as BIP32
  says, so a derived key's ``index`` can differ from the one asked for.

Only private derivation is implemented: the wallet always holds the seed, and xpub/xprv
serialization is not part of obol.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from ecdsa import SECP256k1
from nacl.signing import SigningKey

HARDENED = 0x8000_0000
MAX_INDEX = 0xFFFF_FFFF

CURVE_ED25519 = "ed25519"
CURVE_SECP256K1 = "secp256k1"
CURVES = (CURVE_ED25519, CURVE_SECP256K1)

# The HMAC keys that make each curve's tree independent of the other's for the same seed.
_SEED_KEYS = {CURVE_ED25519: b"ed25519 seed", CURVE_SECP256K1: b"Bitcoin seed"}

_N = SECP256k1.order
_G = SECP256k1.generator  # carries precomputed multiples; ecdsa uses gmpy2 when installed

# Key types as in the consensus lock (docs/PROTOCOL.md, section 4), and the curve of each.
KEY_TYPE_ED25519 = 1
KEY_TYPE_SECP256K1 = 2
CURVE_BY_KEY_TYPE = {KEY_TYPE_ED25519: CURVE_ED25519, KEY_TYPE_SECP256K1: CURVE_SECP256K1}

# Account roots (coin type 1: a test coin). Ed25519 must harden every level; secp256k1 uses
# the BIP84-style layout whose change/index levels are normal children.
ED25519_ACCOUNT_PATH = "m/44'/1'/0'"
SECP256K1_ACCOUNT_PATH = "m/84'/1'/0'"
EXTERNAL_CHAIN = 0  # receiving addresses
INTERNAL_CHAIN = 1  # change addresses

_SEGMENT = re.compile(r"([0-9]{1,10})(['hH]?)")


def account_path(key_type: int, change: int, index: int) -> str:
    """The derivation path of address ``index`` on the receive (0) or change (1) chain.

    Ed25519: ``m/44'/1'/0'/{change}'/{index}'``; secp256k1: ``m/84'/1'/0'/{change}/{index}``.
    """
    if change not in (EXTERNAL_CHAIN, INTERNAL_CHAIN):
        raise ValueError("change must be 0 (receive) or 1 (change)")
    if not 0 <= index < HARDENED:
        raise ValueError(f"address index must be in [0, {HARDENED - 1}]")
    if key_type == KEY_TYPE_ED25519:
        return f"{ED25519_ACCOUNT_PATH}/{change}'/{index}'"
    if key_type == KEY_TYPE_SECP256K1:
        return f"{SECP256K1_ACCOUNT_PATH}/{change}/{index}"
    raise ValueError(f"unknown key type {key_type}")


@dataclass(frozen=True, slots=True)
class ExtendedKey:
    """A private key with its chain code and position in the tree.

    The private key and chain code are left out of ``repr`` so that a key in a log line or a
    traceback does not leak the wallet.
    """

    curve: str
    private_key: bytes = field(repr=False)
    chain_code: bytes = field(repr=False)
    depth: int
    index: int

    def __post_init__(self) -> None:
        if self.curve not in CURVES:
            raise ValueError(f"unknown curve {self.curve!r}")
        if not isinstance(self.private_key, bytes) or len(self.private_key) != 32:
            raise ValueError("private key must be 32 bytes")
        if not isinstance(self.chain_code, bytes) or len(self.chain_code) != 32:
            raise ValueError("chain code must be 32 bytes")
        if not 0 <= self.depth <= 255:
            raise ValueError("depth must be in [0, 255]")
        if not 0 <= self.index <= MAX_INDEX:
            raise ValueError("index must be a 32-bit unsigned integer")
        if self.curve == CURVE_SECP256K1 and not 0 < int.from_bytes(self.private_key) < _N:
            raise ValueError("secp256k1 private key must be in [1, n-1]")

    @property
    def public_key(self) -> bytes:
        """Ed25519: the 32-byte verify key (SLIP-0010 prints it with a 0x00 prefix).
        secp256k1: the 33-byte compressed point. Computed on each access; cache if hot."""
        if self.curve == CURVE_ED25519:
            return bytes(SigningKey(self.private_key).verify_key)
        return _secp256k1_pubkey(int.from_bytes(self.private_key))


def _secp256k1_pubkey(secret: int) -> bytes:
    point = _G * secret
    x, y = point.x(), point.y()
    return bytes([2 + (y & 1)]) + x.to_bytes(32)


def _hmac_sha512(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha512).digest()


def master_key(seed: bytes, curve: str) -> ExtendedKey:
    """The root of the tree for ``curve`` (BIP32 / SLIP-0010 master key generation).

    For secp256k1 a seed whose I_L is 0 or >= n has no master key (BIP32); that seed is
    rejected with ValueError rather than silently retried, as BIP32 specifies.
    """
    if curve not in CURVES:
        raise ValueError(f"unknown curve {curve!r}")
    if not 16 <= len(seed) <= 64:
        raise ValueError("seed must be 16 to 64 bytes")
    i = _hmac_sha512(_SEED_KEYS[curve], seed)
    il, ir = i[:32], i[32:]
    if curve == CURVE_SECP256K1 and not 0 < int.from_bytes(il) < _N:
        raise ValueError("this seed gives an invalid secp256k1 master key; use another seed")
    return ExtendedKey(curve, il, ir, depth=0, index=0)


def derive_child(key: ExtendedKey, index: int) -> ExtendedKey:
    """Private parent -> private child (CKDpriv). ``index >= HARDENED`` is a hardened child.

    Ed25519 supports hardened children only and raises ValueError otherwise.
    """
    if not 0 <= index <= MAX_INDEX:
        raise ValueError("child index must be a 32-bit unsigned integer")
    if key.depth == 255:
        raise ValueError("cannot derive below depth 255")
    hardened = index >= HARDENED
    if key.curve == CURVE_ED25519:
        if not hardened:
            raise ValueError("Ed25519 (SLIP-0010) supports hardened derivation only")
        i = _hmac_sha512(key.chain_code, b"\x00" + key.private_key + index.to_bytes(4))
        return ExtendedKey(key.curve, i[:32], i[32:], key.depth + 1, index)

    parent = int.from_bytes(key.private_key)
    parent_pub = b"" if hardened else _secp256k1_pubkey(parent)
    while True:
        data = b"\x00" + key.private_key if hardened else parent_pub
        i = _hmac_sha512(key.chain_code, data + index.to_bytes(4))
        il = int.from_bytes(i[:32])
        child = (il + parent) % _N
        if il < _N and child != 0:
            return ExtendedKey(key.curve, child.to_bytes(32), i[32:], key.depth + 1, index)
        # BIP32: "proceed with the next value for i", without crossing into the other kind.
        if index + 1 in (HARDENED, MAX_INDEX + 1):
            raise ValueError("no valid child key left at or after this index")
        index += 1


def parse_path(path: str) -> tuple[int, ...]:
    """``"m/44'/1'/0'/0'/5'"`` -> child indexes; ``'``, ``h`` or ``H`` marks hardened."""
    parts = path.split("/")
    if parts[0] != "m":
        raise ValueError(f"derivation path must start with 'm': {path!r}")
    indexes = []
    for part in parts[1:]:
        match = _SEGMENT.fullmatch(part)
        if match is None or int(match[1]) >= HARDENED:
            raise ValueError(f"bad derivation path segment {part!r} in {path!r}")
        indexes.append(int(match[1]) + (HARDENED if match[2] else 0))
    return tuple(indexes)


def derive_path(seed: bytes, path: str, curve: str) -> ExtendedKey:
    """The key at ``path`` below the master key of ``seed`` for ``curve``.

    This recomputes the whole chain; a wallet deriving many addresses should keep the account
    key (``derive_path(seed, ED25519_ACCOUNT_PATH, ...)``) and call ``derive_child`` from it.
    """
    indexes = parse_path(path)
    key = master_key(seed, curve)
    for index in indexes:
        key = derive_child(key, index)
    return key
