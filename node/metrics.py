"""The node's metrics and their Prometheus text exposition (format 0.0.4).

A tiny registry of counters, gauges and histograms with labels, written by our own code so
the node needs no metrics library at runtime. Values are updated from the chain thread
(block connects) and the event loop (RPC calls, scrapes), so every family guards its
values with a lock; rendering takes each lock briefly and never blocks on I/O.

``NodeMetrics`` lists every metric the node exposes on ``/metrics``, in one place, so the
names (which dashboards and alerts depend on) are easy to find and never drift.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

__all__ = [
    "BLOCK_VALIDATION_BUCKETS",
    "Counter",
    "Gauge",
    "Histogram",
    "NodeMetrics",
    "Registry",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds; regtest blocks connect in about a millisecond, full blocks in up to seconds.
BLOCK_VALIDATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

C = TypeVar("C")


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: integers bare, infinities as +Inf/-Inf."""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels_text(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


class _Family(Generic[C]):
    """A metric name with its help, type and one child per combination of label values."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], C] = {}

    def _new_child(self) -> C:
        raise NotImplementedError

    def labels(self, **values: str) -> C:
        """The child for these label values (created at zero on first use)."""
        if set(values) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(values)}")
        key = tuple(str(values[n]) for n in self.labelnames)
        with self._lock:
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._new_child()
            return child

    def _only(self) -> C:
        """The single child of a family without labels."""
        if self.labelnames:
            raise ValueError(f"{self.name} has labels {self.labelnames}: use .labels()")
        return self.labels()

    def samples(self) -> Iterator[tuple[str, tuple[str, ...], tuple[str, ...], float]]:
        """(sample name, label names, label values, value) for every sample, sorted."""
        raise NotImplementedError

    def render(self) -> str:
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for name, names, values, value in self.samples():
            lines.append(f"{name}{_labels_text(names, values)} {format_value(value)}")
        return "\n".join(lines) + "\n"


class _Value:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float = 0


class _ValueFamily(_Family[_Value]):
    """Counters and gauges: one number per child, or one read from ``fn`` when rendered."""

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        fn: Callable[[], float] | None = None,
    ) -> None:
        if fn is not None and labelnames:
            raise ValueError("a metric read from a function has no labels")
        super().__init__(name, help_text, labelnames)
        self._fn = fn

    def _new_child(self) -> _Value:
        return _Value()

    def _add(self, child: _Value, amount: float) -> None:
        with self._lock:
            child.value += amount

    def value(self, **labels: str) -> float:
        """The current value (for tests and for the node's own status pages)."""
        if self._fn is not None:
            return self._fn()
        child = self.labels(**labels) if labels else self._only()
        with self._lock:
            return child.value

    def samples(self) -> Iterator[tuple[str, tuple[str, ...], tuple[str, ...], float]]:
        if self._fn is not None:
            yield self.name, (), (), self._fn()
            return
        with self._lock:
            items = sorted((key, child.value) for key, child in self._children.items())
        if not items and not self.labelnames:
            items = [((), 0)]  # an unlabeled metric exists at zero before its first update
        for key, value in items:
            yield self.name, self.labelnames, key, value


class Counter(_ValueFamily):
    """A count that only goes up (``inc``); the name should end in ``_total``."""

    kind = "counter"

    def inc(self, amount: float = 1, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        self._add(self.labels(**labels) if labels else self._only(), amount)


class Gauge(_ValueFamily):
    """A value that goes up and down (``set``), or is read from ``fn`` at each scrape."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        child = self.labels(**labels) if labels else self._only()
        with self._lock:
            child.value = value


class _Buckets:
    __slots__ = ("count", "counts", "sum")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size  # per bucket, not cumulative; the last one is +Inf
        self.sum = 0.0
        self.count = 0


class Histogram(_Family[_Buckets]):
    """Observations counted in cumulative ``le`` buckets, with ``_sum`` and ``_count``."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        buckets: Sequence[float],
        labelnames: Sequence[str] = (),
    ) -> None:
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError("a histogram needs distinct finite bucket bounds")
        if "le" in labelnames:
            raise ValueError("'le' is reserved for histogram buckets")
        super().__init__(name, help_text, labelnames)
        self.bounds = (*bounds, math.inf)

    def _new_child(self) -> _Buckets:
        return _Buckets(len(self.bounds))

    def observe(self, value: float, **labels: str) -> None:
        child = self.labels(**labels) if labels else self._only()
        index = next(i for i, bound in enumerate(self.bounds) if value <= bound)
        with self._lock:
            child.counts[index] += 1
            child.sum += value
            child.count += 1

    def count(self, **labels: str) -> int:
        child = self.labels(**labels) if labels else self._only()
        with self._lock:
            return child.count

    def samples(self) -> Iterator[tuple[str, tuple[str, ...], tuple[str, ...], float]]:
        with self._lock:
            items = sorted(
                (key, list(child.counts), child.sum, child.count)
                for key, child in self._children.items()
            )
        if not items and not self.labelnames:
            items = [((), [0] * len(self.bounds), 0.0, 0)]
        names_le = (*self.labelnames, "le")
        for key, counts, total, count in items:
            running = 0
            for bound, n in zip(self.bounds, counts, strict=True):
                running += n
                yield f"{self.name}_bucket", names_le, (*key, format_value(bound)), running
            yield f"{self.name}_sum", self.labelnames, key, total
            yield f"{self.name}_count", self.labelnames, key, count


class Registry:
    """Metric families by name, rendered in registration order."""

    def __init__(self) -> None:
        self._families: dict[str, _Family[Any]] = {}

    def _register(self, family: _Family[Any]) -> None:
        if family.name in self._families:
            raise ValueError(f"metric {family.name} registered twice")
        self._families[family.name] = family

    def counter(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        fn: Callable[[], float] | None = None,
    ) -> Counter:
        metric = Counter(name, help_text, labelnames, fn)
        self._register(metric)
        return metric

    def gauge(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        fn: Callable[[], float] | None = None,
    ) -> Gauge:
        metric = Gauge(name, help_text, labelnames, fn)
        self._register(metric)
        return metric

    def histogram(
        self, name: str, help_text: str, buckets: Sequence[float], labelnames: Sequence[str] = ()
    ) -> Histogram:
        metric = Histogram(name, help_text, buckets, labelnames)
        self._register(metric)
        return metric

    def render(self) -> str:
        """The whole exposition, as ``/metrics`` serves it."""
        return "".join(family.render() for family in self._families.values())


def _resident_bytes() -> float:
    """Resident set size from /proc (Linux); 0 where /proc is missing."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _open_fds() -> float:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


class NodeMetrics:
    """Every metric of ``/metrics``. The node counts events as they happen; gauges of
    state it owns elsewhere (height, mempool, peers) are set just before each scrape."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.block_height = r.gauge("obol_block_height", "Height of the best chain's tip.")
        self.peers = r.gauge("obol_peers", "Connected peers.")
        self.mempool_transactions = r.gauge("obol_mempool_transactions", "Txs in the mempool.")
        self.mempool_bytes = r.gauge(
            "obol_mempool_bytes", "Total encoded size of the mempool's txs."
        )
        self.blocks_connected = r.counter(
            "obol_blocks_connected_total", "Blocks connected to the best chain."
        )
        self.blocks_disconnected = r.counter(
            "obol_blocks_disconnected_total", "Blocks disconnected from the best chain."
        )
        self.transactions_connected = r.counter(
            "obol_transactions_connected_total", "Txs (coinbases included) in connected blocks."
        )
        self.block_validation = r.histogram(
            "obol_block_validation_seconds",
            "Time to validate and connect one block.",
            BLOCK_VALIDATION_BUCKETS,
        )
        self.reorgs = r.counter(
            "obol_reorgs_total", "Times the best chain lost blocks to another branch."
        )
        self.rpc_calls = r.counter(
            "obol_rpc_calls_total", "JSON-RPC calls by method and outcome.", ("method", "outcome")
        )
        started = time.time()
        r.gauge(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch.",
            fn=lambda: started,
        )
        r.counter("process_cpu_seconds_total", "User and system CPU time.", fn=time.process_time)
        r.gauge("process_resident_memory_bytes", "Resident memory size.", fn=_resident_bytes)
        r.gauge("process_open_fds", "Open file descriptors.", fn=_open_fds)

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
        """The RPC server's ``on_call`` hook."""
        self.rpc_calls.inc(method=method, outcome="ok" if ok else "error")

    def render(self) -> str:
        return self.registry.render()
