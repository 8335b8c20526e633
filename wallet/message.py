"""Signed messages (``signmessage`` / ``verifymessage``): proof that the holder of an
address's key wrote a text.

The signed hash is ``sha256d(b"OBOL/message" || magic || utf8(message))``: the tag keeps
it apart from every sighash (which starts ``OBOL/sighash``), so a signed message can never
be a signature on a tx, and the magic binds it to one network. An address is a hash of the
public key and Ed25519 cannot recover a key from a signature (Core's compact signatures
do), so the signature text is base64 of ``pubkey || signature``; the verifier checks that
the key hashes to the address, then the signature.
"""

from __future__ import annotations

import base64
import binascii

from consensus.errors import RuleError
from consensus.hashing import sha256d
from consensus.params import NetworkParams
from consensus.signatures import REGISTRY, make_lock

MESSAGE_TAG = b"OBOL/message"


class MalformedSignature(ValueError):
    """The signature text is not base64 of a public key and a signature."""


def message_hash(message: str, params: NetworkParams) -> bytes:
    return sha256d(MESSAGE_TAG + params.magic + message.encode())


def sign_message(key_type: int, secret: bytes, message: str, params: NetworkParams) -> str:
    scheme = REGISTRY[key_type]
    sig = scheme.sign(secret, message_hash(message, params))
    return base64.b64encode(scheme.pubkey_from_secret(secret) + sig).decode()


def verify_message(lock: bytes, signature: str, message: str, params: NetworkParams) -> bool:
    """Whether ``signature`` is by the key of ``lock`` over ``message``; raises
    ``MalformedSignature`` when it cannot even be read (Core's -3)."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedSignature("Malformed base64 encoding") from exc
    scheme = REGISTRY.get(lock[0])
    if scheme is None:  # a policy address: no one key signs for it (Core's words)
        raise MalformedSignature("Address does not refer to key")
    if len(raw) != scheme.pubkey_len + scheme.sig_len:
        raise MalformedSignature("Malformed base64 encoding")
    pubkey, sig = raw[: scheme.pubkey_len], raw[scheme.pubkey_len :]
    if make_lock(lock[0], pubkey) != lock:
        return False
    try:
        scheme.verify(pubkey, sig, message_hash(message, params))
    except RuleError:
        return False
    return True
