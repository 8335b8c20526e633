"""exportchain: the active chain as Parquet files in a directory on the node's machine
(node/analytics/export.py). Blocks are read on the chain thread in short runs; rows are
built and files written on a worker thread, never on the event loop. getcreditreport
reads the last export with DuckDB (node/analytics/analyze.py), on a worker thread too."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RpcError
from ..params import as_int, as_str
from ..registry import MethodTable

if TYPE_CHECKING:
    from ...analytics.tables import BlockRecord
    from ..services import NodeServices


rpc = MethodTable()


def snapshot(node: NodeServices, /, heights: list[int]) -> tuple[int, bytes, list[bytes | None]]:
    chain = node.chain
    found = [chain.at_height(h) for h in heights]
    return chain.height, chain.tip.hash, [e.hash if e else None for e in found]


def read_blocks(
    node: NodeServices, /, first: int, last: int
) -> tuple[list[BlockRecord], bytes | None]:
    from ...analytics.export import ChainMoved, ExportError
    from ...analytics.tables import BlockRecord

    chain = node.chain
    parent = chain.at_height(first - 1) if first > 0 else None
    records = []
    for height in range(first, last + 1):
        entry = chain.at_height(height)
        if entry is None:
            raise ChainMoved
        block = chain.get_block(entry.hash)
        undo = chain.db.undo(entry.height, entry.hash) if height else ()
        if block is None or undo is None:
            raise ExportError(f"the data of block {height} is not on this node")
        mtp = chain.median_time_past(entry)
        records.append(BlockRecord(height, entry.hash, mtp, block, undo))
    return records, parent.hash if parent else None


@rpc.method(category="blockchain")
async def exportchain(
    node: NodeServices, /, directory: Any, partition_blocks: Any = None
) -> dict[str, Any]:
    """exportchain "directory" ( partition_blocks )

    Write the active chain as Parquet tables (blocks, txs, inputs, outputs, spends,
    policy_spends, pledges) into "directory", an absolute path on the node's machine, one
    folder per table and one sub-folder per partition_blocks heights (default 1000,
    fixed by the first export into a directory). A later call adds only the new
    blocks, and after a reorg rewrites only the partitions it reached."""
    path = as_str(directory)
    if not os.path.isabs(path):
        raise RpcError(RPC_INVALID_PARAMETER, f"directory must be an absolute path: {path}")
    size = None
    if partition_blocks is not None:
        size = as_int(partition_blocks, "partition_blocks", 1, 1_000_000)
    try:
        from ...analytics.export import ChainAccess, ChainMoved, ExportError, export_chain
    except ImportError as exc:
        raise RpcError(
            RPC_MISC_ERROR, f"exportchain needs pyarrow: pip install 'obol[analytics]' ({exc})"
        ) from exc
    access = ChainAccess(
        node.params,
        lambda heights: node.in_chain_thread(snapshot, node, heights),
        lambda first, last: node.in_chain_thread(read_blocks, node, first, last),
    )
    async with node.export_lock:
        try:
            result = await export_chain(access, Path(path), size)
        except ExportError as exc:
            raise RpcError(RPC_INVALID_PARAMETER, str(exc)) from exc
        except ChainMoved as exc:
            raise RpcError(RPC_MISC_ERROR, str(exc)) from exc
        except OSError as exc:
            raise RpcError(RPC_MISC_ERROR, f"cannot write the export: {exc}") from exc
        node.export_dir = Path(path)
        return result


@rpc.method(category="blockchain")
async def getcreditreport(node: NodeServices, /, subject: Any) -> dict[str, Any]:
    """getcreditreport "address-or-pubkey" | ["address-or-pubkey",...]

    A borrower's loans from the chain alone, read from this node's last export
    (exportchain; "height" says how far it reaches): each loan repaid or defaulted
    with its txids, principal, collateral and ratio, the addresses' age and balance
    history. A wallet takes a new key per loan: give them all (loanstatus's
    roles.borrower). No score: the figures and their evidence."""
    text = [as_str(s) for s in subject] if isinstance(subject, list) else as_str(subject)
    directory = node.export_dir
    if directory is None:
        raise RpcError(RPC_MISC_ERROR, "no export yet on this node: run exportchain first")
    try:
        from ...analytics.analyze import Analysis, AnalyzeError
    except ImportError as exc:
        raise RpcError(
            RPC_MISC_ERROR,
            f"getcreditreport needs duckdb: pip install 'obol[analytics]' ({exc})",
        ) from exc
    async with node.export_lock:
        try:
            return await asyncio.to_thread(lambda: Analysis(directory).credit(text))
        except AnalyzeError as exc:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, str(exc)) from exc
