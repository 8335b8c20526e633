"""Wallet RPCs with Bitcoin Core's names, parameters and error codes.

A call goes to the wallet named by ``/wallet/<name>``, or to the only loaded one (-18 when
none is loaded, -19 when several are). Amounts are validated like Core's AmountFromValue
(-3), addresses give -5, a wallet that cannot pay gives -6, a locked one -13, a wrong
passphrase -14. ``fee_rate`` is in base units per byte (Core's sat/vB). Wallet txs signal
opt-in replace-by-fee unless ``replaceable=false`` (Core's -walletrbf default). Parameters
Core has and obol does not use (fee estimation targets, reuse avoidance) are accepted for
compatibility: obol has no fee estimator.

The address queries Core lacks (getaddressbalance, getaddressutxos, getaddresshistory) work
for any address, from the node's address index and the mempool, with no wallet involved.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from consensus.address import AddressError, decode_address, encode_address
from consensus.hashing import hash_to_hex
from consensus.policy import decode_policy
from consensus.policy_text import format_policy
from consensus.primitives import POLICY_LOCK_KIND, Tx, TxOut
from consensus.signatures import REGISTRY
from wallet.errors import InvalidMnemonic
from wallet.hd import EXTERNAL_CHAIN, INTERNAL_CHAIN
from wallet.wallet import key_type_from_name

from ...chain import addressquery
from ...chain.addressquery import MAX_HISTORY_PAGE
from ...mempool.policy import signals_replaceable
from ...wallets.manager import MAX_UNLOCK_SECONDS, Entry, LoadedWallet, WalletTx
from ..errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_METHOD_DEPRECATED,
    RPC_TYPE_ERROR,
    RPC_WALLET_ERROR,
    RPC_WALLET_INVALID_LABEL_NAME,
    RpcError,
)
from ..jsonfmt import Amount, parse_amount
from ..params import as_address, as_bool, as_hash, as_int, as_str
from ..registry import MethodTable, RpcRequest
from ..views import lock_json, tx_json
from .rawbuild import sign_result
from .rawtransactions import parse_tx_hex

if TYPE_CHECKING:
    from ..services import NodeServices


def as_key_type(value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        return key_type_from_name(as_str(value))
    except ValueError as exc:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Unknown address type '{value}'") from exc


def as_fee_rate(value: Any) -> int | None:
    """Core's ``fee_rate`` in units per byte: a whole positive number here."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise RpcError(RPC_TYPE_ERROR, "fee_rate is not a number")
    try:
        rate = Decimal(value)
    except ArithmeticError as exc:
        raise RpcError(RPC_TYPE_ERROR, "Invalid fee_rate") from exc
    if not rate.is_finite() or rate != rate.to_integral_value() or rate <= 0:
        raise RpcError(RPC_INVALID_PARAMETER, "fee_rate must be a whole number of units per byte")
    return int(rate)


def as_output_indexes(value: Any, count: int) -> tuple[int, ...]:
    """fundrawtransaction's subtractFeeFromOutputs: distinct output positions."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RpcError(RPC_TYPE_ERROR, "subtractFeeFromOutputs must be an array")
    out: list[int] = []
    for item in value:
        n = as_int(item, "subtractFeeFromOutputs")
        if n in out:
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid parameter, duplicated position: {n}")
        if not 0 <= n < count:
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid parameter, position too large: {n}")
        out.append(n)
    return tuple(out)


def as_passphrase(value: Any) -> str:
    text = as_str(value)
    if not text:
        raise RpcError(RPC_INVALID_PARAMETER, "passphrase cannot be empty")
    return text


rpc = MethodTable()


def resolve(node: NodeServices, /, request: RpcRequest) -> LoadedWallet:
    return node.wallets.resolve(request.wallet_name)


def address(node: NodeServices, /, lock: bytes) -> str:
    return encode_address(lock, node.params)


def label_of(lw: LoadedWallet, lock: bytes) -> str:
    return lw.wallet.labels.get(lock, "")


def tx_fields(node: NodeServices, /, wtx: WalletTx) -> dict[str, Any]:
    tip = node.wallets.tip_height
    out: dict[str, Any] = {
        "confirmations": 0 if wtx.height is None else tip - wtx.height + 1,
    }
    if wtx.tx.is_coinbase:
        out["generated"] = True
    if wtx.height is None:
        out["trusted"] = False
    else:
        assert wtx.block_hash is not None
        out["blockhash"] = hash_to_hex(wtx.block_hash)
        out["blockheight"] = wtx.height
        out["blockindex"] = wtx.position
        out["blocktime"] = wtx.block_time
    out.update(
        {
            "txid": wtx.tx.txid_hex,
            "wtxid": hash_to_hex(wtx.tx.wtxid),
            "time": wtx.time,
            "timereceived": wtx.time,
            "bip125-replaceable": replaceable_text(wtx),
        }
    )
    return out


def replaceable_text(wtx: WalletTx) -> str:
    """Core's bip125-replaceable: "yes" for an unconfirmed tx that signals (obol reads
    only the tx's own signal, so no "unknown")."""
    return "yes" if wtx.height is None and signals_replaceable(wtx.tx.version) else "no"


def entry_json(
    node: NodeServices, /, lw: LoadedWallet, wtx: WalletTx, entry: Entry, trusted: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "address": address(node, entry.lock),
        "category": entry.category,
        "amount": Amount(entry.amount),
    }
    if lw.wallet.owns(entry.lock):
        out["label"] = label_of(lw, entry.lock)
    out["vout"] = entry.vout
    if entry.fee is not None:
        out["fee"] = Amount(entry.fee)
    out.update(tx_fields(node, wtx))
    if "trusted" in out:
        out["trusted"] = trusted
    if entry.category == "send":
        out["abandoned"] = False
    return out


def details(node: NodeServices, /, lw: LoadedWallet, wtx: WalletTx) -> list[dict[str, Any]]:
    summary = node.wallets.summarize(lw, wtx)
    trusted = summary.fee is not None
    return [entry_json(node, lw, wtx, e, trusted) for e in summary.entries]


@rpc.method(category="wallet")
async def createwallet(
    node: NodeServices,
    /,
    wallet_name: Any,
    disable_private_keys: Any = False,
    blank: Any = False,
    passphrase: Any = None,
    avoid_reuse: Any = False,
    descriptors: Any = True,
    load_on_startup: Any = None,
    external_signer: Any = False,
    mnemonic: Any = None,
) -> dict[str, Any]:
    """createwallet "wallet_name" ( disable_private_keys blank "passphrase" avoid_reuse descriptors load_on_startup external_signer "mnemonic" )

    Create and load a new HD wallet (24 new words), or restore one from "mnemonic"
    (obol's addition: 12 to 24 BIP39 words). With "passphrase" it is encrypted and
    locked at once. load_on_startup=true loads it at every start (settings.json). Watch-only, blank and external-signer wallets are not supported."""  # noqa: E501
    name = as_str(wallet_name)
    for flag, what in (
        (disable_private_keys, "disable_private_keys"),
        (blank, "blank"),
        (external_signer, "external_signer"),
    ):
        if as_bool(flag):
            raise RpcError(RPC_WALLET_ERROR, f"{what} wallets are not supported by obol")
    words = None if mnemonic is None else as_str(mnemonic)
    secret = None if passphrase in (None, "") else as_str(passphrase)
    startup = None if load_on_startup is None else as_bool(load_on_startup)
    try:
        await node.wallets.create(name, words, secret)
    except InvalidMnemonic as exc:
        raise RpcError(RPC_INVALID_PARAMETER, str(exc)) from exc
    node.wallets.set_load_on_startup(name, startup)
    return {"name": name, "warning": ""}


@rpc.method(category="wallet")
async def loadwallet(
    node: NodeServices, /, filename: Any, load_on_startup: Any = None
) -> dict[str, Any]:
    """loadwallet "filename" ( load_on_startup )

    Load the wallet <netdir>/wallets/<filename>."""
    name = as_str(filename)
    startup = None if load_on_startup is None else as_bool(load_on_startup)
    await node.wallets.load(name)
    node.wallets.set_load_on_startup(name, startup)
    return {"name": name, "warning": ""}


@rpc.method(category="wallet")
def unloadwallet(
    node: NodeServices, /, request: RpcRequest, wallet_name: Any = None, load_on_startup: Any = None
) -> dict[str, Any]:
    """unloadwallet ( "wallet_name" load_on_startup )

    Unload the named wallet, or the one of the /wallet/<name> endpoint."""
    name = request.wallet_name if wallet_name is None else as_str(wallet_name)
    if name is None:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            "Either the RPC endpoint wallet or the wallet name parameter must be provided",
        )
    if request.wallet_name is not None and request.wallet_name != name:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            "RPC endpoint wallet and wallet_name parameter specify different wallets",
        )
    startup = None if load_on_startup is None else as_bool(load_on_startup)
    node.wallets.unload(name)
    node.wallets.set_load_on_startup(name, startup)
    return {"warning": ""}


@rpc.method(category="wallet")
def listwallets(node: NodeServices, /) -> list[str]:
    """listwallets

    Names of the loaded wallets."""
    return sorted(node.wallets.loaded)


@rpc.method(category="wallet")
def getwalletinfo(node: NodeServices, /, request: RpcRequest) -> dict[str, Any]:
    """getwalletinfo

    State of the wallet: balances, keypool, encryption."""
    lw = resolve(node, request)
    node.wallets.refresh(lw)
    wallet = lw.wallet
    bal = node.wallets.balances(lw)
    out: dict[str, Any] = {
        "walletname": lw.name,
        "walletversion": 1,
        "format": "obol",
        "balance": Amount(bal.trusted),
        "unconfirmed_balance": Amount(bal.untrusted_pending),
        "immature_balance": Amount(bal.immature),
        "txcount": len(node.wallets.history(wallet.locks())),
        "keypoolsize": wallet.keypool_size(EXTERNAL_CHAIN),
        "keypoolsize_hd_internal": wallet.keypool_size(INTERNAL_CHAIN),
        "paytxfee": Amount(0),
        "private_keys_enabled": True,
        "avoid_reuse": False,
        "scanning": False,
        "descriptors": False,
        "external_signer": False,
        "key_type": REGISTRY[wallet.default_key_type].name,
    }
    if wallet.encrypted:
        out["unlocked_until"] = lw.unlocked_until if not wallet.locked else 0
    return out


@rpc.method(category="wallet")
def getnewaddress(
    node: NodeServices, /, request: RpcRequest, label: Any = "", address_type: Any = None
) -> str:
    """getnewaddress ( "label" "address_type" )

    A new receiving address; address_type "ed25519" (the default) or "secp256k1"."""
    lw = resolve(node, request)
    text = as_str(label)
    if text == "*":
        raise RpcError(RPC_WALLET_INVALID_LABEL_NAME, "Invalid label name")
    key_type = as_key_type(address_type, lw.wallet.default_key_type)
    return address(node, node.wallets.new_key(lw, key_type, EXTERNAL_CHAIN, text).lock)


@rpc.method(category="wallet")
def getrawchangeaddress(
    node: NodeServices, /, request: RpcRequest, address_type: Any = None
) -> str:
    """getrawchangeaddress ( "address_type" )

    A new change address, for building raw transactions."""
    lw = resolve(node, request)
    key_type = as_key_type(address_type, lw.wallet.default_key_type)
    return address(node, node.wallets.new_key(lw, key_type, INTERNAL_CHAIN).lock)


@rpc.method(category="wallet")
def keypoolrefill(node: NodeServices, /, request: RpcRequest, newsize: Any = None) -> None:
    """keypoolrefill ( newsize )

    Derive the lookahead addresses again (needs the wallet unlocked)."""
    lw = resolve(node, request)
    if newsize is not None:
        lw.wallet.lookahead = as_int(newsize, "newsize", 1, 10_000)
    lw.wallet.require_unlocked()
    lw.wallet.top_up()
    lw.save()


@rpc.method(category="wallet")
def validateaddress(node: NodeServices, /, address: Any) -> dict[str, Any]:
    """validateaddress "address"

    Whether "address" is a valid address of this network, and what it locks to."""
    text = as_str(address)
    try:
        lock = decode_address(text, node.params)
    except AddressError as exc:
        return {"isvalid": False, "address": text, "error": str(exc)}
    return {
        "isvalid": True,
        "address": encode_address(lock, node.params),
        "scriptPubKey": lock.hex(),
        "isscript": lock[0] == POLICY_LOCK_KIND,
        "iswitness": True,
        "witness_version": lock[0],
        "witness_program": lock[1:].hex(),
        "key_type": _kind_name(lock),
    }


@rpc.method(category="wallet")
def getaddressinfo(node: NodeServices, /, request: RpcRequest, address: Any) -> dict[str, Any]:
    """getaddressinfo "address"

    What the wallet knows of an address: whether it is ours, its key, path and label."""
    lw = resolve(node, request)
    lock = as_address(address, node.params)
    key = lw.wallet.key_for(lock)
    out: dict[str, Any] = {
        "address": encode_address(lock, node.params),
        "scriptPubKey": lock.hex(),
        "ismine": key is not None,
        "solvable": key is not None,
        "iswatchonly": False,
        "isscript": lock[0] == POLICY_LOCK_KIND,
        "iswitness": True,
        "witness_version": lock[0],
        "witness_program": lock[1:].hex(),
        "key_type": _kind_name(lock),
    }
    if key is not None:
        out.update(
            {
                "pubkey": key.pubkey.hex(),
                "typed_pubkey": f"{REGISTRY[key.key_type].name}:{key.pubkey.hex()}",
                "ischange": key.is_change,
                "hdkeypath": key.path,
                "labels": [label_of(lw, lock)] if not key.is_change else [],
            }
        )
    else:
        out["labels"] = []
    data = lw.wallet.policy_for_lock(lock)
    if data is not None:
        out.update(contract_info(lw, lock, data))
    return out


def contract_info(lw: LoadedWallet, lock: bytes, data: bytes) -> dict[str, Any]:
    """A contract's fields in getaddressinfo: ours to watch and to sign our part of
    (Core's ismine/solvable of a multisig it imported), never spent alone."""
    return {
        "ismine": True,
        "solvable": True,
        "contract": True,
        "policy": data.hex(),
        "descriptor": format_policy(decode_policy(data)),
        "pubkeys": [
            f"{REGISTRY[k.key_type].name}:{k.pubkey.hex()}" for k in lw.wallet.policy_signers(data)
        ],
        "labels": [label_of(lw, lock)],
    }


@rpc.method(category="wallet")
def getbalance(
    node: NodeServices,
    /,
    request: RpcRequest,
    dummy: Any = None,
    minconf: Any = 0,
    include_watchonly: Any = None,
    avoid_reuse: Any = None,
) -> Amount:
    """getbalance ( "*" minconf include_watchonly avoid_reuse )

    The trusted balance; with minconf >= 1 only coins at least that deep count.
    include_watchonly=true adds the coins of the wallet's contracts (policy addresses
    it holds a key in), which it never spends alone."""
    lw = resolve(node, request)
    contracts = as_bool(include_watchonly) if include_watchonly is not None else False
    if dummy is not None and dummy != "*":
        raise RpcError(
            RPC_METHOD_DEPRECATED, 'dummy first argument must be excluded or set to "*".'
        )
    depth = as_int(minconf, "minconf", 0)
    node.wallets.refresh(lw)
    if depth == 0:
        extra = node.wallets.balances(lw, contract=True).trusted if contracts else 0
        return Amount(node.wallets.balances(lw).trusted + extra)
    tip = node.wallets.tip_height
    return Amount(
        sum(
            c.value
            for c in node.wallets.coins(lw)
            if c.height is not None
            and node.wallets.is_mature(c)
            and c.depth(tip) >= depth
            and (contracts or not c.contract)
        )
    )


@rpc.method(category="wallet")
def getbalances(node: NodeServices, /, request: RpcRequest) -> dict[str, Any]:
    """getbalances

    Balances split as Core's: trusted, untrusted_pending, immature; "contract": the
    same for the coins of the wallet's contracts, which it never spends alone."""
    lw = resolve(node, request)
    node.wallets.refresh(lw)
    tip = node.chain.tip

    def split(contract: bool) -> dict[str, Amount]:
        bal = node.wallets.balances(lw, contract)
        return {
            "trusted": Amount(bal.trusted),
            "untrusted_pending": Amount(bal.untrusted_pending),
            "immature": Amount(bal.immature),
        }

    return {
        "mine": split(False),
        "contract": split(True),
        "lastprocessedblock": {"hash": tip.header.hash_hex, "height": tip.height},
    }


@rpc.method(category="wallet")
def listunspent(
    node: NodeServices,
    /,
    request: RpcRequest,
    minconf: Any = 1,
    maxconf: Any = 9_999_999,
    addresses: Any = None,
    include_unsafe: Any = True,
    query_options: Any = None,
) -> list[dict[str, Any]]:
    """listunspent ( minconf maxconf ["address",...] include_unsafe query_options )

    Spendable coins with minconf..maxconf confirmations (immature coinbases left out).
    Coins of the wallet's contracts are listed too, with "contract": true, their policy
    text and "spendable": false: only a PSBT their signers build together spends them."""
    lw = resolve(node, request)
    low = as_int(minconf, "minconf", 0)
    high = as_int(maxconf, "maxconf", 0)
    unsafe_ok = as_bool(include_unsafe)
    only = None
    if addresses is not None:
        if not isinstance(addresses, list):
            raise RpcError(RPC_TYPE_ERROR, "addresses must be an array")
        only = {as_address(a, node.params) for a in addresses}
    node.wallets.refresh(lw)
    tip = node.wallets.tip_height
    out = []
    coins = sorted(node.wallets.coins(lw), key=lambda c: (-c.depth(tip), c.txid, c.index))
    for coin in coins:
        depth = coin.depth(tip)
        safe = coin.height is not None or coin.from_me
        if not low <= depth <= high or not node.wallets.is_mature(coin):
            continue
        if coin.key in lw.locked_coins:
            continue
        if (only is not None and coin.lock not in only) or (not safe and not unsafe_ok):
            continue
        item = {
            "txid": hash_to_hex(coin.txid),
            "vout": coin.index,
            "address": address(node, coin.lock),
            "label": label_of(lw, coin.lock),
            "scriptPubKey": coin.lock.hex(),
            "amount": Amount(coin.value),
            "confirmations": depth,
            "spendable": not coin.contract,
            "solvable": True,
            "safe": safe,
            "coinbase": coin.coinbase,
            "contract": coin.contract,
        }
        policy = lw.wallet.policy_for_lock(coin.lock)
        if policy is not None:
            item["policy"] = format_policy(decode_policy(policy))
        out.append(item)
    return out


@rpc.method(category="wallet")
def listtransactions(
    node: NodeServices,
    /,
    request: RpcRequest,
    label: Any = None,
    count: Any = 10,
    skip: Any = 0,
    include_watchonly: Any = None,
) -> list[dict[str, Any]]:
    """listtransactions ( "label" count skip include_watchonly )

    The most recent payments in and out (oldest first), skipping the newest `skip`."""
    lw = resolve(node, request)
    want = None if label in (None, "*") else as_str(label)
    n = as_int(count, "count")
    start = as_int(skip, "skip")
    if n < 0:
        raise RpcError(RPC_INVALID_PARAMETER, "Negative count")
    if start < 0:
        raise RpcError(RPC_INVALID_PARAMETER, "Negative from")
    node.wallets.refresh(lw)
    newest_first: list[dict[str, Any]] = []
    for wtx in reversed(node.wallets.history(lw.wallet.locks())):
        entries = details(node, lw, wtx)
        if want is not None:
            entries = [e for e in entries if e.get("label") == want]
        newest_first.extend(reversed(entries))
        if len(newest_first) >= start + n:
            break
    return list(reversed(newest_first[start : start + n]))


@rpc.method(category="wallet")
def listsinceblock(
    node: NodeServices,
    /,
    request: RpcRequest,
    blockhash: Any = None,
    target_confirmations: Any = 1,
    include_watchonly: Any = None,
    include_removed: Any = True,
    include_change: Any = False,
    label: Any = None,
) -> dict[str, Any]:
    """listsinceblock ( "blockhash" target_confirmations include_watchonly include_removed include_change "label" )

    Payments in blocks after blockhash (all, without it) and in the mempool; lastblock
    is the block target_confirmations deep, to pass next time. "removed" stays empty:
    txs of a block that left the chain are back in the mempool or in the new branch,
    and show there."""  # noqa: E501
    lw = resolve(node, request)
    since = -1
    if blockhash is not None:
        entry = node.chain.index.get(as_hash(blockhash, "blockhash"))
        if entry is None:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        since = node.chain.find_fork(entry).height
    depth = as_int(target_confirmations, "target_confirmations")
    if depth < 1:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter")
    want = None if label is None else as_str(label)
    node.wallets.refresh(lw)
    out = []
    for wtx in node.wallets.history(lw.wallet.locks()):
        if wtx.height is None or wtx.height > since:
            out += [e for e in details(node, lw, wtx) if want is None or e.get("label") == want]
    last = node.chain.at_height(max(0, node.wallets.tip_height + 1 - depth))
    assert last is not None
    return {"transactions": out, "removed": [], "lastblock": last.header.hash_hex}


@rpc.method(category="wallet")
def gettransaction(
    node: NodeServices,
    /,
    request: RpcRequest,
    txid: Any,
    include_watchonly: Any = None,
    verbose: Any = False,
) -> dict[str, Any]:
    """gettransaction "txid" ( include_watchonly verbose )

    A wallet tx: net amount, fee, confirmations, one detail per payment, its hex."""
    lw = resolve(node, request)
    wanted = as_hash(txid, "txid")
    wtx = node.wallets.find_tx(lw, wanted)
    if wtx is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Invalid or non-wallet transaction id")
    summary = node.wallets.summarize(lw, wtx)
    out: dict[str, Any] = {"amount": Amount(summary.amount)}
    if summary.fee is not None:
        out["fee"] = Amount(summary.fee)
    out.update(tx_fields(node, wtx))
    if "trusted" in out:
        out["trusted"] = summary.fee is not None
    record = lw.wallet.sent.get(wanted)
    if record is not None:
        out["time"] = out["timereceived"] = record.time
        if record.comment:
            out["comment"] = record.comment
        if record.comment_to:
            out["to"] = record.comment_to
    out["details"] = details(node, lw, wtx)
    out["hex"] = wtx.tx.serialize().hex()
    if as_bool(verbose):
        out["decoded"] = tx_json(wtx.tx, node.params)
    return out


async def pay(
    node: NodeServices,
    /,
    lw: LoadedWallet,
    outputs: list[TxOut],
    fee_rate: Any,
    comment: Any,
    comment_to: Any,
    verbose: Any,
    replaceable: Any = None,
    subtract: tuple[int, ...] = (),
) -> Any:
    rate = as_fee_rate(fee_rate)
    rbf = True if replaceable is None else as_bool(replaceable)
    try:
        tx, fee = await node.wallets.send(
            lw,
            outputs,
            rate,
            as_str(comment or ""),
            as_str(comment_to or ""),
            rbf,
            subtract,
        )
    except ValueError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, str(exc)) from exc
    if as_bool(verbose if verbose is not None else False):
        reason = "Fallback fee" if rate is None else "Fee rate specified by user"
        return {"txid": tx.txid_hex, "fee_reason": reason, "fee": Amount(fee)}
    return tx.txid_hex


def subtract_indexes(subtract: Any, addresses: list[str]) -> tuple[int, ...]:
    """sendmany's subtractfeefrom: addresses (each once, among the outputs) -> indexes."""
    if subtract is None:
        return ()
    if not isinstance(subtract, list):
        raise RpcError(RPC_TYPE_ERROR, "subtractfeefrom must be an array of addresses")
    out = []
    for text in subtract:
        if not isinstance(text, str) or text not in addresses:
            raise RpcError(
                RPC_INVALID_PARAMETER,
                f"Invalid parameter 'subtract fee from output', destination {text} not "
                "found in tx outputs",
            )
        if addresses.index(text) in out:
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid parameter, duplicated address: {text}")
        out.append(addresses.index(text))
    return tuple(out)


@rpc.method(category="wallet")
async def sendtoaddress(
    node: NodeServices,
    /,
    request: RpcRequest,
    address: Any,
    amount: Any,
    comment: Any = "",
    comment_to: Any = "",
    subtractfeefromamount: Any = False,
    replaceable: Any = None,
    conf_target: Any = None,
    estimate_mode: Any = None,
    avoid_reuse: Any = None,
    fee_rate: Any = None,
    verbose: Any = False,
) -> Any:
    """sendtoaddress "address" amount ( "comment" "comment_to" subtractfeefromamount replaceable conf_target "estimate_mode" avoid_reuse fee_rate verbose )

    Pay amount OBOL to address; returns the txid. fee_rate in units per byte
    (default: the fallback rate of 10). subtractfeefromamount=true: the recipient gets
    amount less the fee. replaceable (default true) signals opt-in replace-by-fee."""  # noqa: E501
    lw = resolve(node, request)
    lock = as_address(address, node.params)
    value = parse_amount(amount, allow_zero=False)
    subtract = (0,) if as_bool(subtractfeefromamount) else ()
    outputs = [TxOut(value, lock)]
    return await pay(
        node, lw, outputs, fee_rate, comment, comment_to, verbose, replaceable, subtract
    )


@rpc.method(category="wallet")
async def sendmany(
    node: NodeServices,
    /,
    request: RpcRequest,
    dummy: Any,
    amounts: Any,
    minconf: Any = None,
    comment: Any = "",
    subtractfeefrom: Any = None,
    replaceable: Any = None,
    conf_target: Any = None,
    estimate_mode: Any = None,
    fee_rate: Any = None,
    verbose: Any = False,
) -> Any:
    """sendmany "" {"address":amount,...} ( minconf "comment" ["address",...] replaceable conf_target "estimate_mode" fee_rate verbose )

    Pay several addresses in one tx; returns the txid."""  # noqa: E501
    lw = resolve(node, request)
    if dummy != "":
        raise RpcError(RPC_INVALID_PARAMETER, 'Dummy value must be set to ""')
    if not isinstance(amounts, dict) or not amounts:
        raise RpcError(RPC_TYPE_ERROR, "amounts must be a non-empty object")
    subtract = subtract_indexes(subtractfeefrom, list(amounts))
    outputs = []
    seen = set()
    for text, amount in amounts.items():
        lock = as_address(text, node.params)
        if lock in seen:
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid parameter, duplicated address: {text}")
        seen.add(lock)
        outputs.append(TxOut(parse_amount(amount, allow_zero=False), lock))
    return await pay(node, lw, outputs, fee_rate, comment, "", verbose, replaceable, subtract)


@rpc.method(category="wallet")
def fundrawtransaction(
    node: NodeServices,
    /,
    request: RpcRequest,
    hexstring: Any,
    options: Any = None,
    iswitness: Any = None,
) -> dict[str, Any]:
    """fundrawtransaction "hexstring" ( options )

    Add inputs and change to pay a tx's outputs (its own inputs, the wallet's coins,
    and its locktime are kept); returns the unsigned tx, its fee and the change
    position. Options: fee_rate (units per byte), replaceable (default true, the
    wallet's default), subtractFeeFromOutputs."""
    lw = resolve(node, request)
    tx = parse_tx_hex(hexstring)
    if not tx.outputs:
        raise RpcError(RPC_INVALID_PARAMETER, "TX must have at least one output")
    opts = options if isinstance(options, dict) else {}
    try:
        rate = node.wallets.fee_rate(as_fee_rate(opts.get("fee_rate")))
    except ValueError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, str(exc)) from exc
    rbf = as_bool(opts.get("replaceable", True))
    subtract = as_output_indexes(opts.get("subtractFeeFromOutputs"), len(tx.outputs))
    funded, fee, change_pos = node.wallets.fund(lw, tx.outputs, rate, rbf, subtract, tx.inputs)
    funded = Tx(funded.version, funded.inputs, funded.outputs, tx.locktime)
    return {"hex": funded.serialize().hex(), "fee": Amount(fee), "changepos": change_pos}


@rpc.method(category="wallet")
def signrawtransactionwithwallet(
    node: NodeServices,
    /,
    request: RpcRequest,
    hexstring: Any,
    prevtxs: Any = None,
    sighashtype: Any = None,
) -> dict[str, Any]:
    """signrawtransactionwithwallet "hexstring" ( prevtxs "sighashtype" )

    Sign every input that spends one of the wallet's coins (chain or mempool)."""
    lw = resolve(node, request)
    tx: Tx = parse_tx_hex(hexstring)
    if not tx.inputs:
        raise RpcError(RPC_DESERIALIZATION_ERROR, "TX has no inputs")
    signed, missing = node.wallets.sign(lw, tx)
    return sign_result(signed, missing)


@rpc.method(category="wallet")
async def encryptwallet(node: NodeServices, /, request: RpcRequest, passphrase: Any) -> str:
    """encryptwallet "passphrase"

    Encrypt the wallet's seed with passphrase (Argon2id, XSalsa20-Poly1305); the
    wallet is locked afterwards."""
    lw = resolve(node, request)
    await node.wallets.encrypt(lw, as_passphrase(passphrase))
    return (
        "wallet encrypted; the seed is unchanged, so if an unencrypted copy of this "
        "wallet (a backup, or old disk blocks) may exist, create a new encrypted wallet "
        "and send your funds to it"
    )


@rpc.method(category="wallet")
async def walletpassphrase(
    node: NodeServices, /, request: RpcRequest, passphrase: Any, timeout: Any
) -> None:
    """walletpassphrase "passphrase" timeout

    Unlock the wallet for timeout seconds (at most 100000000)."""
    lw = resolve(node, request)
    secret = as_passphrase(passphrase)
    seconds = as_int(timeout, "timeout")
    if seconds < 0:
        raise RpcError(RPC_INVALID_PARAMETER, "Timeout cannot be negative.")
    await node.wallets.unlock(lw, secret, min(seconds, MAX_UNLOCK_SECONDS))


@rpc.method(category="wallet")
def walletlock(node: NodeServices, /, request: RpcRequest) -> None:
    """walletlock

    Forget the decrypted seed now."""
    node.wallets.relock(resolve(node, request))


@rpc.method(category="wallet")
async def walletpassphrasechange(
    node: NodeServices, /, request: RpcRequest, oldpassphrase: Any, newpassphrase: Any
) -> None:
    """walletpassphrasechange "oldpassphrase" "newpassphrase"

    Re-encrypt the seed under a new passphrase."""
    lw = resolve(node, request)
    await node.wallets.change_passphrase(
        lw, as_passphrase(oldpassphrase), as_passphrase(newpassphrase)
    )


@rpc.method(category="hidden")
async def dumpmnemonic(node: NodeServices, /, request: RpcRequest, passphrase: Any = None) -> str:
    """dumpmnemonic ( "passphrase" )

    The wallet's recovery phrase (for `obol wallet backup`). An encrypted wallet needs
    its passphrase here, or to be unlocked."""
    lw = resolve(node, request)
    secret = None if passphrase is None else as_str(passphrase)
    return await asyncio.to_thread(lw.wallet.mnemonic, secret)


@rpc.method(category="addressindex")
async def getaddressbalance(node: NodeServices, /, address: Any) -> dict[str, Any]:
    """getaddressbalance "address"

    Confirmed balance, the mempool's net change to it, and all confirmed receipts."""
    lock = as_address(address, node.params)
    entries = node.mempool.entries()
    got = await node.in_chain_thread(addressquery.balance, node.chain.db, entries, lock)
    return {
        "balance": Amount(got.totals.balance),
        "unconfirmed": Amount(got.incoming - got.outgoing),
        "received": Amount(got.totals.received),
        "txcount": got.totals.tx_count,
        "utxocount": got.totals.utxo_count,
    }


@rpc.method(category="addressindex")
async def getaddressutxos(node: NodeServices, /, address: Any) -> list[dict[str, Any]]:
    """getaddressutxos "address"

    Unspent outputs of an address, mempool included (unconfirmed: height null), less
    those a mempool tx spends."""
    lock = as_address(address, node.params)
    db = node.chain.db
    found = await node.in_chain_thread(lambda: list(db.address_coins(lock)))
    tip = node.wallets.tip_height
    coins = sorted(
        node.wallets.unspent([lock], {lock: found}),
        key=lambda c: (c.height is None, c.height or 0, c.txid),
    )
    return [
        {
            "txid": hash_to_hex(c.txid),
            "vout": c.index,
            "address": encode_address(lock, node.params),
            "scriptPubKey": lock_json(lock, node.params)["hex"],
            "amount": Amount(c.value),
            "height": c.height,
            "confirmations": c.depth(tip),
            "coinbase": c.coinbase,
        }
        for c in coins
    ]


@rpc.method(category="addressindex")
async def getaddresshistory(
    node: NodeServices, /, address: Any, count: Any = None, last_seen_txid: Any = None
) -> list[dict[str, Any]]:
    """getaddresshistory "address" ( count "last_seen_txid" )

    Txs that paid or spent from the address, newest first, at most ``count`` (default
    25, at most 500): the mempool's first, then confirmed ones. For the next page pass
    the last txid of this one as ``last_seen_txid`` (confirmed txs only follow)."""
    lock = as_address(address, node.params)
    limit = 25 if count is None else as_int(count, "count", 1, MAX_HISTORY_PAGE)
    last_seen = None if last_seen_txid is None else as_hash(last_seen_txid, "last_seen_txid")
    entries = node.mempool.entries() if last_seen is None else []
    items = await node.in_chain_thread(address_history, node, entries, lock, limit, last_seen)
    tip = node.chain.height
    return [
        {
            "txid": hash_to_hex(i.txid),
            "height": i.height,
            "blockhash": None if i.block_hash is None else hash_to_hex(i.block_hash),
            "confirmations": 0 if i.height is None else tip - i.height + 1,
            "received": Amount(i.received),
            "sent": Amount(i.sent),
            "time": i.time,
        }
        for i in items
    ]


def address_history(
    node: NodeServices, /, entries: list, lock: bytes, limit: int, last_seen: bytes | None
) -> list[addressquery.HistoryItem]:
    """The page's rows; runs in the chain thread."""
    items = addressquery.mempool_history(node.chain.db, entries, lock, limit)
    try:
        more = addressquery.chain_history(node.chain, lock, limit - len(items), last_seen)
    except addressquery.CursorNotFound as exc:
        raise RpcError(
            RPC_INVALID_ADDRESS_OR_KEY, "last_seen_txid is not a confirmed transaction"
        ) from exc
    return items + more


def _kind_name(lock: bytes) -> str:
    return "policy" if lock[0] == POLICY_LOCK_KIND else REGISTRY[lock[0]].name
