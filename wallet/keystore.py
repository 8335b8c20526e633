"""The wallet seed at rest, encrypted under a passphrase (``encryptwallet``).

Argon2id stretches the passphrase into a 32-byte key, making each guess cost memory and time;
XSalsa20-Poly1305 (``nacl.secret.SecretBox``, random 24-byte nonce stored in the box) both
hides and authenticates the secret, so a wrong passphrase or a damaged box is detected
instead of yielding a wrong seed.

Blob: a msgpack array ``[1, "argon2id", opslimit, memlimit, salt: bin16, box: bin]``. The
KDF limits travel with the blob so that a later change of the defaults still opens old
wallets. Decoding is strict (exact arity and types, no trailing bytes, canonical encoding)
and the stored limits are bounded, so a corrupt file fails fast instead of asking Argon2 for
terabytes of memory.
"""

from __future__ import annotations

import os
import unicodedata

import msgpack
import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret

from wallet.errors import KeystoreCorrupt, WrongPassphrase

VERSION = 1
KDF_NAME = "argon2id"
SALT_BYTES = argon2id.SALTBYTES  # 16
KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE  # 32

# (opslimit, memlimit) for new blobs. "moderate" costs about a second and 256 MiB: a fair
# price for an occasional unlock. Tests lower this to FAST_KDF_LIMITS.
KDF_LIMITS: tuple[int, int] = (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE)
FAST_KDF_LIMITS: tuple[int, int] = (argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)

# Accepted when reading: anything libsodium allows, up to "sensitive" memory (1 GiB) and a
# generous time cost.
_MAX_OPSLIMIT = 64
_MAX_MEMLIMIT = argon2id.MEMLIMIT_SENSITIVE
_MAX_SECRET_BYTES = 4096
_MIN_BOX_BYTES = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES


def _derive_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    # NFKC so the same passphrase typed on systems that compose accents differently still works.
    password = unicodedata.normalize("NFKC", passphrase).encode("utf-8")
    return argon2id.kdf(KEY_BYTES, password, salt, opslimit=opslimit, memlimit=memlimit)


def encrypt_secret(
    secret: bytes, passphrase: str, *, limits: tuple[int, int] | None = None
) -> bytes:
    """Encrypt ``secret`` (the wallet seed) under ``passphrase``; returns the blob to store.

    ``limits`` overrides the module's ``KDF_LIMITS`` (read at call time) for this call.
    """
    if not isinstance(secret, bytes) or not 0 < len(secret) <= _MAX_SECRET_BYTES:
        raise ValueError(f"secret must be 1 to {_MAX_SECRET_BYTES} bytes")
    if not passphrase:
        raise ValueError("passphrase must not be empty")
    opslimit, memlimit = KDF_LIMITS if limits is None else limits
    salt = os.urandom(SALT_BYTES)
    key = _derive_key(passphrase, salt, opslimit, memlimit)
    box = bytes(nacl.secret.SecretBox(key).encrypt(secret))
    return msgpack.packb([VERSION, KDF_NAME, opslimit, memlimit, salt, box], use_bin_type=True)


def _decode(blob: bytes) -> tuple[int, int, bytes, bytes]:
    """Strictly parse a blob into (opslimit, memlimit, salt, box) or raise KeystoreCorrupt."""
    if not isinstance(blob, bytes | bytearray):
        raise KeystoreCorrupt("encrypted keystore is not bytes")
    try:
        fields = msgpack.unpackb(
            blob,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_str_len=16,
            max_bin_len=_MAX_SECRET_BYTES + _MIN_BOX_BYTES,
            max_array_len=6,
            max_map_len=0,
            max_ext_len=0,
        )
    except (ValueError, TypeError) as exc:  # msgpack's errors are ValueErrors
        raise KeystoreCorrupt(f"encrypted keystore is unreadable ({type(exc).__name__})") from exc
    if not isinstance(fields, list) or len(fields) != 6:
        raise KeystoreCorrupt("encrypted keystore has the wrong shape")
    version, kdf, opslimit, memlimit, salt, box = fields
    if type(version) is not int or version != VERSION:
        raise KeystoreCorrupt(f"unsupported keystore version {version!r}")
    if kdf != KDF_NAME:
        raise KeystoreCorrupt("unsupported keystore key derivation")
    if type(opslimit) is not int or not argon2id.OPSLIMIT_MIN <= opslimit <= _MAX_OPSLIMIT:
        raise KeystoreCorrupt("keystore KDF time cost is out of range")
    if type(memlimit) is not int or not argon2id.MEMLIMIT_MIN <= memlimit <= _MAX_MEMLIMIT:
        raise KeystoreCorrupt("keystore KDF memory cost is out of range")
    if type(salt) is not bytes or len(salt) != SALT_BYTES:
        raise KeystoreCorrupt("keystore salt is malformed")
    if type(box) is not bytes or len(box) <= _MIN_BOX_BYTES:
        raise KeystoreCorrupt("keystore ciphertext is malformed")
    if msgpack.packb(fields, use_bin_type=True) != bytes(blob):
        raise KeystoreCorrupt("encrypted keystore is not canonically encoded")
    return opslimit, memlimit, salt, box


def decrypt_secret(blob: bytes, passphrase: str) -> bytes:
    """The secret inside ``blob``.

    Raises ``KeystoreCorrupt`` if the blob is not a well-formed keystore, ``WrongPassphrase``
    if authentication fails. Poly1305 cannot tell a wrong passphrase from a damaged
    ciphertext, so the latter also reports as ``WrongPassphrase`` (the message says so).
    """
    opslimit, memlimit, salt, box = _decode(blob)
    key = _derive_key(passphrase, salt, opslimit, memlimit)
    try:
        return nacl.secret.SecretBox(key).decrypt(box)
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase(
            "the wallet passphrase entered was incorrect (or the encrypted seed is damaged)"
        ) from None
