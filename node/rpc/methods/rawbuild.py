"""Building and signing raw txs by hand, the raw-transaction lesson of Bitcoin Core:
createrawtransaction, then fundrawtransaction and signrawtransactionwithwallet (wallet
RPCs), or signrawtransactionwithkey with keys from ``dumpprivkey``; then
sendrawtransaction.

obol's tx has no per-input sequence number, so an input's ``sequence`` is refused rather
than silently dropped; ``replaceable`` sets the opt-in replace-by-fee signal (the version).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.hashing import hash_to_hex
from consensus.primitives import Tx, TxIn, TxOut, outpoint_key
from consensus.signatures import REGISTRY, make_lock
from wallet.privkey import InvalidPrivateKey, decode_privkey
from wallet.txbuild import sign_inputs

from ...mempool.policy import FINAL_TX_VERSION, REPLACEABLE_TX_VERSION
from ..errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_TYPE_ERROR,
    RpcError,
)
from ..jsonfmt import parse_amount
from ..params import as_address, as_bool, as_hash, as_hex, as_int, as_list
from ..registry import MethodTable
from .rawtransactions import parse_tx_hex

if TYPE_CHECKING:
    from ..services import NodeServices

MAX_U32 = 0xFFFF_FFFF


def parse_inputs(inputs: Any) -> list[TxIn]:
    out = []
    for item in as_list(inputs):
        if not isinstance(item, dict):
            raise RpcError(RPC_TYPE_ERROR, 'Expected an object {"txid", "vout"}')
        if "sequence" in item:
            raise RpcError(
                RPC_INVALID_PARAMETER,
                "Invalid parameter, obol txs have no per-input sequence (use replaceable)",
            )
        if "vout" not in item:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, missing vout key")
        vout = item["vout"]
        if type(vout) is int and vout < 0:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, vout cannot be negative")
        index = as_int(vout, "vout", 0, MAX_U32)
        out.append(TxIn(as_hash(item.get("txid"), "txid"), index, b"", b""))
    return out


def parse_outputs(outputs: Any, node: NodeServices) -> list[TxOut]:
    """Core's forms: {"address": amount, ...} or [{"address": amount}, ...]."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(outputs, dict):
        pairs = list(outputs.items())
    elif isinstance(outputs, list):
        for item in outputs:
            if not isinstance(item, dict):
                raise RpcError(
                    RPC_INVALID_PARAMETER,
                    "Invalid parameter, key-value pair not an object as expected",
                )
            pairs.extend(item.items())
    else:
        raise RpcError(RPC_TYPE_ERROR, "outputs must be an object or an array of objects")
    if not pairs:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, output argument must be non-null")
    seen: set[bytes] = set()
    out = []
    for text, amount in pairs:
        if text == "data":
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, obol has no data outputs")
        lock = as_address(text, node.params)
        if lock in seen:
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid parameter, duplicated address: {text}")
        seen.add(lock)
        out.append(TxOut(parse_amount(amount), lock))
    return out


def prevtx_coins(prevtxs: Any) -> dict[bytes, tuple[int, bytes]]:
    """signrawtransactionwithkey's prevtxs: outpoint key -> (value, lock)."""
    coins = {}
    for item in as_list(prevtxs):
        if not isinstance(item, dict):
            raise RpcError(RPC_TYPE_ERROR, "prevtxs entries must be objects")
        for key in ("txid", "vout", "scriptPubKey", "amount"):
            if key not in item:
                raise RpcError(RPC_INVALID_PARAMETER, f"Missing {key}")
        txid = as_hash(item["txid"], "txid")
        lock = as_hex(item["scriptPubKey"], "scriptPubKey")
        if len(lock) != 21 or lock[0] not in REGISTRY:
            raise RpcError(RPC_DESERIALIZATION_ERROR, "scriptPubKey is not an obol lock")
        index = as_int(item["vout"], "vout", 0, MAX_U32)
        coins[outpoint_key(txid, index)] = (parse_amount(item["amount"]), lock)
    return coins


rpc = MethodTable()


@rpc.method(category="rawtransactions")
def createrawtransaction(
    node: NodeServices, /, inputs: Any, outputs: Any, locktime: Any = 0, replaceable: Any = False
) -> str:
    """createrawtransaction [{"txid":"hex","vout":n},...] [{"address":amount},...] ( locktime replaceable )

    An unsigned tx spending inputs (may be empty: fundrawtransaction adds them) to the
    outputs, hex encoded. replaceable=true sets the opt-in replace-by-fee signal."""  # noqa: E501
    ins = parse_inputs(inputs)
    outs = parse_outputs(outputs, node)
    if type(locktime) is int and not 0 <= locktime <= MAX_U32:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, locktime out of range")
    lock_time = as_int(locktime, "locktime", 0, MAX_U32)
    version = REPLACEABLE_TX_VERSION if as_bool(replaceable) else FINAL_TX_VERSION
    return Tx(version, tuple(ins), tuple(outs), lock_time).serialize().hex()


@rpc.method(category="rawtransactions")
def signrawtransactionwithkey(
    node: NodeServices,
    /,
    hexstring: Any,
    privkeys: Any,
    prevtxs: Any = None,
    sighashtype: Any = None,
) -> dict[str, Any]:
    """signrawtransactionwithkey "hexstring" ["privatekey",...] ( [{"txid":"hex","vout":n,"scriptPubKey":"hex","amount":amount},...] "sighashtype" )

    Sign the inputs whose coins these keys (dumpprivkey's form) can spend. Coins come
    from prevtxs, else from the chain and the mempool."""  # noqa: E501
    tx = parse_tx_hex(hexstring)
    if sighashtype not in (None, "ALL", "DEFAULT"):
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid sighash param: obol signs ALL")
    by_lock: dict[bytes, tuple[int, bytes]] = {}
    for text in as_list(privkeys):
        try:
            key_type, secret = decode_privkey(text if isinstance(text, str) else "", node.params)
        except InvalidPrivateKey as exc:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Invalid private key") from exc
        pubkey = REGISTRY[key_type].pubkey_from_secret(secret)
        by_lock[make_lock(key_type, pubkey)] = (key_type, secret)
    given = prevtx_coins(prevtxs) if prevtxs is not None else {}
    spent = [
        given.get(i.outpoint_key) or node.wallets.spent_coin(i.outpoint_key) for i in tx.inputs
    ]
    keys = {n: by_lock[c[1]] for n, c in enumerate(spent) if c is not None and c[1] in by_lock}
    signed = sign_inputs(tx, keys, spent, node.params)
    return sign_result(signed, [n for n in range(len(tx.inputs)) if n not in keys])


def sign_result(signed: Tx, missing: list[int]) -> dict[str, Any]:
    """Core's shape for signrawtransactionwith*: hex, complete, and errors if incomplete."""
    out: dict[str, Any] = {"hex": signed.serialize().hex(), "complete": not missing}
    if missing:
        out["errors"] = [
            {
                "txid": hash_to_hex(signed.inputs[n].prev_txid),
                "vout": signed.inputs[n].prev_index,
                "witness": [],
                "scriptSig": "",
                "sequence": MAX_U32,
                "error": "Input not found or already spent, or no key for it",
            }
            for n in missing
        ]
    return out
