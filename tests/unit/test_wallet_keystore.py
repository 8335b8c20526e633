"""wallet.keystore: the passphrase-encrypted seed at rest."""

from __future__ import annotations

import msgpack
import nacl.pwhash.argon2id as argon2id
import pytest

from node.rpc.errors import RPC_WALLET_ERROR, RPC_WALLET_PASSPHRASE_INCORRECT, wallet_error_code
from wallet import keystore
from wallet.errors import KeystoreCorrupt, WalletError, WrongPassphrase
from wallet.keystore import FAST_KDF_LIMITS, decrypt_secret, encrypt_secret

SECRET = bytes(range(64))  # stands in for a 64-byte BIP39 seed
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at "moderate" takes ~1 s and 256 MiB; tests use libsodium's minimum."""
    monkeypatch.setattr(keystore, "KDF_LIMITS", FAST_KDF_LIMITS)


@pytest.fixture
def blob() -> bytes:
    return encrypt_secret(SECRET, PASSPHRASE)


def test_round_trip(blob: bytes):
    assert decrypt_secret(blob, PASSPHRASE) == SECRET


def test_blob_layout(blob: bytes):
    fields = msgpack.unpackb(blob, raw=False)
    assert fields[:4] == [1, "argon2id", *FAST_KDF_LIMITS]
    assert isinstance(fields[4], bytes) and len(fields[4]) == 16
    assert isinstance(fields[5], bytes) and len(fields[5]) == 24 + 16 + len(SECRET)


def test_fresh_salt_and_nonce_each_time(blob: bytes):
    again = encrypt_secret(SECRET, PASSPHRASE)
    assert again != blob
    assert msgpack.unpackb(again)[4] != msgpack.unpackb(blob)[4]


def test_secret_never_in_clear(blob: bytes):
    assert SECRET not in blob
    assert SECRET[:16] not in blob
    assert SECRET.hex().encode() not in blob
    assert PASSPHRASE.encode() not in blob


def test_explicit_limits_override_and_are_recorded():
    limits = (argon2id.OPSLIMIT_MIN + 1, argon2id.MEMLIMIT_MIN * 2)
    blob = encrypt_secret(SECRET, PASSPHRASE, limits=limits)
    assert msgpack.unpackb(blob)[2:4] == list(limits)
    assert decrypt_secret(blob, PASSPHRASE) == SECRET


def test_default_limits_are_moderate(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.undo()  # drop the fast_kdf override: real wallets get "moderate"
    assert keystore.KDF_LIMITS == (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE)


@pytest.mark.parametrize(
    "wrong", ["", "correct horse battery stapl", "Correct horse battery staple"]
)
def test_wrong_passphrase(blob: bytes, wrong: str):
    with pytest.raises(WrongPassphrase, match="passphrase entered was incorrect") as info:
        decrypt_secret(blob, wrong)
    assert isinstance(info.value, WalletError)
    assert wallet_error_code(info.value) == RPC_WALLET_PASSPHRASE_INCORRECT


def test_passphrase_unicode_normalized():
    composed, decomposed = "caf\u00e9 cr\u00e8me", "cafe\u0301 cre\u0300me"
    blob = encrypt_secret(SECRET, composed)
    assert decrypt_secret(blob, decomposed) == SECRET


def _with_field(blob: bytes, index: int, value: object) -> bytes:
    fields = msgpack.unpackb(blob, raw=False)
    fields[index] = value
    return msgpack.packb(fields, use_bin_type=True)


def test_every_flipped_bit_in_the_box_fails(blob: bytes):
    box = msgpack.unpackb(blob)[5]
    for position in range(0, len(box) * 8, 37):  # nonce, MAC and ciphertext bits alike
        tampered = bytearray(box)
        tampered[position // 8] ^= 1 << (position % 8)
        with pytest.raises(WrongPassphrase):
            decrypt_secret(_with_field(blob, 5, bytes(tampered)), PASSPHRASE)


def test_changed_salt_or_limits_fail(blob: bytes):
    salt = msgpack.unpackb(blob)[4]
    with pytest.raises(WrongPassphrase):
        decrypt_secret(_with_field(blob, 4, bytes([salt[0] ^ 1]) + salt[1:]), PASSPHRASE)
    with pytest.raises(WrongPassphrase):
        decrypt_secret(_with_field(blob, 2, FAST_KDF_LIMITS[0] + 1), PASSPHRASE)


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, 2),  # unknown version
        (0, True),
        (0, "1"),
        (1, "scrypt"),
        (1, b"argon2id"),
        (2, 0),  # opslimit below libsodium's minimum
        (2, 1_000_000),  # absurd time cost
        (3, 1024),  # memlimit below the minimum
        (3, 1 << 40),  # a terabyte of memory
        (3, "8192"),
        (4, b"\x00" * 15),  # short salt
        (4, "0" * 16),
        (5, b"\x00" * 40),  # nonce + MAC with no ciphertext
        (5, None),
    ],
)
def test_malformed_fields_are_corrupt(blob: bytes, index: int, value: object):
    with pytest.raises(KeystoreCorrupt) as info:
        decrypt_secret(_with_field(blob, index, value), PASSPHRASE)
    assert wallet_error_code(info.value) == RPC_WALLET_ERROR


def test_truncated_and_garbage_blobs_are_corrupt(blob: bytes):
    for cut in (0, 1, 5, len(blob) // 2, len(blob) - 1):
        with pytest.raises(KeystoreCorrupt):
            decrypt_secret(blob[:cut], PASSPHRASE)
    bad_blobs = [
        blob + b"\x00",  # trailing data
        b"\xc1" * 40,  # reserved msgpack byte
        b"not a keystore at all",
        msgpack.packb({"version": 1}),
        msgpack.packb(msgpack.unpackb(blob)[:5], use_bin_type=True),  # wrong arity
        msgpack.packb([*msgpack.unpackb(blob), 0], use_bin_type=True),
        msgpack.packb(7),
    ]
    for bad in bad_blobs:
        with pytest.raises(KeystoreCorrupt):
            decrypt_secret(bad, PASSPHRASE)


def test_noncanonical_encoding_is_corrupt(blob: bytes):
    # The version 1 as a uint8 (0xcc 0x01) instead of a positive fixint: same value, other bytes.
    assert blob[:2] == b"\x96\x01"
    with pytest.raises(KeystoreCorrupt, match="canonical"):
        decrypt_secret(b"\x96\xcc\x01" + blob[2:], PASSPHRASE)


def test_bad_encrypt_arguments():
    with pytest.raises(ValueError):
        encrypt_secret(SECRET, "")
    with pytest.raises(ValueError):
        encrypt_secret(b"", PASSPHRASE)
