"""Hash functions of the protocol and their human (reversed hex) form."""

from __future__ import annotations

import hashlib

ZERO_HASH = bytes(32)
_HEX = frozenset("0123456789abcdefABCDEF")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def hash160(data: bytes) -> bytes:
    """blake2b with a 20-byte digest: the hash a lock commits to."""
    return hashlib.blake2b(data, digest_size=20).digest()


def hash_to_hex(h: bytes) -> str:
    """A hash as people and JSON see it: hex of the bytes reversed, as Bitcoin shows them."""
    return h[::-1].hex()


def hex_to_hash(text: str) -> bytes:
    """Inverse of ``hash_to_hex``; raises ValueError unless given 64 hex digits."""
    if not isinstance(text, str) or len(text) != 64 or not all(c in _HEX for c in text):
        raise ValueError("a hash is 64 hex digits")
    return bytes.fromhex(text)[::-1]
