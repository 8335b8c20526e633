"""The node's metrics and their Prometheus text, checked with the reference parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from node.metrics import BLOCK_VALIDATION_BUCKETS, NodeMetrics


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


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


def test_each_node_counts_on_its_own_and_unused_metrics_read_zero():
    first, second = NodeMetrics(), NodeMetrics()
    first.block_connected(5, 0.01)
    got = samples(second.render())
    assert got[("obol_blocks_connected_total", ())] == 0
    assert got[("obol_block_validation_seconds_count", ())] == 0
    assert samples(first.render())[("obol_blocks_connected_total", ())] == 1
    assert not [name for name, _ in got if name.endswith("_created")]
