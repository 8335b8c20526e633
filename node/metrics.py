"""The node's metrics and their Prometheus text exposition, through ``prometheus_client``.

Each node has its own registry (two nodes in one process, as tests run them, never share
a count). Values are updated from the chain thread (block connects) and the event loop
(RPC calls, scrapes); prometheus_client's metrics are thread-safe.

``NodeMetrics`` lists every metric the node exposes on ``/metrics``, in one place, so the
names (which dashboards and alerts depend on) are easy to find and never drift.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

__all__ = ["BLOCK_VALIDATION_BUCKETS", "CONTENT_TYPE", "NodeMetrics"]

# The exposition generate_latest writes: the text format 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds; regtest blocks connect in about a millisecond, full blocks in up to seconds.
BLOCK_VALIDATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# No ``*_created`` series beside each counter and histogram: the names stay the ones
# dashboards know, and a node's start time is process_start_time_seconds.
disable_created_metrics()


class NodeMetrics:
    """Every metric of ``/metrics``. The node counts events as they happen; gauges of
    state it owns elsewhere (height, mempool, peers) are set just before each scrape.
    The process metrics (CPU, memory, descriptors, start time) come from Linux's /proc."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.block_height = Gauge(
            "obol_block_height", "Height of the best chain's tip.", registry=r
        )
        self.peers = Gauge("obol_peers", "Connected peers.", registry=r)
        self.mempool_transactions = Gauge(
            "obol_mempool_transactions", "Txs in the mempool.", registry=r
        )
        self.mempool_bytes = Gauge(
            "obol_mempool_bytes", "Total encoded size of the mempool's txs.", registry=r
        )
        self.blocks_connected = Counter(
            "obol_blocks_connected", "Blocks connected to the best chain.", registry=r
        )
        self.blocks_disconnected = Counter(
            "obol_blocks_disconnected", "Blocks disconnected from the best chain.", registry=r
        )
        self.transactions_connected = Counter(
            "obol_transactions_connected",
            "Txs (coinbases included) in connected blocks.",
            registry=r,
        )
        self.block_validation = Histogram(
            "obol_block_validation_seconds",
            "Time to validate and connect one block.",
            buckets=BLOCK_VALIDATION_BUCKETS,
            registry=r,
        )
        self.reorgs = Counter(
            "obol_reorgs", "Times the best chain lost blocks to another branch.", registry=r
        )
        self.rpc_calls = Counter(
            "obol_rpc_calls",
            "JSON-RPC calls by method and outcome.",
            ("method", "outcome"),
            registry=r,
        )
        ProcessCollector(registry=r)
        self._rpc_series: dict[tuple[str, bool], Counter] = {}

    def block_connected(self, txs: int, seconds: float) -> None:
        """Called from the chain thread as each block connects."""
        self.blocks_connected.inc()
        self.transactions_connected.inc(txs)
        self.block_validation.observe(seconds)

    def reorg(self, depth: int) -> None:
        """Called when the best chain lost ``depth`` blocks (a reorg or invalidateblock)."""
        self.reorgs.inc()
        self.blocks_disconnected.inc(depth)

    def rpc_call(self, method: str, ok: bool) -> None:
        """The RPC server's ``on_call`` hook. Each (method, outcome) series is looked up
        once: ``labels`` validates and locks on every call, about five times the ``inc``."""
        series = self._rpc_series.get((method, ok))
        if series is None:
            series = self.rpc_calls.labels(method=method, outcome="ok" if ok else "error")
            self._rpc_series[(method, ok)] = series
        series.inc()

    def render(self) -> str:
        """The whole exposition, as ``/metrics`` serves it."""
        return generate_latest(self.registry).decode()
