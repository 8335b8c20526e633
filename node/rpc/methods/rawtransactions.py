"""Raw-transaction RPCs: getrawtransaction, decoderawtransaction, sendrawtransaction,
testmempoolaccept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.encoding import decode_tx
from consensus.errors import DecodeError, RejectCode, RuleError
from consensus.primitives import Tx

from ...mempool.policy import PolicyCode, PolicyError
from ..errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_VERIFY_ALREADY_IN_CHAIN,
    RPC_VERIFY_ERROR,
    RPC_VERIFY_REJECTED,
    RpcError,
)
from ..jsonfmt import Amount
from ..params import as_hash, as_hex, as_list, parse_verbosity
from ..registry import MethodTable
from ..views import tx_json

if TYPE_CHECKING:
    from ..services import NodeServices

MAX_TESTMEMPOOLACCEPT = 25


def parse_tx_hex(value: Any) -> Tx:
    raw = as_hex(value, "TX")
    try:
        return decode_tx(raw)
    except DecodeError as exc:
        raise RpcError(RPC_DESERIALIZATION_ERROR, f"TX decode failed: {exc.message}") from exc


def reject_reason(exc: RuleError | PolicyError) -> str:
    return exc.code.value


rpc = MethodTable()


@rpc.method(category="rawtransactions")
def getrawtransaction(
    node: NodeServices, /, txid: Any, verbose: Any = False, blockhash: Any = None
) -> Any:
    """getrawtransaction "txid" ( verbose "blockhash" )

    A tx from the mempool or the chain (tx index): hex, or JSON with verbose=true."""
    txid_b = as_hash(txid, "txid")
    level = parse_verbosity(verbose, 0)
    in_block = None
    entry = node.mempool.get(txid_b)
    tx = entry.tx if entry is not None else None
    if tx is None:
        located = node.chain.db.tx_location(txid_b)
        if located is not None:
            block_hash, position = located
            if blockhash is not None and as_hash(blockhash, "blockhash") != block_hash:
                located = None
            else:
                block = node.chain.get_block(block_hash)
                if block is not None:
                    tx = block.txs[position]
                    in_block = node.chain.index.get(block_hash)
    if tx is None:
        raise RpcError(
            RPC_INVALID_ADDRESS_OR_KEY,
            "No such mempool or blockchain transaction. Use gettransaction for wallet "
            "transactions.",
        )
    if level == 0:
        return tx.serialize().hex()
    out = {"hex": tx.serialize().hex(), **tx_json(tx, node.params)}
    if in_block is not None:
        out["blockhash"] = in_block.header.hash_hex
        out["confirmations"] = node.chain.height - in_block.height + 1
        out["time"] = in_block.header.time
        out["blocktime"] = in_block.header.time
    return out


@rpc.method(category="rawtransactions")
def decoderawtransaction(node: NodeServices, /, hexstring: Any) -> dict[str, Any]:
    """decoderawtransaction "hexstring"

    The JSON form of a serialized tx."""
    return tx_json(parse_tx_hex(hexstring), node.params)


@rpc.method(category="rawtransactions")
async def sendrawtransaction(node: NodeServices, /, hexstring: Any, maxfeerate: Any = None) -> str:
    """sendrawtransaction "hexstring" ( maxfeerate )

    Submit a signed tx to the mempool (and to peers); returns its txid."""
    tx = parse_tx_hex(hexstring)
    if tx.txid in node.mempool:
        # Announced again, as Core does: to every peer not known to have it.
        if node.p2p is not None:
            node.p2p.relay_txs([tx])
        return tx.txid_hex
    try:
        await node.submit_tx(tx, allow_orphan=False)
    except RuleError as exc:
        if exc.code is RejectCode.TX_MISSING_OR_SPENT:
            if node.chain.db.tx_location(tx.txid) is not None:
                raise RpcError(
                    RPC_VERIFY_ALREADY_IN_CHAIN, "Transaction already in block chain"
                ) from exc
            raise RpcError(RPC_VERIFY_ERROR, exc.code.value) from exc
        raise RpcError(RPC_VERIFY_REJECTED, _message(exc)) from exc
    except PolicyError as exc:
        if exc.code is PolicyCode.MISSING_INPUTS:
            raise RpcError(RPC_VERIFY_ERROR, "bad-txns-inputs-missingorspent") from exc
        if exc.code is PolicyCode.ALREADY_KNOWN:
            raise RpcError(
                RPC_VERIFY_ALREADY_IN_CHAIN, "Transaction already in block chain"
            ) from exc
        raise RpcError(RPC_VERIFY_REJECTED, _message(exc)) from exc
    return tx.txid_hex


@rpc.method(category="rawtransactions")
def testmempoolaccept(
    node: NodeServices, /, rawtxs: Any, maxfeerate: Any = None
) -> list[dict[str, Any]]:
    """testmempoolaccept ["rawtx",...] ( maxfeerate )

    Whether each tx would be accepted by the mempool now, without adding it."""
    items = as_list(rawtxs)
    if not 1 <= len(items) <= MAX_TESTMEMPOOLACCEPT:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            f"Array must contain between 1 and {MAX_TESTMEMPOOLACCEPT} transactions.",
        )
    txs = [parse_tx_hex(item) for item in items]
    results = []
    for tx in txs:
        res: dict[str, Any] = {"txid": tx.txid_hex, "wtxid": tx.wtxid[::-1].hex()}
        try:
            fee = node.mempool.test_accept(tx).fee
        except (RuleError, PolicyError) as exc:
            res["allowed"] = False
            res["reject-reason"] = reject_reason(exc)
        else:
            res["allowed"] = True
            res["vsize"] = tx.size
            res["fees"] = {"base": Amount(fee)}
        results.append(res)
    return results


def _message(exc: RuleError | PolicyError) -> str:
    reason = reject_reason(exc)
    detail = exc.message
    if detail and detail != reason:
        return f"{reason} ({detail})"
    return reason
