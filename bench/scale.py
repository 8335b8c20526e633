"""The ``scale`` section (not in the default run): a long sync, then address and coin-set
queries at the end, each with a concurrent ``getblockcount`` probe.

The chain is the sync section's mixed chain, longer (``--scale-blocks``; the issue's
figure is 24,000 blocks, ~1M txs). Reported: tx/s of the last stretch of
``STRETCH`` blocks against the first one after the fan-out, the syncing node's peak RSS,
the median latency of ``getaddressbalance`` and the first page of ``getaddresshistory``
of the busiest address (the miner's: every coinbase), and of ``gettxoutsetinfo muhash``,
and the probe's longest stall during those queries. ``devnet_interval_s`` is the mean
interval of devnet blocks 60-80 simulated with ASERT and this machine's measured
one-worker hash rate (a real devnet would take ~15 minutes of mining).
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from consensus.address import encode_address
from consensus.compact import bits_to_target
from consensus.params import DEVNET, REGTEST
from consensus.pow import next_bits

from . import mining
from .blocks import Prober
from .nodeproc import BenchNode
from .sync import build_chain, follow_sync, write_datadir

FANOUT_END = 200  # the sync chain's fan-out blocks end here
QUERY_REPS = 5


@dataclass
class ScaleFigures:
    blocks: int
    txs: int
    first_rate: float
    last_rate: float
    peak_rss_mb: float
    balance_ms: float
    history_ms: float
    muhash_ms: float
    probe_max_ms: float
    devnet_interval_s: float


def _rate(marks: list[tuple[float, int]], counts: list[int], lo: int, hi: int) -> float:
    t_lo = next(t for t, h in marks if h >= lo)
    t_hi = next(t for t, h in marks if h >= hi)
    return sum(counts[lo + 1 : hi + 1]) / max(t_hi - t_lo, 1e-9)


def _timed_ms(node: BenchNode, method: str, *params: object) -> float:
    client = node.client()
    times = []
    for _ in range(QUERY_REPS):
        start = time.perf_counter()
        client.call(method, list(params))
        times.append((time.perf_counter() - start) * 1000)
    client.close()
    return statistics.median(times)


def devnet_interval(hashes_per_s: float, seeds: int = 40) -> float:
    """Mean over seeds of the mean interval of devnet blocks 60-80 under ASERT, each block
    an exponential time at the target's expected hashes / the hash rate, plus 0.3 s."""
    means = []
    for seed in range(seeds):
        rng = random.Random(seed)
        times = [1_900_000_000.0]
        for height in range(1, 81):
            target = bits_to_target(next_bits(DEVNET, height, int(times[-1]), int(times[0])))
            expected = 2**256 / (target + 1)
            times.append(times[-1] + rng.expovariate(hashes_per_s / expected) + 0.3)
        means.append((times[80] - times[60]) / 20)
    return statistics.mean(means)


def run(workdir: Path, log, blocks: int, stretch: int, dbcache_mb: int) -> ScaleFigures:
    started = time.perf_counter()
    gen, counts = build_chain(blocks, seed=19)
    write_datadir(gen, workdir / "source")
    log(f"  built {blocks} blocks, {sum(counts):,} txs in {time.perf_counter() - started:.0f} s")
    source = BenchNode(workdir / "source")
    source.start()
    syncing = BenchNode(workdir / "fresh")
    try:
        syncing.extra_args = [
            "--connect",
            f"127.0.0.1:{source.p2p_port}",
            "--dbcache",
            str(dbcache_mb),
        ]
        syncing.start()
        marks = follow_sync(syncing, blocks, timeout=7200, interval=0.2)
        log(f"  synced in {marks[-1][0] - marks[0][0]:.0f} s")
        first = _rate(marks, counts, FANOUT_END, FANOUT_END + stretch)
        last = _rate(marks, counts, blocks - stretch, blocks)
        address = encode_address(gen.miner.lock, REGTEST)
        with Prober(syncing) as probe:
            balance = _timed_ms(syncing, "getaddressbalance", address)
            history = _timed_ms(syncing, "getaddresshistory", address)
            muhash = _timed_ms(syncing, "gettxoutsetinfo", "muhash")
        rate = statistics.median(mining.hashrates(1, 3))
        return ScaleFigures(
            blocks,
            sum(counts),
            first,
            last,
            syncing.peak_rss_mb(),
            balance,
            history,
            muhash,
            max(probe.latencies) * 1000 if probe.latencies else 0.0,
            devnet_interval(rate),
        )
    finally:
        syncing.stop()
        source.stop()
