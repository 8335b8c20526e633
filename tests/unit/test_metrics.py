"""The metric registry and its Prometheus text, checked with the reference parser."""

from __future__ import annotations

import math
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from node.metrics import (
    BLOCK_VALIDATION_BUCKETS,
    Counter,
    Histogram,
    NodeMetrics,
    Registry,
    format_value,
)


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counter_gauge_histogram_render_and_parse():
    r = Registry()
    c = r.counter("t_events_total", "Events.", ("kind",))
    g = r.gauge("t_level", "A level.")
    h = r.histogram("t_seconds", "Durations.", (0.1, 1.0))
    c.inc(kind="a")
    c.inc(2, kind="a")
    c.inc(kind="b")
    g.set(-3.5)
    for v in (0.05, 0.1, 0.5, 7):
        h.observe(v)
    text = r.render()
    fams = families(text)
    assert fams["t_events"].type == "counter"
    assert fams["t_level"].type == "gauge"
    assert fams["t_seconds"].type == "histogram"
    got = samples(text)
    assert got[("t_events_total", (("kind", "a"),))] == 3
    assert got[("t_events_total", (("kind", "b"),))] == 1
    assert got[("t_level", ())] == -3.5
    assert got[("t_seconds_bucket", (("le", "0.1"),))] == 2  # le is inclusive
    assert got[("t_seconds_bucket", (("le", "1.0"),))] == 3
    assert got[("t_seconds_bucket", (("le", "+Inf"),))] == 4
    assert got[("t_seconds_count", ())] == 4
    assert got[("t_seconds_sum", ())] == pytest.approx(7.65)


def test_unlabeled_metrics_exist_at_zero():
    r = Registry()
    r.counter("t_total", "Never incremented.")
    r.histogram("t_h", "Never observed.", (1.0,))
    got = samples(r.render())
    assert got[("t_total", ())] == 0
    assert got[("t_h_count", ())] == 0
    assert got[("t_h_bucket", (("le", "+Inf"),))] == 0


def test_labels_and_help_are_escaped():
    r = Registry()
    c = r.counter("t_total", 'Help with \\ and\nnewline "quoted".', ("m",))
    nasty = 'a"b\\c\nd'
    c.inc(m=nasty)
    text = r.render()
    assert '# HELP t_total Help with \\\\ and\\nnewline "quoted".' in text
    assert samples(text)[("t_total", (("m", nasty),))] == 1


def test_metric_misuse_is_refused():
    r = Registry()
    c = r.counter("t_total", "x", ("a",))
    with pytest.raises(ValueError):
        r.counter("t_total", "again")
    with pytest.raises(ValueError):
        c.inc()  # labels required
    with pytest.raises(ValueError):
        c.inc(a="1", b="2")
    with pytest.raises(ValueError):
        c.inc(-1, a="1")
    with pytest.raises(ValueError):
        Histogram("t", "x", ())
    with pytest.raises(ValueError):
        Histogram("t", "x", (1.0,), ("le",))
    with pytest.raises(ValueError):
        Counter("t", "x", ("a",), fn=lambda: 1)


def test_function_metrics_are_read_when_rendered():
    r = Registry()
    value = [1]
    r.gauge("t_fn", "Read at scrape.", fn=lambda: value[0])
    assert samples(r.render())[("t_fn", ())] == 1
    value[0] = 42
    assert samples(r.render())[("t_fn", ())] == 42


def test_format_value():
    assert format_value(3) == "3"
    assert format_value(0.25) == "0.25"
    assert format_value(math.inf) == "+Inf"
    assert format_value(-math.inf) == "-Inf"
    assert format_value(math.nan) == "NaN"


def test_concurrent_updates_are_not_lost():
    r = Registry()
    c = r.counter("t_total", "x")
    h = r.histogram("t_h", "x", (1.0,))

    def work() -> None:
        for _ in range(5000):
            c.inc()
            h.observe(0.5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.value() == 20000
    assert h.count() == 20000


def test_node_metrics_names_and_updates():
    m = NodeMetrics()
    m.block_connected(3, 0.002)
    m.block_connected(1, 0.2)
    m.reorg(2)
    m.rpc_call("getblockcount", True)
    m.rpc_call("getblockcount", False)
    m.block_height.set(7)
    text = m.render()
    fams = families(text)
    for name in (
        "obol_block_height",
        "obol_peers",
        "obol_mempool_transactions",
        "obol_mempool_bytes",
        "obol_blocks_connected",
        "obol_blocks_disconnected",
        "obol_transactions_connected",
        "obol_block_validation_seconds",
        "obol_reorgs",
        "obol_rpc_calls",
        "process_cpu_seconds",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
    ):
        assert name in fams, name
    got = samples(text)
    assert got[("obol_block_height", ())] == 7
    assert got[("obol_blocks_connected_total", ())] == 2
    assert got[("obol_transactions_connected_total", ())] == 4
    assert got[("obol_reorgs_total", ())] == 1
    assert got[("obol_blocks_disconnected_total", ())] == 2
    assert got[("obol_block_validation_seconds_count", ())] == 2
    assert got[("obol_block_validation_seconds_sum", ())] == pytest.approx(0.202)
    assert got[("obol_block_validation_seconds_bucket", (("le", "0.0025"),))] == 1
    assert got[("obol_block_validation_seconds_bucket", (("le", "0.25"),))] == 2
    assert len([k for k in got if k[0] == "obol_block_validation_seconds_bucket"]) == (
        len(BLOCK_VALIDATION_BUCKETS) + 1
    )
    ok = (("method", "getblockcount"), ("outcome", "ok"))
    err = (("method", "getblockcount"), ("outcome", "error"))
    assert got[("obol_rpc_calls_total", ok)] == 1
    assert got[("obol_rpc_calls_total", err)] == 1
    assert got[("process_resident_memory_bytes", ())] > 0
