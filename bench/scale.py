"""The ``scale`` section (not in the default run): a long sync, then address and coin-set
queries at the end, each with a concurrent ``getblockcount`` probe.

The chain is the sync section's mixed chain, longer (``--scale-blocks``; the default
48,000 blocks hold 1,047,980 txs, the size issue 19 sets its targets at). Reported: tx/s
of the last stretch of ``STRETCH`` blocks against the first one after the fan-out; the
syncing node's peak RSS, and the peaks of its anonymous and file-backed parts; the size of
its database per tx (blocks, undo data, coins, indexes); the median latency of
``getaddressbalance`` and the first page of ``getaddresshistory`` of the busiest address
(the miner's: every coinbase), and of ``gettxoutsetinfo muhash``; and the probe's longest
stall during those queries.
``devnet_interval_s`` is the mean interval of blocks 60-80 of a fresh devnet node mining
with one worker, timed as they arrive (some 6 minutes of mining).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from consensus.address import encode_address
from consensus.params import DEVNET, REGTEST
from node.cli.launcher import NodeProcess

from .blocks import Prober
from .chaingen import gen_key
from .nodeproc import BenchNode, proc_status_kb
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
    peak_anon_mb: float  # the node's own memory (heap, caches); RSS less what is file-backed
    peak_file_mb: float  # file-backed: libraries (and LevelDB's tables, if it maps them)
    disk_bytes_per_tx: float  # the synced node's database, over the chain's txs
    balance_ms: float
    history_ms: float
    muhash_ms: float
    probe_max_ms: float
    devnet_interval_s: float


# debug.log's line for each block connected: its time, to the millisecond, and height.
_UPDATE_TIP = re.compile(r"^(\S+ \S+) \S+ INFO UpdateTip: height=(\d+) ")


def connect_times(log_path: Path) -> dict[int, float]:
    """When the node connected each height (seconds, from its debug.log). A stretch of
    1,000 blocks takes about two seconds here: timed by polling getblockcount every 0.2 s
    its rate would be off by up to a tenth, more than the differences it is to show."""
    times: dict[int, float] = {}
    with log_path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            found = _UPDATE_TIP.match(line)
            if found:
                stamp = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                times.setdefault(int(found[2]), stamp)
    return times


def _rate(times: dict[int, float], counts: list[int], lo: int, hi: int) -> float:
    """tx/s of blocks lo+1..hi: their txs over the time from connecting lo to hi."""
    return sum(counts[lo + 1 : hi + 1]) / max(times[hi] - times[lo], 1e-9)


def _size_on_disk(node: BenchNode) -> int:
    """The node's own figure for its database (getblockchaininfo's ``size_on_disk``)."""
    client = node.client()
    try:
        return client.call("getblockchaininfo")["size_on_disk"]
    finally:
        client.close()


def _timed_ms(node: BenchNode, method: str, *params: object) -> float:
    client = node.client()
    times = []
    for _ in range(QUERY_REPS):
        start = time.perf_counter()
        client.call(method, list(params))
        times.append((time.perf_counter() - start) * 1000)
    client.close()
    return statistics.median(times)


class MemorySampler:
    """Peaks of a process's anonymous and file-backed resident memory, sampled every
    ``interval`` seconds from /proc until ``stop``. VmHWM gives only the peak of their
    sum; the split says whether the node's own memory made it or file pages: libraries,
    and LevelDB's tables where it maps them (``node.chain.tablereads``)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self.anon_kb = self.file_kb = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                status = proc_status_kb(self._pid)
            except OSError:
                return
            self.anon_kb = max(self.anon_kb, status["RssAnon"])
            self.file_kb = max(self.file_kb, status["RssFile"])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class DevnetNode(NodeProcess):
    """A devnet node mining to ``address`` with one worker."""

    def __init__(self, datadir: Path, address: str) -> None:
        super().__init__(datadir, "devnet", ["--mine", address, "--mine-workers", "1"])


def devnet_interval(workdir: Path, timeout: float = 1800) -> float:
    """The mean interval of blocks 60-80 of a fresh devnet, timed as they arrive."""
    node = DevnetNode(workdir, encode_address(gen_key(19).lock, DEVNET))
    node.start()
    try:
        client = node.client()
        deadline = time.monotonic() + timeout
        seen: dict[int, float] = {}
        for height in (60, 80):
            while client.call("getblockcount") < height:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"devnet below height {height} after {timeout} s")
                time.sleep(0.25)
            seen[height] = time.monotonic()
        client.close()
        return (seen[80] - seen[60]) / 20
    finally:
        node.stop_process()


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
        sampler = MemorySampler(syncing.pid)
        try:
            marks = follow_sync(syncing, blocks, timeout=7200, interval=0.2)
        finally:
            sampler.stop()
        log(f"  synced in {marks[-1][0] - marks[0][0]:.0f} s")
        db_bytes = _size_on_disk(syncing)
        times = connect_times(syncing.netdir / "debug.log")
        first = _rate(times, counts, FANOUT_END, FANOUT_END + stretch)
        last = _rate(times, counts, blocks - stretch, blocks)
        address = encode_address(gen.miner.lock, REGTEST)
        with Prober(syncing) as probe:
            balance = _timed_ms(syncing, "getaddressbalance", address)
            history = _timed_ms(syncing, "getaddresshistory", address)
            muhash = _timed_ms(syncing, "gettxoutsetinfo", "muhash")
        return ScaleFigures(
            blocks,
            sum(counts),
            first,
            last,
            syncing.peak_rss_mb(),
            sampler.anon_kb / 1024,
            sampler.file_kb / 1024,
            db_bytes / sum(counts),
            balance,
            history,
            muhash,
            max(probe.latencies) * 1000 if probe.latencies else 0.0,
            devnet_interval(workdir / "devnet"),
        )
    finally:
        syncing.stop()
        source.stop()
