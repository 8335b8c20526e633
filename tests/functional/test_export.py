"""exportchain through a running node: the files hold exactly what the node's RPC says
(getblock, gettxoutsetinfo), obol export reaches it as obol rpc does, and bad arguments
get Core's error codes with nothing written. (The RPC's amounts are compared as the
base units they hold, before JSON writes them with 8 decimals.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import duckdb
import pandas as pd
import pyarrow.parquet as pq

from node.cli.main import main
from node.node import Node
from node.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RpcError,
)
from tests.analytics_chain import E, addr, fraud_chain, planted_chain


async def rpc(node: Node, method: str, *params):
    return await node.rpc.registry.call(method, list(params))


async def rpc_error(node: Node, method: str, *params) -> RpcError:
    try:
        await rpc(node, method, *params)
    except RpcError as exc:
        return exc
    raise AssertionError(f"{method} {params} did not fail")


def sql(query: str) -> list[tuple]:
    return duckdb.connect().execute(query).fetchall()


async def test_export_matches_the_nodes_rpc(inprocess_node: Node, tmp_path: Path) -> None:
    node = inprocess_node
    builder, planted = planted_chain()
    for block in builder.blocks[1:]:
        assert (await node.submit_block(block)).status == "accepted"
    charts = f"http://127.0.0.1:{node.rpc.port}/rest/stats/analytics.json"
    async with aiohttp.ClientSession() as http, http.get(charts) as resp:
        assert (await resp.json())["available"] is False
    err = await rpc_error(node, "getcreditreport", addr(E))
    assert err.code == RPC_MISC_ERROR and "run exportchain first" in err.message
    directory = tmp_path / "chain"
    run = await rpc(node, "exportchain", str(directory), 50)
    assert (run["height"], run["blocks"], run["first_height"]) == (103, 104, 0)
    assert run["bestblockhash"] == await rpc(node, "getbestblockhash")

    blocks = pd.read_parquet(directory / "blocks").sort_values("height")
    txs = pd.read_parquet(directory / "txs")
    outputs = pq.read_table(directory / "outputs").to_pandas()
    assert len(blocks) == 104
    for height in (0, 50, 102, 103):
        want = await rpc(node, "getblock", await rpc(node, "getblockhash", height), 2)
        row = blocks[blocks["height"] == height].iloc[0]
        assert (row["hash"], row["n_tx"], row["size"], row["time"]) == (
            want["hash"],
            want["nTx"],
            want["size"],
            want["time"],
        )
        assert sorted(txs[txs["height"] == height]["txid"]) == sorted(t["txid"] for t in want["tx"])
        fees = {t["txid"]: t.get("fee") for t in want["tx"]}
        for _, tx in txs[txs["height"] == height].iterrows():
            fee = fees[tx["txid"]]
            assert (None if pd.isna(tx["fee"]) else int(tx["fee"])) == fee
        want_out = sum(o["value"] for t in want["tx"] for o in t["vout"])
        assert outputs[outputs["height"] == height]["value"].sum() == want_out

    glob = f"{directory}/{{}}/*/*.parquet"
    coins = sql(
        f"""
        SELECT count(*), sum(o.value) FROM read_parquet('{glob.format("outputs")}') o
        ANTI JOIN read_parquet('{glob.format("spends")}') s
          ON s.prev_txid = o.txid AND s.prev_vout = o.vout
        WHERE o.height > 0
        """
    )[0]
    info = await rpc(node, "gettxoutsetinfo", "none")
    assert coins == (info["txouts"], info["total_amount"])

    async with aiohttp.ClientSession() as http, http.get(charts) as resp:
        shown = await resp.json()
    assert (shown["available"], shown["height"], shown["every"]) == (True, 103, 6)
    assert len(shown["volume"]) == 18
    assert [(p["first_height"], p["txs"]) for p in shown["volume"] if p["txs"]] == [(102, 5)]
    assert sum(b["utxos"] for b in shown["utxo_age"]) == info["txouts"]

    report = await rpc(node, "getcreditreport", f"ed25519:{E.pubkey.hex()}")
    assert report["addresses"] == [addr(E)] and report["height"] == 103
    assert [(x["status"], x["close_txid"]) for x in report["loans"]] == [
        ("repaid", planted["repay"].txid_hex)
    ]
    err = await rpc_error(node, "getcreditreport", "nonsense")
    assert err.code == RPC_INVALID_ADDRESS_OR_KEY

    await rpc(node, "generatetoaddress", 3, addr(builder.miner))
    port = node.rpc.port
    argv = ["export", "--to", str(directory), "--datadir", str(node.config.datadir)]
    assert await asyncio.to_thread(main, [*argv, "--rpc-port", str(port)]) == 0
    assert sql(f"SELECT max(height), count(*) FROM read_parquet('{glob.format('blocks')}')") == [
        (106, 107)
    ]


async def test_export_errors_change_nothing(inprocess_node: Node, tmp_path: Path) -> None:
    node = inprocess_node
    err = await rpc_error(node, "exportchain", "relative/dir")
    assert err.code == RPC_INVALID_PARAMETER and "absolute" in err.message
    err = await rpc_error(node, "exportchain", str(tmp_path / "x"), "10")
    assert err.code == RPC_TYPE_ERROR
    err = await rpc_error(node, "exportchain", str(tmp_path / "x"), 0)
    assert err.code == RPC_INVALID_PARAMETER
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    err = await rpc_error(node, "exportchain", str(tmp_path / "busy"))
    assert err.code == RPC_INVALID_PARAMETER and "holds no export" in err.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "data"]
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]


async def test_fraud_page_and_its_json(inprocess_node: Node, tmp_path: Path) -> None:
    node = inprocess_node
    builder, planted = fraud_chain()
    base = f"http://127.0.0.1:{node.rpc.port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/rest/stats/fraud.json") as resp:
            assert resp.status == 200
            assert (await resp.json())["available"] is False
        for block in builder.blocks[1:]:
            assert (await node.submit_block(block)).status == "accepted"
        await rpc(node, "exportchain", str(tmp_path / "chain"))
        async with http.get(f"{base}/rest/stats/fraud.json") as resp:
            shown = await resp.json()
        async with http.get(f"{base}/fraud") as resp:
            assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
            assert "/static/fraud.js" in await resp.text()
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        async with http.get(f"{base}/static/fraud.js") as resp:
            assert resp.status == 200 and "/rest/stats/fraud.json" in await resp.text()
    assert (shown["available"], shown["height"]) == (True, 110)
    assert [(s["kind"], s["txids"][0]) for s in shown["signals"]] == [
        ("campaign_one_cluster", planted["claim"].txid_hex),
        ("peel_chain", planted["peel"][0].txid_hex),
        ("burst", planted["join_x"].txid_hex),
    ]
