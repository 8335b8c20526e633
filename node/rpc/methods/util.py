"""Core's "util" RPCs that need no wallet: estimatesmartfee, verifymessage,
signmessagewithprivkey.

obol has no fee estimator yet: ``estimatesmartfee`` answers the wallet's fallback rate
(never below the mempool's minimum) in Core's shape and units (``feerate`` in OBOL per
1000 bytes, Core's BTC/kvB), with an ``errors`` note that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wallet.message import MalformedSignature, sign_message, verify_message
from wallet.privkey import InvalidPrivateKey, decode_privkey

from ..errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RPC_TYPE_ERROR, RpcError
from ..jsonfmt import Amount
from ..params import as_address, as_int, as_str
from ..registry import MethodTable

if TYPE_CHECKING:
    from ..services import NodeServices

MAX_CONF_TARGET = 1008  # Core's estimator horizon
ESTIMATE_MODES = ("unset", "economical", "conservative")
FALLBACK_NOTE = "obol has no fee estimator yet: this is the fallback fee rate"


rpc = MethodTable()


@rpc.method(category="util")
def estimatesmartfee(
    node: NodeServices, /, conf_target: Any, estimate_mode: Any = "unset"
) -> dict[str, Any]:
    """estimatesmartfee conf_target ( "estimate_mode" )

    The fee rate (OBOL per 1000 bytes) to confirm within conf_target blocks: for now
    the fallback rate, said so in errors."""
    if type(conf_target) is int and not 1 <= conf_target <= MAX_CONF_TARGET:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            f"Invalid conf_target, must be between 1 and {MAX_CONF_TARGET}",
        )
    target = as_int(conf_target, "conf_target")
    if as_str(estimate_mode).lower() not in ESTIMATE_MODES:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            'Invalid estimate_mode parameter, must be one of: "unset", "economical", '
            '"conservative"',
        )
    rate = node.wallets.fee_rate(None)  # units per byte
    return {"feerate": Amount(rate * 1000), "errors": [FALLBACK_NOTE], "blocks": target}


@rpc.method(category="util")
def verifymessage(node: NodeServices, /, address: Any, signature: Any, message: Any) -> bool:
    """verifymessage "address" "signature" "message"

    Whether signature (from signmessage) is by the key of address over message."""
    lock = as_address(address, node.params)
    try:
        return verify_message(lock, as_str(signature), as_str(message), node.params)
    except MalformedSignature as exc:
        raise RpcError(RPC_TYPE_ERROR, str(exc)) from exc


@rpc.method(category="util")
def signmessagewithprivkey(node: NodeServices, /, privkey: Any, message: Any) -> str:
    """signmessagewithprivkey "privkey" "message"

    signmessage with a key given as dumpprivkey prints it."""
    try:
        key_type, secret = decode_privkey(as_str(privkey), node.params)
    except InvalidPrivateKey as exc:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Invalid private key") from exc
    return sign_message(key_type, secret, as_str(message), node.params)
