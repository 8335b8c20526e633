"""``scripts/bench``: obol's speed as fractions of this machine's own ceilings.

Every figure is printed next to the ceiling it is bounded by, measured in the same run:
signature verification and SHA-256 through the libraries obol calls, LevelDB, a bare
aiohttp handler. Values are medians of at least five repetitions. Ceiling samples are
taken next to the samples they bound (between blocks, alternating with RPC and mining
samples), and a ratio is the median of those paired ratios, so that a machine shared with
other work, whose speed drifts during the run, still gives ratios that mean something.

``--json`` prints the rows as a JSON list on stdout; progress always goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from consensus.params import REGTEST
from node.config import BYTES_PER_CACHED_COIN, NodeConfig
from node.rpc.client import RpcFailure

from . import blocks, cachemem, ceilings, mining, rpc, scale, sync
from .nodeproc import BenchNode

SECTIONS = ("ceilings", "blocks", "rpc", "mining", "sync")
EXTRA_SECTIONS = ("scale", "analytics")  # only when named in --only: long
CEILING_SECONDS = 0.4


@dataclass
class Row:
    name: str
    value: float | None
    unit: str
    ceiling: float | None = None
    ratio: float | None = None
    target: str = ""
    extra: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "value": round(self.value, 3) if self.unit == "ratio" else _round(self.value),
            "unit": self.unit,
            "ceiling": _round(self.ceiling),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
        }
        if self.target:
            out["target"] = self.target
        out.update(self.extra or {})
        return out


def _round(x: float | None) -> float | None:
    if x is None:
        return None
    return round(x, 1) if abs(x) < 1000 else round(x)


def med(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(values: list[float], bounds: list[float]) -> float:
    """The median of value/bound over pairs sampled next to each other."""
    return med([v / b for v, b in zip(values, bounds, strict=True)])


def bracketing(samples: list[float]) -> list[float]:
    """For n values sampled between n + 1 ceiling samples: the mean of the two around each."""
    return [(a + b) / 2 for a, b in pairwise(samples)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Ceilings:
    """Ceiling samples, taken on demand throughout the run."""

    def __init__(self) -> None:
        self.cores = ceilings.cores()
        self.allcores = ceilings.AllCores()
        self.samples: dict[str, list[float]] = {}

    def take(self, name: str) -> float:
        fn: Callable[[], float] = {
            "ed25519_verify_1core": lambda: ceilings.ed25519_verify_rate(CEILING_SECONDS),
            "ed25519_verify_allcores": lambda: self.allcores.ed25519_verify_rate(CEILING_SECONDS),
            "secp256k1_verify_1core": lambda: ceilings.secp256k1_verify_rate(CEILING_SECONDS),
            "secp256k1_verify_allcores": lambda: self.allcores.secp256k1_verify_rate(
                CEILING_SECONDS
            ),
            "sha256d_1core": lambda: ceilings.sha256d_rate(CEILING_SECONDS),
        }[name]
        value = fn()
        self.samples.setdefault(name, []).append(value)
        return value

    def median(self, name: str) -> float:
        return med(self.samples[name])

    def close(self) -> None:
        self.allcores.close()


def has_p2p(node: BenchNode) -> bool:
    """Whether this obol syncs from peers: ``addnode`` exists (any answer but -32601)."""
    client = node.client()
    try:
        client.call("addnode")
    except RpcFailure as exc:
        return exc.code != -32601
    finally:
        client.close()
    return True


def scale_rows(workdir: Path, blocks: int, dbcache_mb: int) -> list[Row]:
    log(f"scale: {blocks} blocks, --dbcache {dbcache_mb}")
    stretch = min(1000, max(blocks // 10, 50))
    fig = scale.run(workdir / "scale", log, blocks, stretch, dbcache_mb)
    info = {"blocks": fig.blocks, "txs": fig.txs, "stretch_blocks": stretch}
    return [
        Row(
            "scale_sync_tail_ratio",
            fig.last_rate / fig.first_rate,
            "ratio",
            target=">= 0.85",
            extra={**info, "first_tx_s": round(fig.first_rate), "last_tx_s": round(fig.last_rate)},
        ),
        Row(
            "scale_rss_mb",
            fig.peak_rss_mb,
            "MB",
            target=f"<= {dbcache_mb} + 150 MB",
            extra={
                "peak_anon_mb": round(fig.peak_anon_mb, 1),
                "peak_file_mb": round(fig.peak_file_mb, 1),
            },
        ),
        Row("scale_disk_bytes_per_tx", fig.disk_bytes_per_tx, "bytes", extra=info),
        Row(
            "coin_cache_bytes_per_coin",
            cachemem.bytes_per_coin(
                NodeConfig(REGTEST, workdir, dbcache_mb=dbcache_mb).coin_cache_coins
            ),
            "bytes",
            target=f"<= {BYTES_PER_CACHED_COIN} (node/config.py)",
        ),
        Row("scale_addressbalance_ms", fig.balance_ms, "ms", target="<= 50 ms"),
        Row("scale_addresshistory_ms", fig.history_ms, "ms", target="<= 50 ms"),
        Row("scale_txoutset_muhash_ms", fig.muhash_ms, "ms", target="<= 50 ms"),
        Row("scale_probe_max_ms", fig.probe_max_ms, "ms", target="<= 50 ms"),
        Row(
            "devnet_interval_s",
            fig.devnet_interval_s,
            "s",
            target="7-13 s",
            extra={"timed": "a fresh devnet node, 1 mining worker"},
        ),
    ]


def analytics_rows(workdir: Path, blocks: int, txs_per_block: int) -> list[Row]:
    from . import analytics

    log(f"analytics: {blocks} blocks of {txs_per_block} txs, export and analyses")
    fig = analytics.run(workdir / "analytics", log, blocks, txs_per_block)
    info = {"blocks": fig.blocks, "txs": fig.txs}
    rows = [
        Row(
            "export_parquet",
            fig.export_tx_s,
            "tx/s",
            fig.parquet_write_tx_s,
            fig.export_tx_s / fig.parquet_write_tx_s,
            extra={**info, "ceiling_is": "pyarrow writing the txs table"},
        ),
        Row("duckdb_scan", fig.scan_rows_s, "row/s", extra={"rows": fig.rows}),
    ]
    for name, ms in fig.analysis_ms.items():
        rate = fig.rows / (ms / 1000)
        rows.append(
            Row(
                f"analyze_{name}",
                rate,
                "row/s",
                fig.scan_rows_s,
                rate / fig.scan_rows_s,
                extra={"ms": round(ms, 1), "rows": "outputs+spends+txs"},
            )
        )
    return rows


def run(sections: tuple[str, ...], reps: int, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    c = Ceilings()
    cores = c.cores
    log(f"obol bench: {cores} cores, {reps} repetitions, sections {', '.join(sections)}")
    try:
        log("ceilings")
        ldb = ceilings.LevelDBCeiling()
        puts = [ldb.batch_puts() for _ in range(reps)]
        gets = [ldb.random_gets() for _ in range(reps)]
        synced = [ldb.synced_writes() for _ in range(reps)]
        ldb.close()
        for _ in range(reps):
            for name in ("ed25519_verify_1core", "ed25519_verify_allcores", "sha256d_1core"):
                c.take(name)
            c.take("secp256k1_verify_1core")
            c.take("secp256k1_verify_allcores")

        cold = None
        node = BenchNode(workdir / "blocks")
        node.start()
        try:
            p2p = has_p2p(node)
            if "blocks" in sections:
                log("block connection and mempool acceptance")
                paired_allcores: list[float] = []
                paired_secp: list[float] = []
                fig = blocks.run(
                    node,
                    reps,
                    log,
                    between=lambda: paired_allcores.append(c.take("ed25519_verify_allcores")),
                    between_secp=lambda: paired_secp.append(c.take("secp256k1_verify_allcores")),
                )
                cold = med(fig.cold)
                bounds = bracketing(paired_allcores)
                rows.append(
                    Row(
                        "block_connect_cold",
                        cold,
                        "tx/s",
                        med(bounds),
                        paired_ratio(fig.cold, bounds),
                        ">= 0.6 of ed25519_verify_allcores",
                        {
                            "rpc_probe_max_ms": round(fig.probe_max_ms, 1),
                            "rpc_probe_p99_ms": round(fig.probe_p99_ms, 1),
                        },
                    )
                )
                warm = med(fig.warm)
                rows.append(
                    Row("block_connect_warm", warm, "tx/s", cold, warm / cold, ">= 3 x cold")
                )
                secp_bounds = bracketing(paired_secp)
                rows.append(
                    Row(
                        "block_connect_secp256k1",
                        med(fig.secp),
                        "tx/s",
                        med(secp_bounds),
                        paired_ratio(fig.secp, secp_bounds),
                        ">= 0.6 of secp256k1_verify_allcores",
                        {"block_txs": blocks.SECP_BLOCK_TXS},
                    )
                )
                one = c.median("ed25519_verify_1core")
                rows.append(
                    Row(
                        "mempool_accept",
                        med(fig.mempool),
                        "tx/s",
                        one,
                        med(fig.mempool) / one,
                        "",
                        {"ceiling_is": "ed25519_verify_1core"},
                    )
                )
            if "rpc" in sections:
                log("RPC")
                fig_rpc = rpc.run(node, reps, log)
                ceiling = med(fig_rpc.ceiling)
                rows.append(
                    Row(
                        "rpc_ceiling",
                        ceiling,
                        "req/s",
                        extra={"p99_ms": round(med(fig_rpc.ceiling_p99_ms), 2)},
                    )
                )
                rows.append(
                    Row(
                        "rpc_getblockcount",
                        med(fig_rpc.node),
                        "req/s",
                        ceiling,
                        paired_ratio(fig_rpc.node, bracketing(fig_rpc.ceiling)),
                        ">= 0.5 of rpc_ceiling",
                        {"p99_ms": round(med(fig_rpc.node_p99_ms), 2), "connections": 32},
                    )
                )
        finally:
            node.stop()

        if "mining" in sections:
            log("mining")
            per_worker, total, sha = [], [], [c.take("sha256d_1core")]
            for _ in range(reps):
                per_worker += mining.hashrates(1, 1)
                sha.append(c.take("sha256d_1core"))
                total += mining.hashrates(cores, 1)
                sha.append(c.take("sha256d_1core"))
                log(f"  mining: 1 worker {per_worker[-1]:,.0f} H/s, {cores} {total[-1]:,.0f} H/s")
            one = bracketing(sha)[0::2]  # the samples around each 1-worker sample
            every = [cores * s for s in bracketing(sha)[1::2]]
            rows.append(
                Row(
                    "mining_per_worker",
                    med(per_worker),
                    "H/s",
                    med(one),
                    paired_ratio(per_worker, one),
                    ">= 0.9 of sha256d_1core",
                )
            )
            rows.append(
                Row(
                    "mining_total",
                    med(total),
                    "H/s",
                    med(every),
                    paired_ratio(total, every),
                    "",
                    {"workers": cores, "ceiling_is": "cores x sha256d_1core"},
                )
            )

        if "sync" in sections:
            if not p2p:
                log("initial sync: skipped, no p2p yet")
                for name, unit in (("initial_sync", "tx/s"), ("node_rss_mb", "MB")):
                    rows.append(Row(name, None, unit, extra={"skipped": "no p2p yet"}))
            else:
                log("initial sync")
                fig_sync = sync.run(workdir / "sync", log)
                value = med(fig_sync.segment_rates)
                rows.append(
                    Row(
                        "initial_sync",
                        value,
                        "tx/s",
                        cold,
                        value / cold if cold else None,
                        ">= 0.5 of block_connect_cold",
                        {
                            "blocks": sync.SYNC_BLOCKS,
                            "txs": fig_sync.txs,
                            "seconds": round(fig_sync.seconds, 1),
                            "overall_tx_s": round(fig_sync.overall_rate),
                        },
                    )
                )
                rows.append(Row("node_rss_mb", fig_sync.peak_rss_mb, "MB", target="<= 200 MB"))

        ceiling_rows = [
            Row("ed25519_verify_1core", c.median("ed25519_verify_1core"), "verify/s"),
            Row("ed25519_verify_allcores", c.median("ed25519_verify_allcores"), "verify/s"),
            Row("secp256k1_verify_1core", c.median("secp256k1_verify_1core"), "verify/s"),
            Row("secp256k1_verify_allcores", c.median("secp256k1_verify_allcores"), "verify/s"),
            Row("sha256d_1core", c.median("sha256d_1core"), "hash/s"),
            Row("leveldb_batch_puts", med(puts), "put/s"),
            Row("leveldb_random_gets", med(gets), "get/s"),
            Row("leveldb_synced_writes", med(synced), "write/s"),
        ]
        return ceiling_rows + rows
    finally:
        c.close()


def table(rows: list[Row]) -> str:
    def fmt(x: float | None) -> str:
        if x is None:
            return "-"
        return f"{x:,.1f}" if abs(x) < 100 else f"{x:,.0f}"

    lines = [f"{'name':26} {'value':>13} {'unit':9} {'ceiling':>13} {'ratio':>7}  target / notes"]
    for r in rows:
        value = f"{r.value:.3f}" if r.unit == "ratio" and r.value is not None else fmt(r.value)
        ratio = "-" if r.ratio is None else f"{r.ratio:.3f}"
        notes = r.target
        if r.extra:
            notes += ("  " if notes else "") + " ".join(f"{k}={v}" for k, v in r.extra.items())
        lines.append(f"{r.name:26} {value:>13} {r.unit:9} {fmt(r.ceiling):>13} {ratio:>7}  {notes}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per figure (>= 5)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run ({', '.join(SECTIONS + EXTRA_SECTIONS)}); "
        "ceilings always run; scale and analytics only when named",
    )
    parser.add_argument("--scale-blocks", type=int, default=48_000, help="scale: chain length")
    parser.add_argument("--dbcache", type=int, default=100, help="scale: the node's --dbcache")
    parser.add_argument(
        "--analytics-blocks", type=int, default=5000, help="analytics: chain length"
    )
    parser.add_argument("--analytics-txs", type=int, default=20, help="analytics: txs per block")
    args = parser.parse_args(argv)
    sections = tuple(s for s in args.only.split(",") if s)
    unknown = set(sections) - set(SECTIONS) - set(EXTRA_SECTIONS)
    if unknown or args.reps < 1 or args.scale_blocks < 500:
        parser.error(
            f"unknown section(s): {', '.join(sorted(unknown))}"
            if unknown
            else "--reps/--scale-blocks"
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="obol-bench-") as tmp:
        rows = run(sections, args.reps, Path(tmp))
        if "scale" in sections:
            rows += scale_rows(Path(tmp), args.scale_blocks, args.dbcache)
        if "analytics" in sections:
            rows += analytics_rows(Path(tmp), args.analytics_blocks, args.analytics_txs)
    log(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        print(json.dumps([r.as_json() for r in rows], indent=1))
    else:
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
