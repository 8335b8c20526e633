"""Initial sync: a fresh node catching up on 5,000 blocks from a local peer.

The source chain is built in this process straight into a datadir (``Chain`` over
``ChainDB``, signatures not re-verified: the generator made them), then served by a
source node; a fresh node started with ``--connect`` to it must download, validate and
connect everything. The load is mixed: after the coinbases mature, early blocks fan
coinbases out to many coins, then every block carries a few to a few dozen txs chosen by
the coins at hand (splits of large coins, merges of small ones, a secp256k1 tx now and
then), and every hundredth block is a large one of a thousand splits.

The figure is the median tx/s over five equal stretches of heights, timed by polling the
syncing node's height; its peak resident memory is read at the end.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from consensus.params import REGTEST
from consensus.signatures import SECP256K1
from node.chain.manager import Chain
from node.chain.storage import ChainDB

from .chaingen import FEE, ChainGen, Coin, gen_key, sign
from .nodeproc import BenchNode

SYNC_BLOCKS = 5000
SEGMENTS = 5
LARGE_EVERY = 100
LARGE_TXS = 1000


@dataclass
class SyncFigures:
    segment_rates: list[float] = field(default_factory=list)
    overall_rate: float = 0.0
    seconds: float = 0.0
    txs: int = 0
    peak_rss_mb: float = 0.0


def build_chain(blocks: int, seed: int = 5) -> tuple[ChainGen, list[int]]:
    """The mixed chain; returns the generator (its blocks) and the tx count of each height."""
    rng = random.Random(seed)
    gen = ChainGen(start_time=int(time.time()) - 3 * blocks)
    keys = [gen_key(i) for i in range(100, 164)]
    secp_key = gen_key(2000, SECP256K1.key_type)
    pool: deque[Coin] = deque()
    secp_pool: deque[Coin] = deque()
    counts = [0]
    while gen.height < blocks:
        height = gen.height + 1
        txs = []
        created: list[Coin] = []
        if height <= REGTEST.coinbase_maturity + 10:
            pass  # nothing spendable yet
        elif height <= 200:
            tx, coins = gen.fanout(100, keys[height % len(keys)], 40_000_000)
            txs.append(tx)
            created += coins
            if height == 150:
                tx, coins = gen.fanout(300, secp_key, 1_000_000)
                txs.append(tx)
                secp_pool.extend(coins)
        else:
            if height % 15 == 0 and secp_pool:
                coin = secp_pool.popleft()
                tx = sign(REGTEST, [coin], [(coin.value - FEE, secp_key.lock)])
                txs.append(tx)
                secp_pool.append(Coin(tx.txid, 0, coin.value - FEE, secp_key))
            wanted = LARGE_TXS if height % LARGE_EVERY == 0 else rng.randint(2, 22)
            while len(txs) < wanted and len(pool) >= 2:
                coin = pool.popleft()
                key = keys[rng.randrange(len(keys))]
                if coin.value > 200_000:
                    half = (coin.value - FEE) // 2
                    rest = coin.value - FEE - half
                    tx = sign(REGTEST, [coin], [(half, key.lock), (rest, coin.key.lock)])
                    created += [Coin(tx.txid, 0, half, key), Coin(tx.txid, 1, rest, coin.key)]
                else:
                    other = pool.popleft()
                    value = coin.value + other.value - FEE
                    tx = sign(REGTEST, [coin, other], [(value, key.lock)])
                    created.append(Coin(tx.txid, 0, value, key))
                txs.append(tx)
        gen.block(txs)
        pool.extend(created)
        counts.append(len(txs))
    return gen, counts


def write_datadir(gen: ChainGen, datadir: Path) -> None:
    """Connect the generated blocks into a node datadir, without re-verifying signatures."""
    netdir = datadir / "regtest"
    netdir.mkdir(parents=True, exist_ok=True)
    db = ChainDB(str(netdir / "db"), "regtest")
    try:
        chain = Chain(db, REGTEST, verifier=lambda checks: None)
        for block in gen.blocks[1:]:
            result = chain.process_block(block)
            if result.status != "accepted":
                raise RuntimeError(f"generated block rejected: {result.error}")
    finally:
        db.close()


def follow_sync(
    syncing: BenchNode, blocks: int, timeout: float, interval: float = 0.1
) -> list[tuple[float, int]]:
    """Poll the syncing node's height until it reaches ``blocks``: (time, height) at each
    change, starting with (start, 0). RuntimeError when it stalls past ``timeout``."""
    client = syncing.client()
    start = time.perf_counter()
    marks = [(start, 0)]
    while marks[-1][1] < blocks:
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"sync stalled at height {marks[-1][1]}")
        time.sleep(interval)
        height = client.call("getblockcount")
        if height != marks[-1][1]:
            marks.append((time.perf_counter(), height))
    client.close()
    return marks


def run(workdir: Path, log, blocks: int = SYNC_BLOCKS) -> SyncFigures:
    started = time.perf_counter()
    gen, counts = build_chain(blocks)
    write_datadir(gen, workdir / "source")
    log(f"  built {blocks} blocks, {sum(counts):,} txs in {time.perf_counter() - started:.0f} s")
    source = BenchNode(workdir / "source")
    source.start()
    syncing = BenchNode(workdir / "fresh")
    try:
        syncing.extra_args = ["--connect", f"127.0.0.1:{source.p2p_port}"]
        syncing.start()
        marks = follow_sync(syncing, blocks, timeout=600)
        start = marks[0][0]
        figures = SyncFigures()
        figures.seconds = marks[-1][0] - start
        figures.txs = sum(counts[1 : blocks + 1])
        figures.overall_rate = figures.txs / figures.seconds
        figures.peak_rss_mb = syncing.peak_rss_mb()
        step = blocks // SEGMENTS
        for i in range(SEGMENTS):
            lo, hi = i * step, (i + 1) * step
            t_lo = next(t for t, h in marks if h >= lo)
            t_hi = next(t for t, h in marks if h >= hi)
            if t_hi > t_lo:
                figures.segment_rates.append(sum(counts[lo + 1 : hi + 1]) / (t_hi - t_lo))
        return figures
    finally:
        syncing.stop()
        source.stop()
