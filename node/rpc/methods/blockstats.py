"""getblockstats: Core's per-block statistics, from the block and its undo data.

As in Core, amounts are integers of base units and fee rates whole units per byte (Core's
sat/vB); sizes are bytes of the encoding (there is no witness, so Core's ``sw*`` fields
are left out and weight is 4 x size, as everywhere in obol's RPC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.params import NetworkParams, block_subsidy
from consensus.primitives import Block

from ..errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RpcError
from ..params import as_hash, as_list, as_str
from ..registry import MethodTable
from ..views import block_fees

if TYPE_CHECKING:
    from ...chain.index import BlockIndex
    from ..services import NodeServices

PERCENTILES = (10, 25, 50, 75, 90)


def median(values: list[int]) -> int:
    """Core's CalculateTruncatedMedian."""
    if not values:
        return 0
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) // 2


def weighted_percentiles(rate_weights: list[tuple[int, int]]) -> list[int]:
    """Core's CalculatePercentilesByWeight: fee rates at 10/25/50/75/90 % of the weight."""
    if not rate_weights:
        return [0] * len(PERCENTILES)
    rate_weights = sorted(rate_weights)
    total = sum(w for _, w in rate_weights)
    out: list[int] = []
    cumulative = 0
    for rate, weight in rate_weights:
        cumulative += weight
        while len(out) < len(PERCENTILES) and cumulative >= total * PERCENTILES[len(out)] / 100:
            out.append(rate)
    out += [rate_weights[-1][0]] * (len(PERCENTILES) - len(out))
    return out


def block_stats(
    block: Block, entry: BlockIndex, fees: list[int | None], mtp: int, params: NetworkParams
) -> dict[str, Any]:
    txs = block.txs[1:]
    tx_fees = [f or 0 for f in fees[1:]]
    sizes = [tx.size for tx in txs]
    rates = [fee // size for fee, size in zip(tx_fees, sizes, strict=True)]
    ins = sum(len(tx.inputs) for tx in txs)
    outs = sum(len(tx.outputs) for tx in block.txs)
    n = len(txs)
    total_fee = sum(tx_fees)
    total_size = sum(sizes)
    return {
        "avgfee": total_fee // n if n else 0,
        "avgfeerate": total_fee // total_size if total_size else 0,
        "avgtxsize": total_size // n if n else 0,
        "blockhash": entry.header.hash_hex,
        "feerate_percentiles": weighted_percentiles(
            [(r, s * 4) for r, s in zip(rates, sizes, strict=True)]
        ),
        "height": entry.height,
        "ins": ins,
        "maxfee": max(tx_fees, default=0),
        "maxfeerate": max(rates, default=0),
        "maxtxsize": max(sizes, default=0),
        "medianfee": median(tx_fees),
        "mediantime": mtp,
        "mediantxsize": median(sizes),
        "minfee": min(tx_fees, default=0),
        "minfeerate": min(rates, default=0),
        "mintxsize": min(sizes, default=0),
        "outs": outs,
        "subsidy": block_subsidy(entry.height, params),
        "time": entry.header.time,
        "total_out": sum(o.value for tx in txs for o in tx.outputs),
        "total_size": total_size,
        "total_weight": total_size * 4,
        "totalfee": total_fee,
        "txs": len(block.txs),
        "utxo_increase": outs - ins,
    }


rpc = MethodTable()


def entry_for(node: NodeServices, /, hash_or_height: Any) -> BlockIndex:
    if type(hash_or_height) is int:
        if hash_or_height < 0:
            raise RpcError(
                RPC_INVALID_PARAMETER, f"Target block height {hash_or_height} is negative"
            )
        if hash_or_height > node.chain.height:
            raise RpcError(
                RPC_INVALID_PARAMETER,
                f"Target block height {hash_or_height} after current tip {node.chain.height}",
            )
        found = node.chain.at_height(hash_or_height)
    else:
        found = node.chain.index.get(as_hash(hash_or_height, "hash_or_height"))
    if found is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    return found


@rpc.method(category="blockchain")
def getblockstats(node: NodeServices, /, hash_or_height: Any, stats: Any = None) -> dict[str, Any]:
    """getblockstats hash_or_height ( ["stats",...] )

    Fee, size and count statistics of a block (amounts in base units, rates in units
    per byte), all of them or the named ones."""
    entry = entry_for(node, hash_or_height)
    block = node.chain.get_block(entry.hash)
    if block is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not available (not fully downloaded)")
    fees = block_fees(node.chain, entry.hash, block)
    out = block_stats(block, entry, fees, node.chain.median_time_past(entry), node.chain.params)
    if stats is None:
        return out
    wanted = [as_str(s) for s in as_list(stats)]
    for name in wanted:
        if name not in out:
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid selected statistic '{name}'")
    return {k: v for k, v in out.items() if k in wanted}
