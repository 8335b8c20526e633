"""Export throughput and analysis times over a generated chain, each beside a ceiling
measured in the same run: pyarrow writing the same rows as Parquet, and DuckDB scanning
the exported files.

The chain is made by ``ChainGen`` (one-in-two-out txs, ``txs_per_block`` a block) with
each block's undo data kept by the generator, and exported through the same
``export_chain`` the node runs, from memory: the figure is the export's own cost (rows
built in Python, Parquet written), not the node's block reads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from consensus.coins import Coin
from consensus.params import COIN, REGTEST
from consensus.primitives import Block, Tx
from consensus.validation import median_time_past
from node.analytics.analyze import Analysis
from node.analytics.export import ChainAccess, export_chain
from node.analytics.fraud import fraud_signals
from node.analytics.tables import BlockRecord

from .chaingen import ChainGen, gen_key, split_txs

ANALYSES = ("summary", "volume", "utxo_age", "clusters", "fraud")


@dataclass
class AnalyticsFigures:
    blocks: int
    txs: int
    export_tx_s: float
    parquet_write_tx_s: float
    scan_rows_s: float
    rows: int
    analysis_ms: dict[str, float]


class SplitChain:
    """A generated chain of one-in-two-out txs, ``txs_per_block`` a block after a
    fan-out, with each block's undo data: what ``generate`` makes, and what a test grows
    further (``grow``) after a node took the first part."""

    def __init__(self, txs_per_block: int) -> None:
        self.gen = ChainGen(REGTEST)
        self.txs_per_block = txs_per_block
        self.keys = [gen_key(1000 + n) for n in range(64)]
        self.made: dict[tuple[bytes, int], Coin] = {}
        self.undos: list[tuple[Coin, ...]] = [()]
        self.pool: list = []
        while len(self.gen.mature) < 2:
            self._mine([])
        fan, self.pool = self.gen.fanout(txs_per_block, self.keys[0], 40 * COIN // txs_per_block)
        self._mine([fan])

    @property
    def blocks(self) -> list[Block]:
        return self.gen.blocks

    def _mine(self, txs: list[Tx]) -> None:
        spent = [(i.prev_txid, i.prev_index) for tx in txs for i in tx.inputs]
        block = self.gen.block(txs)
        height = self.gen.height
        self.undos.append(tuple(self.made.pop(k) for k in spent))
        for position, tx in enumerate(block.txs):
            for n, out in enumerate(tx.outputs):
                self.made[(tx.txid, n)] = Coin(out.value, out.lock, height, position == 0)

    def grow(self, height: int) -> SplitChain:
        """Blocks of split txs up to ``height``."""
        per_block = self.txs_per_block
        while self.gen.height < height:
            coins, self.pool = self.pool[:per_block], self.pool[per_block:]
            txs, new = split_txs(REGTEST, coins, self.keys)
            self._mine(txs)
            self.pool += new
        return self

    def records(self) -> list[BlockRecord]:
        out = []
        times = [b.header.time for b in self.gen.blocks]
        for height, (block, undo) in enumerate(zip(self.gen.blocks, self.undos, strict=True)):
            mtp = median_time_past(times[max(0, height - 10) : height + 1])
            out.append(BlockRecord(height, block.hash, mtp, block, undo))
        return out


def generate(blocks: int, txs_per_block: int) -> list[BlockRecord]:
    return SplitChain(txs_per_block).grow(blocks).records()


def memory_access(records: list[BlockRecord]) -> ChainAccess:
    async def snapshot(heights: list[int]):
        tip = records[-1]
        return tip.height, tip.hash, [records[h].hash for h in heights if h < len(records)]

    async def read_blocks(first: int, last: int):
        return records[first : last + 1], records[first - 1].hash if first else None

    return ChainAccess(REGTEST, snapshot, read_blocks)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(workdir: Path, log, blocks: int, txs_per_block: int) -> AnalyticsFigures:
    log(f"  analytics: generating {blocks} blocks of {txs_per_block} txs")
    records = generate(blocks, txs_per_block)
    txs = sum(len(r.block.txs) for r in records)
    directory = workdir / "export"
    seconds = _timed(lambda: asyncio.run(export_chain(memory_access(records), directory, 1000)))
    log(f"  analytics: exported {txs:,} txs in {seconds:.1f} s")
    table = pq.read_table(directory / "txs")
    write = _timed(lambda: pq.write_table(table, workdir / "ceiling.parquet", compression="zstd"))
    con = duckdb.connect()
    scanned = 0
    scan = 0.0
    for name in ("outputs", "spends", "txs"):
        files = f"{directory}/{name}/*/*.parquet"
        sql = f"SELECT count(*), sum(length(txid)) FROM read_parquet('{files}')"
        scan += _timed(lambda sql=sql: con.execute(sql).fetchall())
        scanned += con.execute(sql).fetchall()[0][0]
    analysis = Analysis(directory)
    ms = {}
    for name in ANALYSES:
        ask = partial(fraud_signals, analysis) if name == "fraud" else getattr(analysis, name)
        ms[name] = 1000 * _timed(ask)
        log(f"  analytics: {name} {ms[name]:.0f} ms")
    return AnalyticsFigures(
        blocks=len(records),
        txs=txs,
        export_tx_s=txs / seconds,
        parquet_write_tx_s=table.num_rows / write,
        scan_rows_s=scanned / scan,
        rows=scanned,
        analysis_ms=ms,
    )
