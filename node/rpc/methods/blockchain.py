"""Blockchain RPCs: getblockchaininfo, getblock, getblockheader, gettxout, getchaintips..."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from consensus.encoding import encode_coin
from consensus.hashing import hash_to_hex
from consensus.primitives import outpoint_key

from ...chain.manager import DEFAULT_CHECKBLOCKS, DEFAULT_CHECKLEVEL
from ..errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RpcError
from ..jsonfmt import Amount
from ..params import as_bool, as_hash, as_int, as_str, parse_verbosity
from ..registry import MethodTable
from ..views import block_json, chain_tip_status, difficulty, header_json, lock_json

if TYPE_CHECKING:
    from ...chain.index import BlockIndex
    from ..services import NodeServices

log = logging.getLogger("obol.rpc")


rpc = MethodTable()


def entry_for(node: NodeServices, /, blockhash: Any) -> BlockIndex:
    h = as_hash(blockhash, "blockhash")
    entry = node.chain.index.get(h)
    if entry is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    return entry


@rpc.method(category="blockchain")
def getblockcount(node: NodeServices, /) -> int:
    """getblockcount

    The height of the most-work fully-validated chain."""
    return node.chain.height


@rpc.method(category="blockchain")
def getbestblockhash(node: NodeServices, /) -> str:
    """getbestblockhash

    The hash of the best (tip) block in the most-work fully-validated chain."""
    return node.chain.tip.header.hash_hex


@rpc.method(category="blockchain")
def getblockhash(node: NodeServices, /, height: Any) -> str:
    """getblockhash height

    The hash of the block at ``height`` in the best chain."""
    h = as_int(height)
    entry = node.chain.at_height(h)
    if entry is None:
        raise RpcError(RPC_INVALID_PARAMETER, "Block height out of range")
    return entry.header.hash_hex


@rpc.method(category="blockchain")
def getblockchaininfo(node: NodeServices, /) -> dict[str, Any]:
    """getblockchaininfo

    State of the chain: network, height, best block, difficulty, median time, work."""
    tip = node.chain.tip
    headers = max(e.height for e in node.chain.tips()) if node.chain.index else tip.height
    return {
        "chain": node.params.name,
        "blocks": tip.height,
        "headers": headers,
        "bestblockhash": tip.header.hash_hex,
        "difficulty": difficulty(tip.header.bits),
        "time": tip.header.time,
        "mediantime": node.chain.median_time_past(),
        "verificationprogress": 1.0 if headers == tip.height else tip.height / max(headers, 1),
        "initialblockdownload": node.initial_block_download(),
        "chainwork": f"{tip.chainwork:064x}",
        "size_on_disk": node.disk_usage(),
        "pruned": False,
        "warnings": "",
    }


@rpc.method(category="blockchain")
def getdifficulty(node: NodeServices, /) -> float:
    """getdifficulty

    Proof-of-work difficulty as a multiple of the minimum (0x1d00ffff) difficulty."""
    return difficulty(node.chain.tip.header.bits)


@rpc.method(category="blockchain")
def getblockheader(node: NodeServices, /, blockhash: Any, verbose: Any = True) -> Any:
    """getblockheader "blockhash" ( verbose )

    The header as JSON, or with verbose=false as hex of its 80 bytes."""
    entry = entry_for(node, blockhash)
    if not as_bool(verbose):
        return entry.header.serialize().hex()
    return header_json(node.chain, entry)


@rpc.method(category="blockchain")
def getblock(node: NodeServices, /, blockhash: Any, verbosity: Any = 1) -> Any:
    """getblock "blockhash" ( verbosity )

    verbosity 0: hex of the block; 1: JSON with txids; 2: JSON with decoded txs."""
    entry = entry_for(node, blockhash)
    level = parse_verbosity(verbosity, 1)
    raw = node.chain.db.block_raw(entry.height, entry.hash)
    if raw is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not available (not fully downloaded)")
    if level <= 0:
        return raw.hex()
    block = node.chain.get_block(entry.hash)
    assert block is not None
    return block_json(node.chain, entry, block, level)


@rpc.method(category="blockchain")
def getchaintips(node: NodeServices, /) -> list[dict[str, Any]]:
    """getchaintips

    Every known branch head: height, hash, branch length, status."""
    out: list[dict[str, Any]] = []
    for entry in node.chain.tips():
        fork = node.chain.find_fork(entry)
        out.append(
            {
                "height": entry.height,
                "hash": entry.header.hash_hex,
                "branchlen": entry.height - fork.height,
                "status": chain_tip_status(node.chain, entry),
            }
        )
    out.sort(key=lambda t: (-t["height"], t["hash"]))
    return out


@rpc.method(category="blockchain")
def gettxout(node: NodeServices, /, txid: Any, n: Any, include_mempool: Any = True) -> Any:
    """gettxout "txid" n ( include_mempool )

    An unspent output: value, lock, confirmations; null when spent or unknown."""
    txid_b = as_hash(txid, "txid")
    index = as_int(n, "n", 0, 0xFFFFFFFF)
    key = outpoint_key(txid_b, index)
    mempool = node.mempool
    if as_bool(include_mempool):
        if mempool.spender_of(key) is not None:
            return None
        coin = mempool.coin(key)
        if coin is not None:
            return _coin_json(node, coin, 0)
    coin = node.chain.db.get_coin(key)
    if coin is None:
        return None
    return _coin_json(node, coin, node.chain.height - coin.height + 1)


@rpc.method(category="blockchain")
async def gettxoutsetinfo(
    node: NodeServices, /, hash_type: Any = "hash_serialized_3"
) -> dict[str, Any]:
    """gettxoutsetinfo ( "hash_type" )

    Statistics about the coin set. hash_type "hash_serialized_3" (the default, as
    Core's) reads every coin; "muhash" reads the running MuHash3072 kept with each
    block (Core's coinstatsindex), in milliseconds; "none" reads every coin, no hash."""
    kind = as_str(hash_type)
    if kind == "muhash":
        return await node.in_chain_thread(_txoutset_muhash, node)
    if kind not in ("hash_serialized_3", "none"):
        raise RpcError(RPC_INVALID_PARAMETER, f"'{kind}' is not a valid hash_type")
    return await node.in_chain_thread(_txoutset_info, node, kind == "hash_serialized_3")


@rpc.method(category="blockchain")
async def invalidateblock(node: NodeServices, /, blockhash: Any) -> None:
    """invalidateblock "blockhash"

    Treat a block as invalid, with its descendants, and move to the best other chain."""
    entry = entry_for(node, blockhash)
    try:
        await node.chain_call(node.chain.invalidate_block, entry.hash)
    except ValueError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, str(exc)) from exc


@rpc.method(category="blockchain")
async def reconsiderblock(node: NodeServices, /, blockhash: Any) -> None:
    """reconsiderblock "blockhash"

    Undo invalidateblock for a block, its ancestors and descendants."""
    entry = entry_for(node, blockhash)
    await node.chain_call(node.chain.reconsider_block, entry.hash)


@rpc.method(category="blockchain")
async def verifychain(
    node: NodeServices, /, checklevel: Any = DEFAULT_CHECKLEVEL, nblocks: Any = DEFAULT_CHECKBLOCKS
) -> bool:
    """verifychain ( checklevel nblocks )

    Check the last ``nblocks`` blocks (0: all) against their undo data and the coin
    set, at ``checklevel`` 0-4 (Bitcoin Core's); true if consistent. What failed is
    in debug.log."""
    level = as_int(checklevel, "checklevel", 0, 4)
    count = as_int(nblocks, "nblocks", 0)
    problem = await node.in_chain_thread(node.chain.verify, level, count)
    if problem:
        log.error("verifychain: %s", problem)
    return not problem


@rpc.method(category="blockchain")
def getmempoolinfo(node: NodeServices, /) -> dict[str, Any]:
    """getmempoolinfo

    Size, bytes and fee floor of the mempool."""
    info = node.mempool.info()
    return {
        "loaded": True,
        "size": info["size"],
        "bytes": info["bytes"],
        "usage": info["usage"],
        "total_fee": Amount(info["total_fee"]),
        "maxmempool": info["maxmempool"],
        "mempoolminfee": Amount(round(info["mempoolminfee"] * 1000)),
        "minrelaytxfee": Amount(round(info["minrelaytxfee"] * 1000)),
        "unbroadcastcount": 0,
    }


@rpc.method(category="blockchain")
def getrawmempool(node: NodeServices, /, verbose: Any = False) -> Any:
    """getrawmempool ( verbose )

    Txids in the mempool, or with verbose=true an object of entries."""
    if not as_bool(verbose):
        return [e.tx.txid_hex for e in node.mempool.entries()]
    return {e.tx.txid_hex: _mempool_entry_json(node, e) for e in node.mempool.entries()}


@rpc.method(category="blockchain")
def getmempoolentry(node: NodeServices, /, txid: Any) -> dict[str, Any]:
    """getmempoolentry "txid"

    One mempool entry: size, fees, time, height, ancestors and descendants."""
    entry = node.mempool.get(as_hash(txid, "txid"))
    if entry is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
    return _mempool_entry_json(node, entry)


def _mempool_entry_json(node: NodeServices, entry: Any) -> dict[str, Any]:
    stats = node.mempool.package_stats(entry.txid)
    return {
        "vsize": entry.size,
        "weight": entry.size * 4,
        "time": int(entry.time),
        "height": entry.height,
        "descendantcount": stats.descendant_count,
        "descendantsize": stats.descendant_size,
        "ancestorcount": stats.ancestor_count,
        "ancestorsize": stats.ancestor_size,
        "wtxid": hash_to_hex(entry.tx.wtxid),
        "fees": {
            "base": Amount(entry.fee),
            "modified": Amount(entry.fee),
            "ancestor": Amount(stats.ancestor_fees),
            "descendant": Amount(stats.descendant_fees),
        },
        "depends": [hash_to_hex(t) for t in stats.depends],
        "spentby": [hash_to_hex(t) for t in stats.spent_by],
    }


def _coin_json(node: NodeServices, coin: Any, confirmations: int) -> dict[str, Any]:
    return {
        "bestblock": node.chain.tip.header.hash_hex,
        "confirmations": confirmations,
        "value": Amount(coin.value),
        "scriptPubKey": lock_json(coin.lock, node.params),
        "coinbase": coin.coinbase,
    }


def _txoutset_muhash(node: NodeServices) -> dict[str, Any]:
    """From the coin set stats record; like Core answering from its coinstatsindex, no
    ``transactions`` nor ``disk_size``. Chain thread."""
    chain = node.chain
    stats = chain.db.coin_stats()
    return {
        "height": chain.height,
        "bestblock": chain.tip.header.hash_hex,
        "txouts": stats.txouts,
        "bogosize": stats.txouts * 86,
        "muhash": stats.muhash.digest()[::-1].hex(),
        "total_amount": Amount(stats.total_amount),
    }


def _txoutset_info(node: NodeServices, with_hash: bool) -> dict[str, Any]:
    """Runs on the chain thread, so the coin set does not move under it."""
    chain = node.chain
    h = hashlib.sha256()
    txouts = 0
    total = 0
    txids = set()
    for key, coin in chain.db.coins():
        h.update(key)
        h.update(encode_coin(coin))
        txouts += 1
        total += coin.value
        txids.add(key[:32])
    out = {
        "height": chain.height,
        "bestblock": chain.tip.header.hash_hex,
        "txouts": txouts,
        "bogosize": txouts * 86,
        "hash_serialized_3": h.digest()[::-1].hex(),
        "total_amount": Amount(total),
        "transactions": len(txids),
        "disk_size": node.disk_usage(),
    }
    if not with_hash:
        del out["hash_serialized_3"]
    return out
