"""Utility RPCs on policies (lock kind 0x03): Bitcoin Core's createmultisig, and
decodepolicy, obol's counterpart of decodescript."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.address import encode_address
from consensus.errors import RuleError
from consensus.policy import (
    Key,
    Policy,
    Sha256,
    Thresh,
    decode_policy,
    encode_policy,
    iter_nodes,
    policy_keys,
    policy_lock,
)
from consensus.policy_text import (
    PolicySyntaxError,
    format_policy,
    parse_policy,
    sanity_problem,
    satisfiable,
    time_locks,
)
from consensus.signatures import ED25519, REGISTRY, SECP256K1

from ..errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RpcError,
)
from ..params import as_int, as_list, as_str
from ..registry import MethodTable

if TYPE_CHECKING:
    from ..services import NodeServices

_HEX = frozenset("0123456789abcdefABCDEF")
_SCHEMES = {scheme.name: scheme for scheme in REGISTRY.values()}
MAX_MULTISIG_KEYS = 20


def parse_key(value: Any) -> Key:
    """A key as createmultisig takes it: 32-byte hex is Ed25519, 33-byte hex secp256k1,
    or typed as ``ed25519:HEX`` / ``secp256k1:HEX``."""
    text = as_str(value)
    name, sep, hex_part = text.partition(":")
    if not sep:
        hex_part = text
        name = {64: ED25519.name, 66: SECP256K1.name}.get(len(text), "")
    scheme = _SCHEMES.get(name)
    if scheme is None or len(hex_part) != 2 * scheme.pubkey_len or not set(hex_part) <= _HEX:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Invalid public key: {text}")
    pubkey = bytes.fromhex(hex_part)
    if scheme is SECP256K1 and pubkey[0] not in (2, 3):
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Invalid public key: {text}")
    return Key(scheme.key_type, pubkey)


def _read_policy(value: Any) -> Policy:
    text = as_str(value)
    if text and len(text) % 2 == 0 and set(text) <= _HEX:
        try:
            return decode_policy(bytes.fromhex(text))
        except RuleError as exc:
            raise RpcError(RPC_DESERIALIZATION_ERROR, f"Policy decode failed: {exc}") from exc
    try:
        return parse_policy(text, sane=False)
    except PolicySyntaxError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, f"Policy parse failed: {exc}") from exc


def policy_json(policy: Policy, node: NodeServices) -> dict[str, Any]:
    data = encode_policy(policy)
    problem = sanity_problem(policy)
    return {
        "hex": data.hex(),
        "text": format_policy(policy),
        "address": encode_address(policy_lock(data), node.params),
        "lock": policy_lock(data).hex(),
        "keys": [
            {"type": REGISTRY[k.key_type].name, "pubkey": k.pubkey.hex()}
            for k in policy_keys(policy)
        ],
        "timelocks": time_locks(policy),
        "hashlocks": [n.hash.hex() for n in iter_nodes(policy) if type(n) is Sha256],
        "satisfiable": satisfiable(policy),
        "standard": problem is None,
        **({"nonstandard_reason": problem} if problem else {}),
    }


rpc = MethodTable()


@rpc.method(category="util")
def decodepolicy(node: NodeServices, /, policy: Any) -> dict[str, Any]:
    """decodepolicy "text-or-hex"

    A policy, as text (pk(...), thresh(k,...), and(...), or(...), after(N),
    sha256(H)) or as the hex of its encoding: both forms, its address, keys, time
    and hash locks, whether any tx can ever satisfy it, and whether it is standard."""
    return policy_json(_read_policy(policy), node)


@rpc.method(category="util")
def createmultisig(
    node: NodeServices, /, nrequired: Any, keys: Any, address_type: Any = None
) -> dict[str, Any]:
    """createmultisig nrequired ["key",...] ( "address_type" )

    The nrequired-of-n policy of these keys (32-byte hex: Ed25519, 33-byte:
    secp256k1, or typed ed25519:HEX / secp256k1:HEX): its address, its encoding
    ("policy", where Core has "redeemScript") and its text ("descriptor")."""
    required = as_int(nrequired, "nrequired")
    pubkeys = [parse_key(k) for k in as_list(keys)]
    if address_type is not None and as_str(address_type) != "bech32m":
        raise RpcError(RPC_INVALID_PARAMETER, "obol policy addresses are bech32m")
    data = encode_policy(multisig_policy(required, pubkeys))
    return {
        "address": encode_address(policy_lock(data), node.params),
        "policy": data.hex(),
        "descriptor": format_policy(decode_policy(data)),
    }


def multisig_policy(required: int, pubkeys: list[Key]) -> Policy:
    """createmultisig's k-of-n policy, with Core's errors for a bad k or n (-8)."""
    if required < 1:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            "a multisignature address must require at least one key to redeem",
        )
    if len(pubkeys) < required:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            f"not enough keys supplied (got {len(pubkeys)} keys, "
            f"but need at least {required} to redeem)",
        )
    if len(pubkeys) > MAX_MULTISIG_KEYS:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            "Number of keys involved in the multisignature address creation > 20\n"
            "Reduce the number",
        )
    policy = Thresh(required, tuple(pubkeys))
    if problem := sanity_problem(policy):
        raise RpcError(RPC_INVALID_PARAMETER, f"Not a standard policy: {problem}")
    return policy
