"""The key-type registry: the one place where a kind of lock is defined and verified.

A lock is ``key_type (1 byte) || blake2b-160(pubkey)``. Everything outside this module
treats ``pubkey`` and ``sig`` as opaque bytes; adding a scheme means adding a class here and
one line to ``REGISTRY``. The one other kind of lock, the policy (kind 0x03, 33 bytes:
``0x03 || sha256(policy)``), is no signature scheme but a tree of these keys and conditions;
it is defined in ``policy`` and its every used key is verified here.
"""

from __future__ import annotations

import hashlib

import nacl.bindings
import nacl.exceptions
from coincurve import PrivateKey, PublicKey
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from .errors import RejectCode, RuleError

_ED25519_SIG_LEN = 64


class Ed25519:
    """Ed25519 (RFC 8032) through libsodium: 32-byte public keys, 64-byte signatures."""

    key_type = 0x01
    name = "ed25519"
    pubkey_len = 32
    sig_len = _ED25519_SIG_LEN
    # What one verification costs, in Ed25519 verifications (measured by scripts/bench):
    # how a node sizes the batches of checks it sends to worker processes.
    verify_cost = 1

    @staticmethod
    def pubkey_from_secret(secret: bytes) -> bytes:
        pk, _ = nacl.bindings.crypto_sign_seed_keypair(secret)
        return pk

    @staticmethod
    def sign(secret: bytes, msg: bytes) -> bytes:
        _, sk = nacl.bindings.crypto_sign_seed_keypair(secret)
        return nacl.bindings.crypto_sign(msg, sk)[:_ED25519_SIG_LEN]

    @staticmethod
    def verify(pubkey: bytes, sig: bytes, msg: bytes) -> None:
        if len(pubkey) != 32 or len(sig) != _ED25519_SIG_LEN:
            raise RuleError(RejectCode.TX_BAD_SIGNATURE, "ed25519 key or signature of wrong size")
        try:
            nacl.bindings.crypto_sign_open(sig + msg, pubkey)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError) as exc:
            raise RuleError(RejectCode.TX_BAD_SIGNATURE, "ed25519 signature invalid") from exc


class Secp256k1:
    """secp256k1 ECDSA: 33-byte compressed keys, 64-byte r||s, RFC 6979, low S only.

    The message is the 32-byte sighash, signed as a digest (no further hashing). Signing
    and verifying go through libsecp256k1 (coincurve), Bitcoin Core's library: constant-time
    signing, signatures always low-S; verification calls the library's parse and verify
    functions directly, without building Python key objects.
    """

    key_type = 0x02
    name = "secp256k1"
    pubkey_len = 33
    sig_len = 64
    verify_cost = 1  # libsecp256k1 verifies in ~0.8 of libsodium's Ed25519 time
    _order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    _half_order = _order // 2
    _ctx = GLOBAL_CONTEXT.ctx

    @staticmethod
    def pubkey_from_secret(secret: bytes) -> bytes:
        return PublicKey.from_secret(secret).format(compressed=True)

    @staticmethod
    def sign(secret: bytes, msg: bytes) -> bytes:
        if len(msg) != 32:
            raise ValueError("secp256k1 signs a 32-byte digest")
        # The recoverable form is the compact r||s plus a recovery byte, dropped here.
        return PrivateKey(secret).sign_recoverable(msg, hasher=None)[:64]

    @classmethod
    def verify(cls, pubkey: bytes, sig: bytes, msg: bytes) -> None:
        if len(pubkey) != 33 or pubkey[0] not in (2, 3) or len(sig) != 64:
            raise RuleError(RejectCode.TX_BAD_SIGNATURE, "secp256k1 key or signature malformed")
        s = int.from_bytes(sig[32:], "big")
        if s > cls._half_order:
            raise RuleError(RejectCode.TX_HIGH_S, "secp256k1 signature has a high S value")
        ctx = cls._ctx
        point = ffi.new("secp256k1_pubkey *")
        parsed = ffi.new("secp256k1_ecdsa_signature *")
        if (
            len(msg) != 32
            or not lib.secp256k1_ec_pubkey_parse(ctx, point, pubkey, 33)
            or not lib.secp256k1_ecdsa_signature_parse_compact(ctx, parsed, sig)
            or not lib.secp256k1_ecdsa_verify(ctx, parsed, msg, point)
        ):
            raise RuleError(RejectCode.TX_BAD_SIGNATURE, "secp256k1 signature invalid")


ED25519 = Ed25519()
SECP256K1 = Secp256k1()
REGISTRY: dict[int, Ed25519 | Secp256k1] = {s.key_type: s for s in (ED25519, SECP256K1)}
DEFAULT_KEY_TYPE = ED25519.key_type


def make_lock(key_type: int, pubkey: bytes) -> bytes:
    """The 21-byte lock that ``pubkey`` of ``key_type`` can spend."""
    return bytes((key_type,)) + hashlib.blake2b(pubkey, digest_size=20).digest()
