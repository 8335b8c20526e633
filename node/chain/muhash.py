"""MuHash3072, Bitcoin Core's rolling hash of a set (``src/crypto/muhash.cpp``).

An element becomes a 3072-bit number: SHA-256 of its bytes keys ChaCha20 (zero nonce,
counter 0), whose first 384 bytes of keystream are read little-endian. The set's hash is
the product of its elements modulo the prime 2**3072 - 1103717, kept as a fraction
(added elements multiply the numerator, removed ones the denominator) so that a removal
costs a multiplication, not an inversion; ``digest`` divides once and hashes the 384-byte
little-endian result with SHA-256. The order of additions and removals does not matter,
so a block's changes fold into one running value in the block's own database batch.

ChaCha20 comes from the libsodium that PyNaCl bundles (``crypto_stream_chacha20_ietf``,
not wrapped by PyNaCl's Python API): a pure-Python ChaCha20 costs ~0.2 ms per element, the
C one ~2 µs. gmpy2 does the 3072-bit products. A block's elements are folded in one call
(``insert_all``, ``remove_all``) that reuses one keystream buffer and reduces each product
with the prime's special form (2**3072 = 1103717 modulo it: a shift, a mask and a small
product) instead of a division, keeping the value just above 3072 bits until the last step:
about 3 µs per element where one ``insert`` costs about 4.7 µs.
"""

from __future__ import annotations

import ctypes
import hashlib
from collections.abc import Iterable

import gmpy2
import nacl._sodium

PRIME = gmpy2.mpz(2**3072 - 1103717)
_BYTES = 384
_FOLD = gmpy2.mpz(1103717)  # 2**3072 modulo PRIME
_LOW = gmpy2.mpz(2**3072 - 1)

_sodium = ctypes.CDLL(nacl._sodium.__file__)
_stream = _sodium.crypto_stream_chacha20_ietf
_stream.argtypes = [ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_char_p]
_stream.restype = ctypes.c_int
_NONCE = bytes(12)


def product(items: Iterable[bytes]) -> gmpy2.mpz:
    """The product of the elements standing for ``items``, modulo ``PRIME``."""
    out = ctypes.create_string_buffer(_BYTES)  # one per call: threads never share it
    stream, nonce, sha256, from_bytes = _stream, _NONCE, hashlib.sha256, gmpy2.mpz.from_bytes
    acc = gmpy2.mpz(1)
    for data in items:
        if stream(out, _BYTES, nonce, sha256(data).digest()) != 0:
            raise RuntimeError("libsodium's ChaCha20 failed")
        acc *= from_bytes(out.raw, "little")
        # acc < 2**3073 * 2**3072; acc = high * 2**3072 + low = high * _FOLD + low (mod
        # PRIME), with _FOLD < 2**21: below 2**3095 after one fold, 2**3072 + 2**44 after two
        acc = (acc & _LOW) + (acc >> 3072) * _FOLD
        acc = (acc & _LOW) + (acc >> 3072) * _FOLD
    return acc % PRIME


class MuHash:
    """A set's running hash as numerator / denominator modulo ``PRIME``."""

    __slots__ = ("denominator", "numerator")

    def __init__(self, numerator: int = 1, denominator: int = 1) -> None:
        self.numerator = gmpy2.mpz(numerator)
        self.denominator = gmpy2.mpz(denominator)

    def insert(self, data: bytes) -> None:
        self.insert_all((data,))

    def remove(self, data: bytes) -> None:
        self.remove_all((data,))

    def insert_all(self, items: Iterable[bytes]) -> None:
        self.numerator = self.numerator * product(items) % PRIME

    def remove_all(self, items: Iterable[bytes]) -> None:
        self.denominator = self.denominator * product(items) % PRIME

    def combine(self, other: MuHash) -> None:
        self.numerator = self.numerator * other.numerator % PRIME
        self.denominator = self.denominator * other.denominator % PRIME

    def serialize(self) -> bytes:
        return _num_bytes(self.numerator) + _num_bytes(self.denominator)

    @classmethod
    def deserialize(cls, raw: bytes) -> MuHash:
        if len(raw) != 2 * _BYTES:
            raise ValueError("a MuHash state is 768 bytes")
        from_bytes = gmpy2.mpz.from_bytes
        return cls(from_bytes(raw[:_BYTES], "little"), from_bytes(raw[_BYTES:], "little"))

    def digest(self) -> bytes:
        """SHA-256 of numerator / denominator (Core's ``Finalize``), in byte order; Core
        shows it as a uint256, i.e. these bytes reversed in hex."""
        value = self.numerator * gmpy2.invert(self.denominator, PRIME) % PRIME
        return hashlib.sha256(_num_bytes(value)).digest()


def coin_bytes(key: bytes, value: int, lock: bytes, height: int, coinbase: bool) -> bytes:
    """A coin as the set hash sees it, Core's ``TxOutSer`` with our lock for the script:
    txid || u32le(index) || u32le(height * 2 + coinbase) || i64le(value) || u8(len(lock))
    || lock (``key`` is txid || u32le(index); a lock is at most 33 bytes, so Core's
    CompactSize length is one byte)."""
    code = (height * 2 + int(coinbase)).to_bytes(4, "little")
    return key + code + value.to_bytes(8, "little", signed=True) + bytes([len(lock)]) + lock


def _num_bytes(n: gmpy2.mpz) -> bytes:
    return n.to_bytes(_BYTES, "little")
