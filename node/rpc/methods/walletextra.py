"""Wallet RPCs around spending: fee bumping, abandoning, coin locks, keys and messages.

``bumpfee`` replaces an unconfirmed wallet tx that signals opt-in replace-by-fee by one
paying a higher fee out of its change (the mempool's replacement rules are in
``node.mempool``). Error codes are Core's: -5 for a txid the wallet does not know, -4 for
a tx that is mined or does not signal, -8 for one with descendants or a too-low fee_rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.hashing import hash_to_hex
from consensus.primitives import outpoint_key
from wallet.message import sign_message
from wallet.privkey import encode_privkey

from ..errors import RPC_INVALID_PARAMETER, RPC_TYPE_ERROR, RPC_WALLET_ERROR, RpcError
from ..jsonfmt import Amount
from ..params import as_address, as_bool, as_hash, as_int, as_list, as_str
from ..registry import MethodTable, RpcRequest
from .wallet import as_fee_rate

if TYPE_CHECKING:
    from ...wallets.manager import LoadedWallet
    from ..services import NodeServices


rpc = MethodTable()


def resolve(node: NodeServices, /, request: RpcRequest) -> LoadedWallet:
    return node.wallets.resolve(request.wallet_name)


@rpc.method(category="wallet")
async def bumpfee(
    node: NodeServices, /, request: RpcRequest, txid: Any, options: Any = None
) -> dict[str, Any]:
    """bumpfee "txid" ( options )

    Replace an unconfirmed, replaceable wallet tx by one paying a higher fee from its
    change. Option fee_rate (units per byte); by default the higher of the fallback
    rate and the old rate plus the incremental relay rate."""
    lw = resolve(node, request)
    wanted = as_hash(txid, "txid")
    opts = options if isinstance(options, dict) else {}
    if options is not None and not isinstance(options, dict):
        raise RpcError(RPC_TYPE_ERROR, "options must be an object")
    tx, old_fee, new_fee = await node.wallets.bump(lw, wanted, as_fee_rate(opts.get("fee_rate")))
    return {
        "txid": tx.txid_hex,
        "origfee": Amount(old_fee),
        "fee": Amount(new_fee),
        "errors": [],
    }


@rpc.method(category="wallet")
def abandontransaction(node: NodeServices, /, request: RpcRequest, txid: Any) -> None:
    """abandontransaction "txid"

    Forget a sent tx that is neither in the mempool nor in a block: it is not
    resubmitted, and the coins it spent are free again."""
    node.wallets.abandon(resolve(node, request), as_hash(txid, "txid"))


@rpc.method(category="wallet")
def lockunspent(
    node: NodeServices,
    /,
    request: RpcRequest,
    unlock: Any,
    transactions: Any = None,
    persistent: Any = False,
) -> bool:
    """lockunspent unlock ( [{"txid":"hex","vout":n},...] persistent )

    Keep coins out of coin selection (unlock=false) or give them back (true; with no
    list, all). Locks last until the wallet is unloaded or the node restarts."""
    lw = resolve(node, request)
    free = as_bool(unlock)
    if as_bool(persistent):
        raise RpcError(RPC_INVALID_PARAMETER, "persistent coin locks are not supported by obol")
    if transactions is None:
        if free:
            lw.locked_coins.clear()
        return True
    keys = [coin_key(node, item, lw, free) for item in as_list(transactions)]
    if free:
        lw.locked_coins.difference_update(keys)
    else:
        lw.locked_coins.update(keys)
    return True


def coin_key(node: NodeServices, /, item: Any, lw: LoadedWallet, free: bool) -> bytes:
    if not isinstance(item, dict):
        raise RpcError(RPC_TYPE_ERROR, 'Expected an object {"txid", "vout"}')
    txid = as_hash(item.get("txid"), "txid")
    vout = item.get("vout")
    if type(vout) is int and vout < 0:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, vout cannot be negative")
    key = outpoint_key(txid, as_int(vout, "vout", 0, 0xFFFF_FFFF))
    if free:
        if key not in lw.locked_coins:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, expected locked output")
        return key
    if node.wallets.spent_coin(key) is None:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, unknown transaction")
    if key not in {c.key for c in node.wallets.coins(lw)}:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, expected unspent output")
    if key in lw.locked_coins:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, output already locked")
    return key


@rpc.method(category="wallet")
def listlockunspent(node: NodeServices, /, request: RpcRequest) -> list[dict[str, Any]]:
    """listlockunspent

    The coins lockunspent set aside."""
    lw = resolve(node, request)
    return [
        {"txid": hash_to_hex(k[:32]), "vout": int.from_bytes(k[32:], "little")}
        for k in sorted(lw.locked_coins)
    ]


def own_secret(node: NodeServices, /, lw: LoadedWallet, address: Any) -> tuple[int, bytes]:
    lock = as_address(address, node.params)
    if lw.wallet.key_for(lock) is None:
        raise RpcError(RPC_WALLET_ERROR, f"Private key for address {as_str(address)} is not known")
    return lw.wallet.secret_for(lock)


@rpc.method(category="wallet")
def dumpprivkey(node: NodeServices, /, request: RpcRequest, address: Any) -> str:
    """dumpprivkey "address"

    The private key of a wallet address, as signrawtransactionwithkey takes it
    (bech32m with hrp "<network>sec"). Anyone holding it can spend the address's coins."""
    key_type, secret = own_secret(node, resolve(node, request), address)
    return encode_privkey(key_type, secret, node.params)


@rpc.method(category="wallet")
def signmessage(node: NodeServices, /, request: RpcRequest, address: Any, message: Any) -> str:
    """signmessage "address" "message"

    A base64 signature of message by the key of a wallet address (see verifymessage)."""
    key_type, secret = own_secret(node, resolve(node, request), address)
    return sign_message(key_type, secret, as_str(message), node.params)


@rpc.method(category="wallet")
def getreceivedbyaddress(
    node: NodeServices,
    /,
    request: RpcRequest,
    address: Any,
    minconf: Any = 1,
    include_immature_coinbase: Any = False,
) -> Amount:
    """getreceivedbyaddress "address" ( minconf include_immature_coinbase )

    Total received by a wallet address in txs with at least minconf confirmations."""
    lw = resolve(node, request)
    lock = as_address(address, node.params)
    if lw.wallet.key_for(lock) is None:
        raise RpcError(RPC_WALLET_ERROR, "Address not found in wallet")
    depth = as_int(minconf, "minconf", 0)
    immature = as_bool(include_immature_coinbase)
    tip = node.wallets.tip_height
    total = 0
    for wtx in node.wallets.history([lock]):
        confirmations = 0 if wtx.height is None else tip - wtx.height + 1
        if confirmations < depth:
            continue
        if wtx.tx.is_coinbase and not immature and confirmations <= node.params.coinbase_maturity:
            continue
        total += sum(o.value for o in wtx.tx.outputs if o.lock == lock)
    return Amount(total)
