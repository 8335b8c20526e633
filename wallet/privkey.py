"""Private keys as text, for ``dumpprivkey`` and ``signrawtransactionwithkey``.

Bitcoin Core's WIF does not fit obol's two key types, so a private key is written the way
an address is: bech32m (BIP-350), with the network's hrp followed by ``sec`` (``obrtsec1...``
on regtest), the key type as the version symbol and the 32-byte secret as the program. The
checksum catches typos, and the hrp stops a regtest key from being pasted into a devnet
call. For Ed25519 the secret is the RFC 8032 seed; for secp256k1 it is the scalar.
"""

from __future__ import annotations

from consensus.address import AddressError, decode_segwit, encode_segwit
from consensus.params import NetworkParams
from consensus.signatures import REGISTRY, SECP256K1

SECRET_SIZE = 32


class InvalidPrivateKey(ValueError):
    """Not a private key of this network."""


def privkey_hrp(params: NetworkParams) -> str:
    return params.hrp + "sec"


def encode_privkey(key_type: int, secret: bytes, params: NetworkParams) -> str:
    if key_type not in REGISTRY or len(secret) != SECRET_SIZE:
        raise InvalidPrivateKey("not a 32-byte secret of a known key type")
    return encode_segwit(privkey_hrp(params), key_type, secret)


def decode_privkey(text: str, params: NetworkParams) -> tuple[int, bytes]:
    """(key type, secret) of a private key string of this network."""
    try:
        key_type, secret = decode_segwit(privkey_hrp(params), text)
    except AddressError as exc:
        raise InvalidPrivateKey(f"Invalid private key encoding: {exc}") from exc
    if key_type not in REGISTRY:
        raise InvalidPrivateKey(f"Invalid private key: unknown key type {key_type}")
    if len(secret) != SECRET_SIZE:
        raise InvalidPrivateKey("Invalid private key: the secret is 32 bytes")
    if key_type == SECP256K1.key_type and not 0 < int.from_bytes(secret, "big") < SECP256K1._order:
        raise InvalidPrivateKey("Invalid private key: not a secp256k1 scalar")
    return key_type, secret
