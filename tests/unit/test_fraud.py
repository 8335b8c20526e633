"""Fraud signals: each planted anomaly found once, explained, with its txids; none on
chains without them (no false alarm)."""

from __future__ import annotations

import asyncio

from bench.analytics import SplitChain, memory_access
from consensus.params import COIN
from node.analytics.analyze import Analysis
from node.analytics.export import export_chain
from node.analytics.fraud import BURST_TXS, fraud_signals
from tests.analytics_chain import (
    BURST,
    FEE,
    X1,
    X2,
    X3,
    Y1,
    Y2,
    H,
    Q,
    W,
    addr,
    builder_access,
    fraud_chain,
    loan_chain,
    planted_chain,
)


def signals_of(builder, tmp_path, recent: int = 1000) -> dict:
    directory = tmp_path / "chain"
    asyncio.run(export_chain(builder_access(builder), directory, 50))
    return fraud_signals(Analysis(directory), recent)


def test_each_planted_anomaly_is_found_and_explained(tmp_path) -> None:
    builder, txs = fraud_chain()
    got = signals_of(builder, tmp_path)
    assert (got["height"], got["since_height"]) == (110, 0)
    assert [s["kind"] for s in got["signals"]] == ["campaign_one_cluster", "peel_chain", "burst"]
    campaign, peel, burst = got["signals"]

    claim = txs["claim"].txid_hex
    assert campaign["txids"] == [claim] and campaign["height"] == 110
    assert campaign["backers"] == sorted([addr(Y1), addr(Y2)])
    assert campaign["payee"] == addr(H)
    assert campaign["cluster_links"] == [txs["join_y"].txid_hex]
    assert campaign["explanation"] == (
        f"2 of the 3 pledges claimed for {addr(H)} came from 2 addresses of one cluster "
        f"({2 * COIN} of the goal {3 * COIN - FEE})"
    )

    hops = [tx.txid_hex for tx in txs["peel"]]
    assert (peel["txids"], peel["txs"], peel["height"]) == (hops, 5, 109)
    assert peel["payments"] == [
        {"txid": t, "value": COIN, "to": addr(q)} for t, q in zip(hops, Q, strict=True)
    ]
    assert peel["explanation"].startswith("5 txs in a row between heights 105 and 109")

    assert BURST + 1 >= BURST_TXS
    expected = sorted(tx.txid_hex for tx in txs["burst"])
    assert burst["txids"] == [txs["join_x"].txid_hex, *expected]
    assert burst["addresses"] == sorted([addr(X1), addr(X2)])  # X3: no change rule (1 output)
    assert burst["explanation"] == (
        f"{BURST + 1} txs spent coins of one cluster (2 addresses) between heights 103 and 104, "
        "19 times its average of 0.6 per 6 blocks"  # 12 txs over the 19 spans of 0-110
    )
    assert addr(W) not in burst["addresses"] and addr(X3) not in burst["addresses"]


def test_recent_leaves_out_older_signals(tmp_path) -> None:
    builder, _ = fraud_chain()
    got = signals_of(builder, tmp_path, recent=4)
    assert got["since_height"] == 107
    assert [s["kind"] for s in got["signals"]] == ["campaign_one_cluster", "peel_chain"]


def test_no_false_alarm_without_anomalies(tmp_path) -> None:
    for n, chain in enumerate((planted_chain, loan_chain)):
        builder, _ = chain()
        got = signals_of(builder, tmp_path / str(n))
        assert got["signals"] == []
        assert got["assumptions"] and got["thresholds"]["burst_txs"] == BURST_TXS


def test_a_cluster_always_this_busy_is_no_burst(tmp_path) -> None:
    records = SplitChain(20).grow(160).records()
    directory = tmp_path / "busy"
    asyncio.run(export_chain(memory_access(records), directory, 50))
    analysis = Analysis(directory)
    assert max(len(c["addresses"]) for c in analysis.clusters()["clusters"]) > 10
    got = fraud_signals(analysis, recent=48)  # heights 113-160: 20 txs in every block
    assert got["signals"] == []
