"""Bitcoin Core's PSBT RPCs on obol's partially signed txs (wallet/psbt.py, and
docs/PROTOCOL.md "Partially signed transactions").

createpsbt, combinepsbt, joinpsbts, finalizepsbt, decodepsbt, analyzepsbt and
utxoupdatepsbt need no wallet; walletcreatefundedpsbt and walletprocesspsbt use one.
Every PSBT handed in is read whole first: a damaged or altered string, another network's,
an unknown version, or one whose coins disagree with this node's coin set (chain and
mempool) is refused with -22 and the reason, before anything else happens. No PSBT RPC
changes a wallet, except walletcreatefundedpsbt handing out a change address as
fundrawtransaction does.

Where Core has a script, obol has a policy: utxoupdatepsbt's ``descriptors`` take policies
(text or hex, or ``{"desc": ...}``), attached to the inputs and outputs whose lock they
hash to; analyzepsbt's ``missing`` names a missing policy by its hash (Core's
``witnessscript``), and signatures by typed public key.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from consensus.hashing import sha256
from consensus.policy import (
    Key,
    Policy,
    Thresh,
    decode_policy,
    encode_policy,
    policy_keys,
    policy_lock,
)
from consensus.policy_text import format_policy
from consensus.primitives import POLICY_LOCK_KIND, Tx
from consensus.signatures import make_lock
from wallet import psbt as P
from wallet.psbt import Psbt, PsbtError, PsbtOutput, encode_psbt, typed_key

from ...mempool.policy import FINAL_TX_VERSION, REPLACEABLE_TX_VERSION
from ...wallets import psbt as psbtwallet
from ...wallets.psbt import read_psbt
from ..errors import RPC_DESERIALIZATION_ERROR, RPC_INVALID_PARAMETER, RpcError
from ..jsonfmt import Amount
from ..params import as_bool, as_int, as_list, as_str
from ..registry import MethodTable, RpcRequest
from ..views import lock_json, tx_json
from .policies import _read_policy, policy_json
from .rawbuild import MAX_U32, parse_inputs, parse_outputs
from .wallet import as_fee_rate, as_output_indexes

if TYPE_CHECKING:
    from ..services import NodeServices

SIGHASH_TYPES = {"DEFAULT": False, "ALL": False, "ALL|ANYONECANPAY": True}
_ROLE_ORDER = ("updater", "signer", "finalizer", "extractor")


def bad_psbt(exc: PsbtError) -> RpcError:
    return RpcError(RPC_DESERIALIZATION_ERROR, f"TX decode failed {exc.message}")


rpc = MethodTable()


def load(node: NodeServices, /, text: Any) -> Psbt:
    """The PSBT of ``text``, its coins checked against this node's: -22 otherwise."""
    try:
        return read_psbt(node.wallets, as_str(text))
    except PsbtError as exc:
        raise bad_psbt(exc) from exc


def load_list(node: NodeServices, /, txs: Any) -> list[Psbt]:
    items = as_list(txs)
    if not items:
        raise RpcError(RPC_INVALID_PARAMETER, "Parameter 'txs' cannot be empty")
    return [load(node, t) for t in items]


def fill_coins(node: NodeServices, /, psbt: Psbt) -> Psbt:
    return psbtwallet.fill_coins(node.wallets, psbt)


def usage(func: Callable[[], Psbt]) -> Psbt:
    try:
        return func()
    except PsbtError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, exc.message) from exc


def build_tx(
    node: NodeServices, /, inputs: Any, outputs: Any, locktime: Any, replaceable: Any
) -> Tx:
    ins = parse_inputs(inputs)
    outs = parse_outputs(outputs, node)
    lock_time = as_int(locktime, "locktime", 0, MAX_U32)
    version = REPLACEABLE_TX_VERSION if as_bool(replaceable) else FINAL_TX_VERSION
    return Tx(version, tuple(ins), tuple(outs), lock_time)


@rpc.method(category="rawtransactions")
def createpsbt(
    node: NodeServices, /, inputs: Any, outputs: Any, locktime: Any = 0, replaceable: Any = False
) -> str:
    """createpsbt [{"txid":"hex","vout":n},...] [{"address":amount},...] ( locktime replaceable )

    A PSBT of the unsigned tx spending inputs to outputs (the Creator role); its coins,
    keys and policies are added by utxoupdatepsbt or walletprocesspsbt."""
    return encode_psbt(
        P.create_psbt(build_tx(node, inputs, outputs, locktime, replaceable), node.params.magic)
    )


@rpc.method(category="rawtransactions")
def utxoupdatepsbt(node: NodeServices, /, psbt: Any, descriptors: Any = None) -> str:
    """utxoupdatepsbt "psbt" ( ["policy" or {"desc":"policy"},...] )

    Add each input's coin from the chain or the mempool, and, from the policies given
    (text, or hex of the encoding), each policy whose lock an input spends or an
    output pays: the input's policy, the output's description. pk(KEY) gives a key
    input its public key."""
    p = fill_coins(node, load(node, psbt))
    policies = [_descriptor(d) for d in as_list(descriptors)] if descriptors else []
    by_lock: dict[bytes, bytes] = {}
    for policy in policies:
        data = encode_policy(policy)
        by_lock[policy_lock(data)] = data
        if type(policy) is Key:
            by_lock[make_lock(policy.key_type, policy.pubkey)] = policy.pubkey
    for n, pin in enumerate(p.inputs):
        field = by_lock.get(pin.coin.lock) if pin.coin is not None else None
        if field is not None and not p.tx.inputs[n].pubkey:
            p = usage(lambda p=p, n=n, field=field: P.update_input(p, n, field=field))
    for n, out in enumerate(p.tx.outputs):
        field = by_lock.get(out.lock)
        if field is not None and p.outputs[n] == PsbtOutput():
            desc = (
                PsbtOutput(policy=field)
                if out.lock[0] == POLICY_LOCK_KIND
                else PsbtOutput(key=Key(out.lock[0], field))
            )
            p = P.update_output(p, n, desc)
    return encode_psbt(p)


@rpc.method(category="rawtransactions")
def combinepsbt(node: NodeServices, /, txs: Any) -> str:
    """combinepsbt ["psbt",...]

    One PSBT with the coins, keys, policies, signatures and preimages of all the given
    PSBTs of the same tx (the Combiner role)."""
    return encode_psbt(usage(lambda: P.combine(load_list(node, txs))))


@rpc.method(category="rawtransactions")
def joinpsbts(node: NodeServices, /, txs: Any) -> str:
    """joinpsbts ["psbt",...]

    One PSBT spending the inputs and paying the outputs of all the given unsigned
    PSBTs, in a random order (no input may be in two). Each party signs afterwards."""
    joined = usage(lambda: P.join(load_list(node, txs)))
    rng = secrets.SystemRandom()
    ins, outs = list(range(len(joined.inputs))), list(range(len(joined.outputs)))
    rng.shuffle(ins)
    rng.shuffle(outs)
    return encode_psbt(P.reorder(joined, ins, outs))


@rpc.method(category="rawtransactions")
def finalizepsbt(node: NodeServices, /, psbt: Any, extract: Any = True) -> dict[str, Any]:
    """finalizepsbt "psbt" ( extract )

    Build each input's final sig where its signatures (and preimages) allow: a policy's
    satisfaction uses exactly k children of each used threshold, on the branch that
    holds now and needs no time lock if one does. With extract (default true) and every
    input final, the network tx's hex; else the PSBT."""
    p = P.finalize(fill_coins(node, load(node, psbt)), node.params)
    complete = P.is_complete(p)
    if complete and as_bool(extract):
        return {"hex": P.extract(p).serialize().hex(), "complete": True}
    return {"psbt": encode_psbt(p), "complete": complete}


@rpc.method(category="rawtransactions")
def decodepsbt(node: NodeServices, /, psbt: Any) -> dict[str, Any]:
    """decodepsbt "psbt"

    The PSBT as JSON: the tx, and per input its coin, key or policy (text, branches,
    time locks), partial signatures with their sighash flags, preimages and final sig;
    per output its key or policy; the fee once every coin is known."""
    p = load(node, psbt)
    out: dict[str, Any] = {
        "tx": tx_json(p.tx, node.params),
        "psbt_version": P.VERSION,
        "unknown": {},
        "inputs": [input_json(node, p, n) for n in range(len(p.inputs))],
        "outputs": [output_json(node, p, n) for n in range(len(p.outputs))],
    }
    if p.fee is not None:
        out["fee"] = Amount(p.fee)
    return out


def input_json(node: NodeServices, /, p: Psbt, n: int) -> dict[str, Any]:
    pin = p.inputs[n]
    out: dict[str, Any] = {}
    if pin.coin is not None:
        out["witness_utxo"] = {
            "amount": Amount(pin.coin.value),
            "scriptPubKey": lock_json(pin.coin.lock, node.params),
        }
        spend = p.spend(n)
        if pin.coin.lock[0] == POLICY_LOCK_KIND and spend is not None:
            out["policy"] = spend_policy_json(node, spend)
        elif type(spend) is Key:
            out["pubkey"] = typed_key(spend)
    if pin.sigs:
        out["partial_signatures"] = {typed_key(k): s.hex() for k, s in pin.sigs}
        out["sighash"] = {
            typed_key(k): "ALL|ANYONECANPAY" if len(s) == 65 else "ALL" for k, s in pin.sigs
        }
    if pin.preimages:
        out["sha256_preimages"] = {sha256(x).hex(): x.hex() for x in pin.preimages}
    if pin.final is not None:
        out["final_sig"] = pin.final.hex()
    return out


def spend_policy_json(node: NodeServices, /, policy: Policy) -> dict[str, Any]:
    info = policy_json(policy, node)
    one_of = type(policy) is Thresh and policy.k == 1 and len(policy.subs) > 1
    branches = policy.subs if one_of else (policy,)
    return {
        "text": info["text"],
        "hex": info["hex"],
        "branches": [format_policy(b) for b in branches],
        "keys": [typed_key(k) for k in policy_keys(policy)],
        "timelocks": info["timelocks"],
        "hashlocks": info["hashlocks"],
    }


def output_json(node: NodeServices, /, p: Psbt, n: int) -> dict[str, Any]:
    pout = p.outputs[n]
    if pout.policy is not None:
        return {"policy": spend_policy_json(node, decode_policy(pout.policy))}
    if pout.key is not None:
        return {"pubkey": typed_key(pout.key)}
    return {}


@rpc.method(category="rawtransactions")
def analyzepsbt(node: NodeServices, /, psbt: Any) -> dict[str, Any]:
    """analyzepsbt "psbt"

    Who acts next (updater, signer, finalizer or extractor) and, per input, what is
    still missing: its key (pubkeys) or policy, signatures (typed keys, on the cheapest
    way to complete it), preimages (their sha256) and time locks the locktime does not
    meet; the estimated size, fee rate and fee once known."""
    p = load(node, psbt)
    inputs = []
    roles = []
    for n, pin in enumerate(p.inputs):
        m = P.missing(p, n, node.params)
        roles.append(m.role)
        entry: dict[str, Any] = {"has_utxo": pin.coin is not None, "is_final": m.final}
        wanted: dict[str, Any] = {}
        if m.field and pin.coin is not None:
            if pin.coin.lock[0] == POLICY_LOCK_KIND:
                wanted["policy"] = pin.coin.lock[1:].hex()
            else:
                wanted["pubkeys"] = [pin.coin.lock[1:].hex()]
        if m.keys:
            wanted["signatures"] = [typed_key(k) for k in m.keys]
        if m.hashes:
            wanted["preimages"] = [h.hex() for h in m.hashes]
        if m.after:
            wanted["timelocks"] = list(m.after)
        if wanted:
            entry["missing"] = wanted
        entry["next"] = m.role
        inputs.append(entry)
    out: dict[str, Any] = {"inputs": inputs}
    size = P.estimated_size(p, node.params)
    fee = p.fee
    if size is not None:
        out["estimated_vsize"] = size
        if fee is not None:
            out["estimated_feerate"] = Amount(fee * 1000 // size)
    if fee is not None:
        out["fee"] = Amount(fee)
    out["next"] = min(roles, key=_ROLE_ORDER.index) if roles else "updater"
    return out


@rpc.method(category="wallet")
def walletcreatefundedpsbt(
    node: NodeServices,
    /,
    request: RpcRequest,
    inputs: Any = None,
    outputs: Any = None,
    locktime: Any = 0,
    options: Any = None,
    bip32derivs: Any = None,
) -> dict[str, Any]:
    """walletcreatefundedpsbt ( [{"txid":"hex","vout":n},...] ) [{"address":amount},...] ( locktime options )

    A PSBT paying outputs from the wallet's coins with change (the Creator and Updater
    roles): every input's coin and key filled in, so others can sign at once; the
    change output described. Options: fee_rate (units per byte), replaceable
    (default true), subtractFeeFromOutputs."""  # noqa: E501
    lw = node.wallets.resolve(request.wallet_name)
    if outputs is None:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, missing outputs")
    preset = parse_inputs(inputs) if inputs is not None else []
    outs = parse_outputs(outputs, node)
    lock_time = as_int(locktime, "locktime", 0, MAX_U32)
    opts = options if isinstance(options, dict) else {}
    try:
        rate = node.wallets.fee_rate(as_fee_rate(opts.get("fee_rate")))
    except ValueError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, str(exc)) from exc
    rbf = as_bool(opts.get("replaceable", True))
    subtract = as_output_indexes(opts.get("subtractFeeFromOutputs"), len(outs))
    funded, fee, change_pos = node.wallets.fund(lw, outs, rate, rbf, subtract, preset)
    tx = Tx(funded.version, funded.inputs, funded.outputs, lock_time)
    p = fill_coins(node, P.create_psbt(tx, node.params.magic))
    p = usage(lambda: psbtwallet.update_from_wallet(lw, p))
    return {"psbt": encode_psbt(p), "fee": Amount(fee), "changepos": change_pos}


@rpc.method(category="wallet")
def walletprocesspsbt(
    node: NodeServices,
    /,
    request: RpcRequest,
    psbt: Any,
    sign: Any = True,
    sighashtype: Any = "DEFAULT",
    bip32derivs: Any = None,
    finalize: Any = True,
) -> dict[str, Any]:
    """walletprocesspsbt "psbt" ( sign "sighashtype" bip32derivs finalize )

    Update the PSBT with what the wallet knows, then sign the inputs it can sign: its
    key inputs, and policy inputs with a key of the wallet, with sighashtype "ALL"
    (the default) or "ALL|ANYONECANPAY"; finalize what can be (default true)."""
    lw = node.wallets.resolve(request.wallet_name)
    flag = as_str(sighashtype)
    if flag not in SIGHASH_TYPES:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            f"Invalid sighash param: {flag} (obol signs ALL or ALL|ANYONECANPAY)",
        )
    loaded = fill_coins(node, load(node, psbt))
    p = usage(lambda: psbtwallet.update_from_wallet(lw, loaded))
    if as_bool(sign):
        signing = p
        p = usage(
            lambda: psbtwallet.sign_with_wallet(lw, signing, node.params, SIGHASH_TYPES[flag])
        )
    if as_bool(finalize):
        p = P.finalize(p, node.params)
    complete = P.is_complete(p)
    out: dict[str, Any] = {"psbt": encode_psbt(p), "complete": complete}
    if complete and as_bool(finalize):
        out["hex"] = P.extract(p).serialize().hex()
    return out


def _descriptor(item: Any) -> Policy:
    """utxoupdatepsbt's descriptors: a policy (text or hex), or {"desc": policy, ...}."""
    if isinstance(item, dict):
        if "desc" not in item:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, descriptor object needs desc")
        item = item["desc"]
    return _read_policy(item)
