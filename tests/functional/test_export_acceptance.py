"""Issue 18's acceptance for the export, at size: a generated chain of 5,000 blocks and
about 100,000 txs (the bench's generator) in a node, exported with exportchain; DuckDB,
pandas and pyarrow read back exactly the chain's totals (tx count, output sum per block,
the coin set of gettxoutsetinfo, its MuHash included); and an incremental export after
100 more blocks and a 3-block reorg equals a full export. Slow: the chain is generated
and connected once for the module (about a minute)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bench.analytics import SplitChain
from bench.chaingen import gen_key
from consensus.address import encode_address
from consensus.params import COIN, REGTEST
from consensus.primitives import outpoint_key
from node.analytics.analyze import Analysis
from node.analytics.fraud import fraud_signals
from node.analytics.tables import TABLES
from node.chain.muhash import MuHash, coin_bytes

from . import framework

pytestmark = pytest.mark.slow

BLOCKS, TXS_PER_BLOCK = 5000, 20


def parquet(directory: Path, table: str) -> str:
    return f"read_parquet('{directory}/{table}/*/*.parquet')"


def submit(node, blocks) -> None:
    for block in blocks:
        assert node.rpc.submitblock(block.serialize().hex()) is None


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    base = tmp_path_factory.mktemp("acceptance")
    generated = SplitChain(TXS_PER_BLOCK).grow(BLOCKS)
    with framework.running_nodes(base, 1) as (node,):
        submit(node, generated.blocks[1:])
        assert node.rpc.getblockcount() == BLOCKS
        directory = base / "export"
        run = node.rpc.exportchain(str(directory))
        assert (run["height"], run["blocks"]) == (BLOCKS, BLOCKS + 1)
        yield node, generated, directory, base


def test_duckdb_pandas_and_pyarrow_read_back_the_chain_totals(chain) -> None:
    node, generated, directory, _ = chain
    blocks = generated.blocks[: BLOCKS + 1]
    n_txs = sum(len(b.txs) for b in blocks)
    assert n_txs > 100_000
    per_block = {h: sum(o.value for tx in b.txs for o in tx.outputs) for h, b in enumerate(blocks)}
    con = duckdb.connect()

    assert con.execute(f"SELECT count(*) FROM {parquet(directory, 'txs')}").fetchall() == [(n_txs,)]
    assert len(pd.read_parquet(directory / "txs", columns=["txid"])) == n_txs
    assert pq.read_table(directory / "txs", columns=["txid"]).num_rows == n_txs

    sums = f"SELECT height, sum(value) FROM {parquet(directory, 'outputs')} GROUP BY height"
    assert dict(con.execute(sums).fetchall()) == per_block
    outputs = pd.read_parquet(directory / "outputs", columns=["height", "value"])
    assert outputs.groupby("height")["value"].sum().to_dict() == per_block
    table = pq.read_table(directory / "outputs", columns=["height", "value"])
    grouped = table.group_by("height").aggregate([("value", "sum")])
    heights, values = grouped["height"].to_pylist(), grouped["value_sum"].to_pylist()
    assert dict(zip(heights, values, strict=True)) == per_block
    assert pc.sum(table["value"]).as_py() == sum(per_block.values())
    block_rows = f"SELECT height, output_value FROM {parquet(directory, 'blocks')}"
    assert dict(con.execute(block_rows).fetchall()) == per_block

    coins = con.execute(
        f"""
        SELECT o.txid, o.vout, o.value, o.lock, o.height, o.is_coinbase
        FROM {parquet(directory, "outputs")} o
        ANTI JOIN {parquet(directory, "spends")} s ON s.prev_txid = o.txid AND s.prev_vout = o.vout
        WHERE o.height > 0
        """
    ).fetchall()
    muhash = MuHash()
    for txid, vout, value, lock, height, coinbase in coins:
        key = outpoint_key(bytes.fromhex(txid)[::-1], vout)
        muhash.insert(coin_bytes(key, value, bytes.fromhex(lock), height, coinbase))
    info = node.rpc.gettxoutsetinfo("muhash")
    assert info["height"] == BLOCKS
    assert len(coins) == info["txouts"]
    assert sum(c[2] for c in coins) == int(info["total_amount"] * COIN)
    assert muhash.digest()[::-1].hex() == info["muhash"]


def test_no_fraud_signal_on_the_generated_chain(chain) -> None:
    _, _, directory, _ = chain
    assert fraud_signals(Analysis(directory))["signals"] == []


def files(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in directory.rglob("*.parquet")
    }


def test_incremental_export_after_blocks_and_a_reorg_equals_a_full_export(chain) -> None:
    node, generated, directory, base = chain
    before = files(directory)
    generated.grow(BLOCKS + 100)
    submit(node, generated.blocks[BLOCKS + 1 :])
    run = node.rpc.exportchain(str(directory))
    assert (run["first_height"], run["blocks"], run["height"]) == (BLOCKS + 1, 100, BLOCKS + 100)
    assert (run["partitions_written"], run["partitions_rewritten"]) == (["000005000-000005999"], [])

    tip = BLOCKS + 100
    node.rpc.invalidateblock(node.rpc.getblockhash(tip - 2))  # the last 3 blocks go
    other = encode_address(gen_key(7).lock, REGTEST)
    node.rpc.generatetoaddress(4, other)
    assert node.rpc.getblockcount() == tip + 1
    assert node.rpc.getblockhash(tip - 2) != generated.blocks[tip - 2].hash_hex
    run = node.rpc.exportchain(str(directory))
    assert (run["first_height"], run["height"]) == (BLOCKS, tip + 1)
    assert run["partitions_rewritten"] == ["000005000-000005999"]
    after = files(directory)
    untouched = {k: v for k, v in before.items() if "000005000" not in k}
    assert {k: v for k, v in after.items() if k in untouched} == untouched

    fresh = base / "fresh"
    node.rpc.exportchain(str(fresh))
    con = duckdb.connect()
    for table in TABLES:
        a, b = parquet(directory, table), parquet(fresh, table)
        [(n,)] = con.execute(f"SELECT count(*) FROM {a}").fetchall()
        assert con.execute(f"SELECT count(*) FROM {b}").fetchall() == [(n,)]
        for x, y in ((a, b), (b, a)):
            diff = f"SELECT count(*) FROM (SELECT * FROM {x} EXCEPT ALL SELECT * FROM {y})"
            assert con.execute(diff).fetchall() == [(0,)], table
    info = node.rpc.gettxoutsetinfo("muhash")
    [(count, value)] = con.execute(
        f"""
        SELECT count(*), sum(o.value) FROM {parquet(directory, "outputs")} o
        ANTI JOIN {parquet(directory, "spends")} s ON s.prev_txid = o.txid AND s.prev_vout = o.vout
        WHERE o.height > 0
        """
    ).fetchall()
    assert (count, value) == (info["txouts"], int(info["total_amount"] * COIN))
