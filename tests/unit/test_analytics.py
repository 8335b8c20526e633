"""The export's files and the analyses over them, on a chain with planted owners: exact
clusters with the heuristic of each link, flows, supply, incremental runs and reorgs."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

from consensus.params import COIN
from node.analytics.analyze import Analysis
from node.analytics.export import MANIFEST, MAX_PARTITION_FILES, ExportError, export_chain
from node.analytics.tables import TABLES
from node.cli.main import main
from tests.analytics_chain import (
    A1,
    A2,
    A3,
    ARBITER,
    B1,
    B2,
    BUYER,
    C1,
    COLLATERAL,
    D1,
    FEE,
    INTEREST,
    MATURITY,
    PRINCIPAL,
    REFUND,
    SELLER,
    E,
    F,
    G,
    addr,
    builder_access,
    escrow_chain,
    loan_chain,
    planted_chain,
)
from tests.chain_helpers import key


def export(builder, directory: Path, size: int | None = 50) -> dict:
    return asyncio.run(export_chain(builder_access(builder), directory, size))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    builder, txs = planted_chain()
    directory = tmp_path_factory.mktemp("export") / "chain"
    export(builder, directory)
    return builder, txs, directory, Analysis(directory)


def test_clusters_are_exactly_the_planted_ones(planted) -> None:
    _, txs, _, analysis = planted
    got = analysis.clusters()["clusters"]
    a_cluster = sorted(addr(k) for k in (A1, A2, A3))
    assert [c["addresses"] for c in got] == [a_cluster, sorted([addr(B1), addr(B2)])]
    a, b = txs["a"].txid_hex, txs["b"].txid_hex
    lo, hi = sorted([addr(A1), addr(A2)])
    assert got[0]["links"] == [
        {"a": lo, "b": hi, "heuristic": "common-input", "txid": a},
        {"a": lo, "b": addr(A3), "heuristic": "change", "txid": a},
    ]
    lo, hi = sorted([addr(B1), addr(B2)])
    assert got[1]["links"] == [{"a": lo, "b": hi, "heuristic": "common-input", "txid": b}]
    assert got[0]["balance"] == 7 * COIN - FEE
    assert got[1]["balance"] == 3 * COIN  # B1 was paid again by A's tx


def test_richest_clusters(planted) -> None:
    builder, _, _, analysis = planted
    top = analysis.richest(3)["clusters"]
    miner = sum(c.value for c in builder.view.coins.values() if c.lock == builder.miner.lock)
    assert [c["balance"] for c in top] == [miner, 10 * COIN - FEE, 7 * COIN - FEE]
    assert top[2]["links"] == 2


def test_address_flows(planted) -> None:
    builder, _, _, analysis = planted
    got = analysis.address(addr(A1))
    assert (got["received"], got["sent"], got["balance"]) == (5 * COIN, 5 * COIN, 0)
    assert (got["first_height"], got["last_height"]) == (102, 102)
    assert got["sent_to"] == [
        {"address": addr(A3), "value": 7 * COIN - FEE, "txs": 1},
        {"address": addr(B1), "value": 3 * COIN, "txs": 1},
    ]
    assert got["received_from"] == [{"address": addr(builder.miner), "value": 5 * COIN, "txs": 1}]


def test_supply_volume_and_age_match_the_coin_set(planted) -> None:
    builder, _, _, analysis = planted
    coins = builder.view.coins.values()
    total = sum(c.value for c in coins)
    summary = analysis.summary()
    assert (summary["height"], summary["blocks"], summary["txs"]) == (103, 104, 109)
    assert (summary["supply"], summary["utxo_value"], summary["utxos"]) == (
        total,
        total,
        len(coins),
    )
    assert summary["fees"] == 5 * FEE
    periods = analysis.supply(50)["periods"]
    assert [p["supply"] for p in periods] == [49 * 50 * COIN, 99 * 50 * COIN, total]
    volume = analysis.volume(50)["periods"]
    assert [(p["first_height"], p["txs"], p["fees"]) for p in volume] == [
        (0, 0, 0),
        (50, 0, 0),
        (100, 5, 5 * FEE),
    ]
    assert volume[0]["feerate_percentiles"] == {"10": None, "50": None, "90": None}
    rates = sorted(
        FEE // tx.size for b in builder.blocks[102:] for tx in b.txs[1:]
    )  # each pays FEE
    assert volume[2]["feerate_percentiles"] == {"10": rates[0], "50": rates[2], "90": rates[4]}
    ages = analysis.utxo_age()["buckets"]
    assert sum(b["utxos"] for b in ages) == len(coins)
    assert sum(b["value"] for b in ages) == total
    by_age = [(b["min_age"], b["utxos"]) for b in ages]
    assert by_age[0] == (0, sum(1 for c in coins if c.height == 103))


def test_loan_repayment_is_recognised(planted) -> None:
    _, txs, directory, _ = planted
    rows = pd.read_parquet(directory / "policy_spends")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["txid"], row["contract"], row["event"]) == (txs["repay"].txid_hex, "loan", "repaid")
    assert (row["borrower"], row["lender"], row["maturity"]) == (addr(E), addr(F), MATURITY)
    assert row["keys_used"] == 2
    assert row["branch"] == f"pk(ed25519:{E.pubkey.hex()}) + pk(ed25519:{F.pubkey.hex()})"


def test_pandas_and_duckdb_read_the_same_rows(planted) -> None:
    builder, _, directory, _ = planted
    for table in TABLES:
        frame = pd.read_parquet(directory / table)
        [(n,)] = (
            duckdb.connect()
            .execute(f"SELECT count(*) FROM read_parquet('{directory / table}/*/*.parquet')")
            .fetchall()
        )
        assert len(frame) == n
    outputs = pd.read_parquet(directory / "outputs")
    per_block = outputs.groupby("height")["value"].sum()
    for height in (0, 102, 103):
        block = builder.blocks[height]
        assert per_block[height] == sum(o.value for tx in block.txs for o in tx.outputs)
    inputs = pd.read_parquet(directory / "inputs")
    assert sorted(inputs["sighash"].dropna()) == ["ALL"] * 6 + ["ALL|ANYONECANPAY"] * 2


def files(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in directory.rglob("*.parquet")
    }


def table_rows(directory: Path, table: str) -> list[tuple]:
    sql = f"SELECT * FROM read_parquet('{directory / table}/*/*.parquet') ORDER BY ALL"
    return duckdb.connect().execute(sql).fetchall()


def test_incremental_run_and_reorg_touch_only_their_partitions(tmp_path) -> None:
    builder, _ = planted_chain()
    directory = tmp_path / "chain"
    export(builder, directory)
    before = files(directory)
    builder.mine_empty(5)
    run = export(builder, directory, None)
    assert (run["first_height"], run["blocks"], run["rows"]["blocks"]) == (104, 5, 5)
    assert run["partitions_written"] == ["000000100-000000149"]
    assert run["partitions_rewritten"] == []
    after = files(directory)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing rewritten
    assert len(after) == len(before) + len(TABLES)
    assert export(builder, directory, None)["blocks"] == 0

    fork, _ = planted_chain()  # the same 104 blocks, then another miner from 106
    fork.mine_empty(2)
    fork.mine_empty(5, miner=key(9))
    assert fork.blocks[105].hash == builder.blocks[105].hash
    assert fork.blocks[106].hash != builder.blocks[106].hash
    run = export(fork, directory, None)
    assert (run["first_height"], run["height"]) == (100, 110)
    assert run["partitions_rewritten"] == ["000000100-000000149"]
    rewritten = files(directory)
    untouched = {k: v for k, v in before.items() if not k.split("/")[1].startswith("0000001")}
    assert {k: v for k, v in rewritten.items() if k in untouched} == untouched
    assert sum(1 for k in rewritten if "000000100-000000149" in k) == len(TABLES)
    fresh = tmp_path / "fresh"
    export(fork, fresh)
    for table in TABLES:
        assert table_rows(directory, table) == table_rows(fresh, table)


def test_export_refuses_directories_it_did_not_write(tmp_path) -> None:
    builder, _ = planted_chain()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="holds no export"):
        export(builder, tmp_path / "other")
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["notes.txt"]
    export(builder, tmp_path / "chain")
    with pytest.raises(ExportError, match="exported with 50 blocks per partition"):
        export(builder, tmp_path / "chain", 10)
    manifest = json.loads((tmp_path / "chain" / MANIFEST).read_text())
    manifest["genesis"] = "00" * 32
    (tmp_path / "chain" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match="another chain"):
        export(builder, tmp_path / "chain")


def test_analyze_cli_json_and_errors(planted, capsys, tmp_path) -> None:
    _, _, directory, _ = planted
    assert main(["analyze", str(directory), "clusters", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"clusters", "assumptions"}
    assert set(out["clusters"][0]) == {"addresses", "balance", "links"}
    assert set(out["clusters"][0]["links"][0]) == {"a", "b", "heuristic", "txid"}
    for what in ("summary", "supply", "volume", "utxo-age", "richest", "fraud"):
        assert main(["analyze", str(directory), what, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["assumptions"]
    assert main(["analyze", str(directory), "address", addr(A1)]) == 0
    text = capsys.readouterr().out
    assert f"address: {addr(A1)}" in text and "assumptions:" in text
    cases = [
        (["analyze", str(tmp_path), "summary"], "holds no export"),
        (["analyze", str(directory), "address"], "an ADDRESS goes with 'address' and 'credit'"),
        (["analyze", str(directory), "address", "obrt1nobody"], "never received anything"),
        (["analyze", str(directory), "volume", "--every", "0"], "--every"),
    ]
    for argv, message in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_credit_report_lists_exactly_the_borrowers_loans(tmp_path, capsys) -> None:
    builder, loans = loan_chain()
    directory = tmp_path / "chain"
    export(builder, directory)
    report = Analysis(directory).credit(f"ed25519:{E.pubkey.hex()}")
    assert report["addresses"] == [addr(E)]
    got = [(x["open_txid"], x["close_txid"], x["status"], x["on_time"]) for x in report["loans"]]
    assert got == [
        (loans[0][0].txid_hex, loans[0][1].txid_hex, "repaid", True),
        (loans[1][0].txid_hex, loans[1][1].txid_hex, "repaid", True),
        (loans[2][0].txid_hex, loans[2][1].txid_hex, "defaulted, claimed", False),
    ]
    first = report["loans"][0]
    assert (first["principal"], first["collateral"], first["repaid_to_lender"]) == (
        PRINCIPAL,
        COLLATERAL,
        PRINCIPAL + INTEREST,
    )
    assert first["collateral_ratio"] == 2.0 and first["lender"] == addr(F)
    assert (first["maturity"], first["open_height"], first["close_height"]) == (120, 104, 105)
    assert (report["repaid"], report["repaid_on_time"], report["defaulted"]) == (2, 2, 1)
    assert report["first_seen_height"] == 104
    repaid_back = 2 * (COLLATERAL - PRINCIPAL - INTEREST - FEE)
    assert report["balance"] == 3 * PRINCIPAL + repaid_back
    assert report["balance_history"] == [
        {"height": 104, "balance": 3 * PRINCIPAL},
        {"height": 105, "balance": 3 * PRINCIPAL + repaid_back},
    ]
    assert Analysis(directory).credit(addr(F))["loans"] == []  # F lent; it borrowed nothing
    assert main(["analyze", str(directory), "credit", f"{addr(F)},{addr(E)}", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["addresses"] == sorted([addr(E), addr(F)])
    assert [x["close_txid"] for x in both["loans"]] == [c.txid_hex for _, c in loans]
    assert {x["borrower"] for x in both["loans"]} == {addr(E)}
    assert main(["analyze", str(directory), "credit", "ed25519:zz"]) == 1
    assert "not an address or a public key" in capsys.readouterr().err


def test_many_small_runs_are_compacted(tmp_path) -> None:
    builder, _ = planted_chain()
    directory = tmp_path / "chain"
    export(builder, directory)
    runs = []
    for _ in range(MAX_PARTITION_FILES):
        builder.mine_empty(1)
        runs.append(export(builder, directory, None))
    last = directory / "blocks" / "000000100-000000149"
    assert [r["partitions_rewritten"] for r in runs[:-1]] == [[]] * (MAX_PARTITION_FILES - 1)
    assert runs[-1]["partitions_rewritten"] == ["000000100-000000149"]
    assert runs[-1]["first_height"] == 100
    assert len(list(last.iterdir())) == 1
    assert table_rows(directory, "blocks") == table_rows(fresh_export(builder, tmp_path), "blocks")


def fresh_export(builder, tmp_path: Path) -> Path:
    directory = tmp_path / "fresh"
    export(builder, directory)
    return directory


def test_escrows_are_recognised_with_the_branch_each_spend_used(tmp_path) -> None:
    builder, txs = escrow_chain()
    directory = tmp_path / "chain"
    export(builder, directory)
    rows = pd.read_parquet(directory / "policy_spends").sort_values(["height", "txid"])
    got = {
        r.txid: (r.contract, r.event, r.signers, r.buyer, r.seller, r.arbiter, r.refund_height)
        for r in rows.itertuples()
    }
    parties = (addr(BUYER), addr(SELLER), addr(ARBITER), REFUND)
    assert got == {
        txs["released"].txid_hex: ("escrow", "released", "buyer+seller", *parties),
        txs["arbitrated"].txid_hex: ("escrow", "arbitrated", "seller+arbiter", *parties),
        txs["refunded"].txid_hex: ("escrow", "refunded", "buyer", *parties),
    }
    assert rows["borrower"].isna().all() and rows["maturity"].isna().all()
    assert len(pd.read_parquet(directory / "pledges")) == 0


def test_loans_and_pledge_claims_are_recognised(planted) -> None:
    _, txs, directory, _ = planted
    loans = pd.read_parquet(directory / "policy_spends")
    assert list(loans["signers"]) == ["borrower+lender"] and loans["buyer"].isna().all()
    pledges = pd.read_parquet(directory / "pledges").sort_values("vin")
    fund = txs["fund"].txid_hex
    assert [tuple(r) for r in pledges.itertuples(index=False)] == [
        (103, txs["pledge"].txid_hex, 0, fund, 4, 5 * COIN, addr(C1), addr(G), 10 * COIN - FEE),
        (103, txs["pledge"].txid_hex, 1, fund, 5, 5 * COIN, addr(D1), addr(G), 10 * COIN - FEE),
    ]


def test_polars_reads_the_export_as_duckdb_does(planted) -> None:
    builder, _, directory, _ = planted
    for table in TABLES:
        frame = pl.read_parquet(directory / table / "*" / "*.parquet")
        assert frame.height == len(table_rows(directory, table))
    txs = pl.scan_parquet(directory / "txs" / "*" / "*.parquet")
    per_block = txs.group_by("height").agg(pl.col("output_value").sum()).collect()
    got = dict(zip(per_block["height"], per_block["output_value"], strict=True))
    assert got == {
        h: sum(o.value for tx in block.txs for o in tx.outputs)
        for h, block in enumerate(builder.blocks)
    }
    assert txs.select(pl.col("fee").sum()).collect().item() == 5 * FEE


@pytest.mark.slow
def test_spark_reads_the_export_as_duckdb_does(planted) -> None:
    """Slow: a local Spark starts a JVM (about 10 s). Needs obol[spark] and Java 17+."""
    sql = pytest.importorskip("pyspark.sql", reason="pip install 'obol[spark]'")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (17 or later)")
    builder, _, directory, _ = planted
    spark = (
        sql.SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    try:
        for table in TABLES:
            frame = spark.read.parquet(str(directory / table / "*" / "*.parquet"))
            assert frame.count() == len(table_rows(directory, table))
        outputs = spark.read.parquet(str(directory / "outputs" / "*" / "*.parquet"))
        got = {
            r["height"]: r["total"]
            for r in outputs.groupBy("height")
            .agg(sql.functions.sum("value").alias("total"))
            .collect()
        }
        assert got == {
            h: sum(o.value for tx in block.txs for o in tx.outputs)
            for h, block in enumerate(builder.blocks)
        }
        assert dict(outputs.dtypes)["value"] == "bigint"
    finally:
        spark.stop()
