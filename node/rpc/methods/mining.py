"""Mining RPCs: generatetoaddress, generateblock, generate, getmininginfo,
getblocktemplate, submitblock, getnetworkhashps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.builder import make_block, make_coinbase
from consensus.errors import DecodeError
from consensus.hashing import hash_to_hex
from consensus.params import block_subsidy
from consensus.pow import bits_to_target
from consensus.primitives import Block, Tx, TxOut

from ...mining.hashrate import network_hashps
from ..errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_VERIFY_ERROR,
    RpcError,
)
from ..params import as_address, as_bool, as_hash, as_hex, as_int, as_list
from ..registry import MethodTable
from ..views import difficulty
from .rawtransactions import parse_tx_hex

if TYPE_CHECKING:
    from ..services import NodeServices

MAX_GENERATE = 1000


rpc = MethodTable()


async def generate_to_lock(
    node: NodeServices, /, count: int, lock: bytes, maxtries: int
) -> list[str]:
    blocks = await node.generate(count, lock, maxtries)
    return [b.hash_hex for b in blocks]


@rpc.method(category="generating")
async def generatetoaddress(
    node: NodeServices, /, nblocks: Any, address: Any, maxtries: Any = 1_000_000
) -> list[str]:
    """generatetoaddress nblocks "address" ( maxtries )

    Mine blocks now, paying the coinbase to address; returns their hashes."""
    count = as_int(nblocks, "nblocks", 0, MAX_GENERATE)
    lock = as_address(address, node.params)
    return await generate_to_lock(node, count, lock, as_int(maxtries, "maxtries", 1))


@rpc.method(category="generating")
async def generate(node: NodeServices, /, nblocks: Any = 1, maxtries: Any = 1_000_000) -> list[str]:
    """generate ( nblocks maxtries )

    regtest only: mine blocks paying the coinbase to the default wallet."""
    if node.params.name != "regtest":
        raise RpcError(RPC_METHOD_NOT_FOUND, "generate is only available on regtest")
    count = as_int(nblocks, "nblocks", 0, MAX_GENERATE)
    lock = await node.default_mining_lock()
    if lock is None:
        raise RpcError(RPC_MISC_ERROR, "no wallet is loaded to mine to; use generatetoaddress")
    return await generate_to_lock(node, count, lock, as_int(maxtries, "maxtries", 1))


@rpc.method(category="generating")
async def generateblock(
    node: NodeServices, /, output: Any, transactions: Any, submit: Any = True
) -> dict[str, Any]:
    """generateblock "output" ["rawtx/txid",...] ( submit )

    Mine a block with exactly these txs (raw hex, or txids from the mempool)."""
    lock = as_address(output, node.params)
    txs = []
    for item in as_list(transactions):
        if isinstance(item, str) and len(item) == 64:
            entry = node.mempool.get(as_hash(item, "txid"))
            if entry is None:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Transaction {item} not in mempool.")
            txs.append(entry.tx)
        else:
            txs.append(parse_tx_hex(item))
    tip = node.chain.tip
    height = tip.height + 1
    fees = node.fees_of(txs)
    coinbase = make_coinbase(height, [TxOut(block_subsidy(height, node.params) + fees, lock)])
    time = max(node.chain.median_time_past() + 1, node.clock.now())
    block = make_block(tip.hash, [coinbase, *txs], time, node.chain.next_bits(), solve=False)
    block = await node.solve_fixed_block(block)
    if submit is False:
        return {"hash": block.hash_hex, "hex": block.serialize().hex()}
    result = await node.submit_block(block)
    if result.status != "accepted":
        reason = result.error.code.value if result.error else result.status
        raise RpcError(RPC_VERIFY_ERROR, f"TestBlockValidity failed: {reason}")
    return {"hash": block.hash_hex}


@rpc.method(category="generating")
def setgenerate(node: NodeServices, /, generate: Any, genproclimit: Any = 1) -> None:
    """setgenerate generate ( genproclimit )

    Mine continuously to fresh addresses of the default wallet (generate=true), or stop
    (false), as Bitcoin Core's old setgenerate. genproclimit is the worker count and
    applies from the next start of the node (--mine-workers)."""
    as_int(genproclimit, "genproclimit", 1, 64)
    if as_bool(generate):
        node.set_mining(None)
    else:
        node.stop_mining()


@rpc.method(category="mining")
def getmininginfo(node: NodeServices, /) -> dict[str, Any]:
    """getmininginfo

    Height, difficulty, estimated network hash rate, mempool size, our miner's rate."""
    tip = node.chain.tip
    return {
        "blocks": tip.height,
        "difficulty": difficulty(tip.header.bits),
        "networkhashps": network_hashps(node.chain, 120),
        "localhashps": node.solver.hashrate(),
        "generate": node.mining,
        "pooledtx": len(node.mempool),
        "chain": node.params.name,
        "warnings": "",
    }


@rpc.method(category="mining")
def getnetworkhashps(node: NodeServices, /, nblocks: Any = 120, height: Any = -1) -> float:
    """getnetworkhashps ( nblocks height )

    Estimated hashes per second from the work and times of the last nblocks."""
    return network_hashps(node.chain, as_int(nblocks), as_int(height))


@rpc.method(category="mining")
def getblocktemplate(node: NodeServices, /, template_request: Any = None) -> dict[str, Any]:
    """getblocktemplate ( "template_request" )

    Work for an outside miner: build the coinbase, solve, then submitblock."""
    template = node.block_template(b"\x00" * 21)
    target = bits_to_target(template.bits)
    return {
        "version": 1,
        "previousblockhash": hash_to_hex(template.prev_hash),
        "transactions": [
            {
                "data": tx.serialize().hex(),
                "txid": tx.txid_hex,
                "hash": hash_to_hex(tx.wtxid),
                "fee": fee,
                "sigops": _sigchecks(node, tx),
            }
            for tx, fee in zip(template.txs, template.tx_fees, strict=True)
        ],
        "coinbasevalue": block_subsidy(template.height, node.params) + template.fees,
        "target": f"{target:064x}",
        "mintime": node.chain.median_time_past() + 1,
        "curtime": template.time,
        "mutable": ["time", "transactions", "prevblock"],
        "noncerange": "00000000ffffffff",
        "sigoplimit": node.params.max_block_sigchecks,
        "sizelimit": node.params.max_block_size,
        "bits": f"{template.bits:08x}",
        "height": template.height,
    }


@rpc.method(category="mining")
async def submitblock(node: NodeServices, /, hexdata: Any, dummy: Any = None) -> str | None:
    """submitblock "hexdata"

    Submit a solved block; null when accepted, else the reason."""
    raw = as_hex(hexdata, "Block")
    try:
        result = await node.submit_raw_block(raw, _starts_with_coinbase)
    except DecodeError as exc:
        raise RpcError(RPC_DESERIALIZATION_ERROR, f"Block decode failed: {exc.message}") from exc
    if result.status == "accepted":
        return None
    if result.status in ("duplicate", "inconclusive"):
        return result.status
    if result.status == "orphan":
        # Core's reason; obol keeps the block and connects it once its parent arrives.
        return "prev-blk-not-found"
    if result.error is not None:
        return result.error.code.value
    return "rejected"


def _sigchecks(node: NodeServices, tx: Tx) -> int:
    """A template tx's signature checks, as its mempool entry counted them (one per used
    policy key); one per input if it has left the mempool since."""
    entry = node.mempool.get(tx.txid)
    return entry.sigchecks if entry is not None else len(tx.inputs)


def _starts_with_coinbase(block: Block) -> None:
    """submitblock refuses such a block before validating it, as Bitcoin Core does."""
    if not block.txs or not block.txs[0].is_coinbase:
        raise RpcError(RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase")
