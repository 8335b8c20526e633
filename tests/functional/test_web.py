"""The node's public web face: /metrics, /events, /rest and the dashboard's files.

Most tests run a node in this process (fast, and the test can mine directly); the
acceptance checks for /events and /metrics also run against a real ``obol node`` process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from consensus.address import encode_address
from consensus.params import DEVNET, REGTEST
from node.node import Node
from node.web.dashboard import STATIC_DIR
from tests.chain_helpers import Utxo, key, spend

from .test_node_blockchain import MINER_ADDR

MINER = key(100)
ALICE = key(110)
ALICE_ADDR = encode_address(ALICE.lock, REGTEST)
COIN = 10**8


@pytest.fixture
def node(inprocess_node: Node) -> Node:
    return inprocess_node


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def url(node: Node, path: str) -> str:
    return node.rpc.url.rstrip("/") + path


async def get(http: aiohttp.ClientSession, node: Node, path: str) -> tuple[int, Any]:
    async with http.get(url(node, path)) as resp:
        assert resp.content_type == "application/json", (path, resp.content_type)
        return resp.status, json.loads(await resp.read(), parse_float=Decimal)


async def rpc(http: aiohttp.ClientSession, node: Node, method: str, *params: Any) -> Any:
    creds = node.rpc.auth.cookie_credentials
    assert creds is not None
    token = base64.b64encode(":".join(creds).encode()).decode()
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    async with http.post(
        url(node, "/"), json=body, headers={"Authorization": f"Basic {token}"}
    ) as resp:
        return json.loads(await resp.read(), parse_float=Decimal)


def coinbase_of(node: Node, height: int) -> Utxo:
    entry = node.chain.at_height(height)
    assert entry is not None
    block = node.chain.get_block(entry.hash)
    assert block is not None
    cb = block.txs[0]
    return Utxo(cb.txid, 0, cb.outputs[0].value, MINER)


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 5.0):
    """The next event of type ``kind`` (others are skipped) and when it arrived."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await ws.receive(timeout=max(deadline - loop.time(), 0.01))
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        event = json.loads(msg.data)
        if event["type"] == kind:
            return event, time.monotonic()


# --- acceptance against a real node process ----------------------------------------------


async def test_real_node_events_within_a_second_and_metrics_parse(start_nodes, http):
    (proc,) = start_nodes(1, [["--no-wallet"]])
    base = proc.url.rstrip("/")
    async with http.ws_connect(base + "/events") as ws:
        for expected_height in (1, 2, 3):
            started = time.monotonic()
            (block_hash,) = await asyncio.to_thread(proc.rpc.generatetoaddress, 1, MINER_ADDR)
            mined = time.monotonic()
            event, arrived = await next_event(ws, "block_connected")
            assert event["hash"] == block_hash
            assert event["height"] == expected_height
            assert event["txs"] == 1
            # The event may even beat the RPC reply; it never trails the block by 1 s.
            assert arrived - mined < 1.0, arrived - mined
            assert arrived - started < 5.0

    async with http.get(base + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    got = metric_samples(text)
    assert got[("obol_block_height", ())] == 3
    assert got[("obol_blocks_connected_total", ())] == 3
    assert got[("obol_block_validation_seconds_count", ())] == 3
    ok = (("method", "generatetoaddress"), ("outcome", "ok"))
    assert got[("obol_rpc_calls_total", ok)] == 3


# --- /metrics -----------------------------------------------------------------------------


async def test_metrics_count_blocks_txs_rpc_calls_and_reorgs(node, http):
    await node.generate(101, MINER.lock)
    tx = spend([coinbase_of(node, 1)], [(10 * COIN, ALICE.lock), (40 * COIN - 10_000, MINER.lock)])
    assert (await rpc(http, node, "sendrawtransaction", tx.serialize().hex()))["result"]
    assert "error" in await rpc(http, node, "getblockhash", 10_000)
    assert "error" in await rpc(http, node, "nosuchmethod")

    async with http.get(url(node, "/metrics")) as resp:
        text = await resp.text()
    names = {f.name for f in text_string_to_metric_families(text)}
    for name in (
        "obol_block_height",
        "obol_peers",
        "obol_mempool_transactions",
        "obol_mempool_bytes",
        "obol_blocks_connected",
        "obol_transactions_connected",
        "obol_block_validation_seconds",
        "obol_reorgs",
        "obol_rpc_calls",
    ):
        assert name in names, name
    got = metric_samples(text)
    assert got[("obol_block_height", ())] == 101
    assert got[("obol_peers", ())] == 0
    assert got[("obol_mempool_transactions", ())] == 1
    assert got[("obol_mempool_bytes", ())] == tx.size
    assert got[("obol_blocks_connected_total", ())] == 101
    assert got[("obol_transactions_connected_total", ())] == 101
    assert got[("obol_reorgs_total", ())] == 0
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in got.items()
        if name == "obol_block_validation_seconds_bucket"
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    assert buckets[-1] == (float("inf"), 101)
    assert got[("obol_block_validation_seconds_count", ())] == 101
    assert 0 < got[("obol_block_validation_seconds_sum", ())] < 101
    calls = {
        dict(labels)["method"] + "/" + dict(labels)["outcome"]: v
        for (name, labels), v in got.items()
        if name == "obol_rpc_calls_total"
    }
    assert calls == {"sendrawtransaction/ok": 1, "getblockhash/error": 1, "unknown/error": 1}

    await node.generate(1, MINER.lock)
    tip = node.chain.tip.header.hash_hex
    assert (await rpc(http, node, "invalidateblock", tip))["result"] is None
    async with http.get(url(node, "/metrics")) as resp:
        got = metric_samples(await resp.text())
    assert got[("obol_reorgs_total", ())] == 1
    assert got[("obol_blocks_disconnected_total", ())] == 1
    assert got[("obol_block_height", ())] == 101
    assert got[("obol_transactions_connected_total", ())] == 103  # the tx's block had 2


# --- /events ------------------------------------------------------------------------------


async def test_events_blocks_txs_rejections_and_reorgs(node, http):
    await node.generate(101, MINER.lock)
    async with http.ws_connect(url(node, "/events")) as ws:
        coin = coinbase_of(node, 1)
        tx = spend([coin], [(10 * COIN, ALICE.lock), (40 * COIN - 10_000, MINER.lock)])
        await node.submit_tx(tx)
        event, _ = await next_event(ws, "tx_accepted")
        assert event["txid"] == tx.txid_hex
        assert isinstance(event["time"], float)

        conflict = spend([coin], [(49 * COIN, ALICE.lock)])
        reply = await rpc(http, node, "sendrawtransaction", conflict.serialize().hex())
        event, _ = await next_event(ws, "tx_rejected")
        assert event == {
            "type": "tx_rejected",
            "time": event["time"],
            "txid": conflict.txid_hex,
            "reason": "txn-mempool-conflict",
        }
        assert reply["error"]["message"].startswith("txn-mempool-conflict")

        (block,) = await node.generate(1, MINER.lock)
        event, _ = await next_event(ws, "block_connected")
        assert event["hash"] == block.hash_hex and event["height"] == 102 and event["txs"] == 2

        await rpc(http, node, "invalidateblock", block.hash_hex)
        event, _ = await next_event(ws, "block_disconnected")
        assert event["hash"] == block.hash_hex and event["height"] == 102
        event, _ = await next_event(ws, "reorg")
        fork = node.chain.tip.header.hash_hex
        assert event == {
            "type": "reorg",
            "time": event["time"],
            "depth": 1,
            "tip": fork,
            "old_tip": block.hash_hex,
            "fork_hash": fork,
            "fork_height": 101,
        }
        event, _ = await next_event(ws, "tx_accepted")  # the block's tx is back
        assert event["txid"] == tx.txid_hex and event["source"] == "reorg"

        node.events.publish("peer_connected", {"addr": "127.0.0.1:1", "raw": b"not json"})
        node.events.publish("peer_banned", {"addr": "127.0.0.1:1", "reason": "bad-blk-pow"})
        event, _ = await next_event(ws, "peer_banned")  # the unsendable event was skipped
        assert event["reason"] == "bad-blk-pow"


async def test_events_type_filter_and_plain_http(node, http):
    async with http.ws_connect(url(node, "/events?types=reorg,block_connected")) as ws:
        node.events.publish("tx_accepted", {"txid": "00" * 32})
        (block,) = await node.generate(1, MINER.lock)
        msg = await ws.receive(timeout=5)
        assert json.loads(msg.data)["type"] == "block_connected"
        assert json.loads(msg.data)["hash"] == block.hash_hex
    status, body = await get(http, node, "/events")
    assert status == 400 and "WebSocket" in body["error"]


async def test_event_sockets_close_when_the_node_stops(node, http):
    async with http.ws_connect(url(node, "/events")) as ws:
        started = time.monotonic()
        stopping = asyncio.create_task(node.stop())
        msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await stopping
        assert time.monotonic() - started < 3  # not the server's 5 s shutdown timeout


# --- /rest --------------------------------------------------------------------------------


async def test_rest_chain_data(node, http):
    await node.generate(12, MINER.lock)
    chain = node.chain
    tip = chain.tip.header.hash_hex

    status, info = await get(http, node, "/rest/chaininfo.json")
    assert status == 200 and info["blocks"] == 12 and info["bestblockhash"] == tip

    status, st = await get(http, node, "/rest/status.json")
    assert status == 200
    assert st["chain"] == "regtest" and st["blocks"] == 12 and st["bestblockhash"] == tip
    assert st["mempool"] == {"size": 0, "bytes": 0} and st["peers"] == 0
    assert st["mining"] is False and st["localhashps"] >= 0

    status, block = await get(http, node, f"/rest/block/{tip}.json")
    assert status == 200
    assert block["hash"] == tip and block["height"] == 12 and block["confirmations"] == 1
    assert block["reward"] == block["subsidy"] == Decimal("50.00000000")
    assert block["fees"] == Decimal("0E-8")
    assert block["tx"][0]["vin"][0]["height"] == 12
    assert block["tx"][0]["vout"][0]["scriptPubKey"]["address"] == MINER_ADDR

    status, headers = await get(
        http, node, f"/rest/headers/5/{chain.at_height(3).header.hash_hex}.json"
    )
    assert status == 200 and [h["height"] for h in headers] == [3, 4, 5, 6, 7]
    status, headers = await get(http, node, f"/rest/headers/5/{tip}.json")
    assert [h["height"] for h in headers] == [12]

    status, by_height = await get(http, node, "/rest/blockhashbyheight/7.json")
    assert by_height == {"blockhash": chain.at_height(7).header.hash_hex}

    status, recent = await get(http, node, "/rest/blocks/recent.json?count=3")
    assert [b["height"] for b in recent] == [12, 11, 10]
    assert set(recent[0]) == {"hash", "height", "time", "nTx", "size", "difficulty"}
    assert recent[0]["size"] == len(chain.get_block_raw(chain.tip.hash))
    status, recent = await get(http, node, "/rest/blocks/recent.json?count=5&before=2")
    assert [b["height"] for b in recent] == [1, 0]

    status, diff = await get(http, node, "/rest/stats/difficulty.json?blocks=4")
    assert [p["height"] for p in diff] == [9, 10, 11, 12]
    assert all(p["difficulty"] == diff[0]["difficulty"] for p in diff)  # regtest: fixed
    status, rate = await get(http, node, "/rest/stats/hashrate.json?blocks=4&window=2")
    assert [p["height"] for p in rate] == [9, 10, 11, 12]
    assert all(p["hashrate"] is None or p["hashrate"] > 0 for p in rate)

    status, mining = await get(http, node, "/rest/mining.json")
    assert mining["blocks"] == 12 and "localhashps" in mining
    status, peers = await get(http, node, "/rest/peers.json")
    assert status == 200 and peers == []


async def test_rest_tx_address_mempool_and_search(node, http):
    await node.generate(101, MINER.lock)
    coin = coinbase_of(node, 1)
    first = spend([coin], [(10 * COIN, ALICE.lock), (40 * COIN - 10_000, MINER.lock)])
    await node.submit_tx(first)
    await node.generate(1, MINER.lock)
    second = spend(
        [Utxo(first.txid, 0, 10 * COIN, ALICE)],
        [(4 * COIN, MINER.lock), (6 * COIN - 5_000, ALICE.lock)],
    )
    await node.submit_tx(second)

    status, tx = await get(http, node, f"/rest/tx/{first.txid_hex}.json")
    assert status == 200
    assert tx["txid"] == first.txid_hex and tx["in_mempool"] is False
    assert tx["blockheight"] == 102 and tx["confirmations"] == 1
    assert tx["fee"] == Decimal("0.00010000")
    assert tx["vin"][0]["prevout"]["value"] == Decimal("50.00000000")
    assert tx["vin"][0]["prevout"]["generated"] is True
    assert tx["vout"][0]["spent"] is True and tx["vout"][0]["spentby"] == second.txid_hex
    assert tx["vout"][1]["spent"] is False and "spentby" not in tx["vout"][1]
    assert tx["hex"] == first.serialize().hex()

    status, tx = await get(http, node, f"/rest/tx/{second.txid_hex}.json")
    assert tx["in_mempool"] is True and tx["confirmations"] == 0
    assert tx["vin"][0]["prevout"]["height"] == 102
    assert tx["fee"] == Decimal("0.00005000")

    status, alice = await get(http, node, f"/rest/address/{ALICE_ADDR}.json")
    assert status == 200
    assert alice["address"] == ALICE_ADDR
    assert alice["balance"] == Decimal("10.00000000")
    assert alice["spendable"] == Decimal("10.00000000") and alice["immature"] == 0
    assert alice["unconfirmed"] == Decimal("-4.00005000")  # 10 out, 5.99995 back
    assert alice["received"] == Decimal("10.00000000") and alice["sent"] == 0
    assert alice["tx_count"] == 1 and alice["utxo_count"] == 1
    assert alice["utxos"][0]["spentby"] == second.txid_hex
    assert alice["history"] == [
        {
            "txid": first.txid_hex,
            "height": 102,
            "blockhash": node.chain.tip.header.hash_hex,
            "time": node.chain.tip.header.time,
            "received": Decimal("10.00000000"),
            "sent": Decimal("0E-8"),
            "delta": Decimal("10.00000000"),
        }
    ]
    assert alice["mempool"] == [second.txid_hex]

    status, miner = await get(http, node, f"/rest/address/{MINER_ADDR}.json?limit=3")
    assert miner["tx_count"] == 103 and len(miner["history"]) == 3
    assert [h["height"] for h in miner["history"]] == [102, 102, 101]  # its spend, its coinbase
    assert miner["immature"] > 0 and miner["balance"] > miner["spendable"]
    assert miner["unconfirmed"] == Decimal("4.00000000")

    miner_addr = encode_address(MINER.lock, REGTEST)
    pages, cursor = [], []
    while page := (await rpc(http, node, "getaddresshistory", miner_addr, 40, *cursor))["result"]:
        pages.append(page)
        cursor = [page[-1]["txid"]]
    assert [len(p) for p in pages] == [40, 40, 24]  # the mempool's tx, then 103 confirmed
    rows = [row for p in pages for row in p]
    assert rows[0]["txid"] == second.txid_hex and rows[0]["height"] is None
    assert rows[0]["received"] == Decimal("4.00000000") and rows[0]["sent"] == 0
    assert rows[1]["txid"] == first.txid_hex and rows[1]["sent"] == Decimal("50.00000000")
    heights = [row["height"] for row in rows[1:]]
    assert heights == sorted(heights, reverse=True) and heights[-1] == 1
    assert len({row["txid"] for row in rows}) == 104
    got = (await rpc(http, node, "getaddressbalance", miner_addr))["result"]
    assert got["txcount"] == 103 and got["unconfirmed"] == Decimal("4.00000000")
    bad = await rpc(http, node, "getaddresshistory", miner_addr, 5, "00" * 32)
    assert bad["error"]["code"] == -5
    bad = await rpc(http, node, "getaddresshistory", miner_addr, 501)
    assert bad["error"]["code"] == -8

    status, pool = await get(http, node, "/rest/mempool/info.json")
    assert pool["size"] == 1 and pool["bytes"] == second.size
    status, contents = await get(http, node, "/rest/mempool/contents.json")
    assert list(contents) == [second.txid_hex]
    assert contents[second.txid_hex]["fees"]["base"] == Decimal("0.00005000")

    tip = node.chain.tip.header.hash_hex
    for query, expected in (
        ("102", {"type": "block", "id": tip}),
        (" 0 ", {"type": "block", "id": node.chain.at_height(0).header.hash_hex}),
        (tip.upper(), {"type": "block", "id": tip}),
        (first.txid_hex, {"type": "tx", "id": first.txid_hex}),
        (second.txid_hex, {"type": "tx", "id": second.txid_hex}),
        (ALICE_ADDR, {"type": "address", "id": ALICE_ADDR}),
        (ALICE_ADDR.upper(), {"type": "address", "id": ALICE_ADDR}),
    ):
        status, found = await get(http, node, "/rest/search?q=" + query.replace(" ", "%20"))
        assert (status, found) == (200, expected), query
    for query, code in (
        ("103", 404),
        ("ab" * 32, 404),
        ("nonsense", 404),
        ("", 400),
        ("obrt1nonsense", 400),
        ("1" * 11, 404),
    ):
        status, body = await get(http, node, f"/rest/search?q={query}")
        assert status == code and body["error"], query


async def test_status_shows_any_miner_and_the_node_clock(node, http):
    await rpc(http, node, "setmocktime", 2_000_000_000)
    await rpc(http, node, "setgenerate", True, 1)
    try:
        _, st = await get(http, node, "/rest/status.json")
        assert st["mining"] is True and st["now"] == 2_000_000_000
    finally:
        await rpc(http, node, "setgenerate", False)
    _, st = await get(http, node, "/rest/status.json")
    assert st["mining"] is False


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/rest/block/" + "00" * 32 + ".json", 404),
        ("/rest/block/xyz.json", 400),
        ("/rest/block/" + "0" * 63 + ".json", 400),
        ("/rest/tx/" + "00" * 32 + ".json", 404),
        ("/rest/tx/nothex.json", 400),
        ("/rest/blocks/recent.json?count=0", 400),
        ("/rest/blocks/recent.json?count=abc", 400),
        ("/rest/blocks/recent.json?count=101", 400),
        ("/rest/address/notanaddress.json", 400),
        ("/rest/address/" + encode_address(ALICE.lock, DEVNET) + ".json", 400),
        ("/rest/stats/hashrate.json?window=0", 400),
        ("/rest/stats/difficulty.json?blocks=999999", 400),
        ("/rest/nosuch.json", 404),
        ("/rest/", 404),
        ("/rest/block/" + "00" * 32, 404),
    ],
)
async def test_rest_errors_are_json(node, http, path, status):
    got, body = await get(http, node, path)
    assert got == status
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in body["error"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/rest/headers/0/" + "00" * 32 + ".json", 400),
        ("/rest/headers/2001/" + "00" * 32 + ".json", 400),
        ("/rest/headers/5/" + "00" * 32 + ".json", 404),
        ("/rest/blockhashbyheight/99.json", 404),
        ("/rest/blockhashbyheight/-1.json", 400),
        ("/rest/blockhashbyheight/1e3.json", 400),
    ],
)
async def test_cores_rest_paths_answer_errors_as_core(node, http, path, status):
    """Core's own REST paths answer an error as Core does: text/plain, message and CRLF."""
    async with http.get(url(node, path)) as resp:
        assert resp.status == status
        assert resp.content_type == "text/plain"
        text = await resp.text()
    assert text.endswith("\r\n") and len(text.strip()) > 0


async def test_peers_without_p2p_are_none_not_an_error(node, http, monkeypatch):
    monkeypatch.setattr(node, "p2p", None)  # as a node whose p2p layer is disabled
    assert await get(http, node, "/rest/peers.json") == (200, [])
    assert await get(http, node, "/rest/banned.json") == (200, [])
    status, st = await get(http, node, "/rest/status.json")
    assert status == 200 and st["peers"] == 0
    async with http.get(url(node, "/metrics")) as resp:
        assert metric_samples(await resp.text())[("obol_peers", ())] == 0


async def test_rest_is_read_only(node, http):
    async with http.post(url(node, "/rest/chaininfo.json"), data=b"{}") as resp:
        assert resp.status == 405


# --- the dashboard's files and the shared routes ------------------------------------------


async def test_dashboard_served_with_csp_and_types(node, http):
    async with http.get(url(node, "/")) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        csp = resp.headers["Content-Security-Policy"]
        html = await resp.text()
        etag = resp.headers["ETag"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert f"ws://127.0.0.1:{node.rpc.port}" in csp and "frame-ancestors 'none'" in csp
    assert "<script" in html and "/static/app.js" in html
    assert resp.headers["X-Content-Type-Options"] == "nosniff"

    async with http.get(url(node, "/"), headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304

    for name, content_type in (
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ):
        async with http.get(url(node, f"/static/{name}")) as resp:
            assert resp.status == 200, name
            assert resp.headers["Content-Type"] == content_type
            assert "Content-Security-Policy" in resp.headers
            assert await resp.read() == (STATIC_DIR / name).read_bytes()
    for bad in ("/static/nosuch.js", "/static/..%2Fdashboard.py", "/static/%2e%2e/__init__.py"):
        async with http.get(url(node, bad)) as resp:
            assert resp.status == 404, bad


async def test_json_rpc_and_405s_still_work_beside_the_dashboard(node, http):
    async with http.post(url(node, "/"), json={"method": "getblockcount", "id": 1}) as resp:
        assert resp.status == 401  # POST / is still the authenticated JSON-RPC
    assert (await rpc(http, node, "getblockcount"))["result"] == 0
    async with http.put(url(node, "/")) as resp:
        assert resp.status == 405
        assert set(resp.headers["Allow"].split(",")) >= {"GET", "POST"}
    async with http.get(url(node, "/wallet/default")) as resp:
        assert resp.status == 405


EXTERNAL = re.compile(r"https?://|//cdn|\bcdn\.|@import", re.IGNORECASE)
# An XML namespace is a name, never fetched; the favicon SVG must declare its own.
NAMESPACE = 'xmlns="http://www.w3.org/2000/svg"'


def strip_comments(text: str, suffix: str) -> str:
    if suffix in (".js", ".css"):
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    if suffix == ".js":
        text = re.sub(r"(?m)^\s*//.*$", "", text)
    if suffix in (".html", ".svg"):
        text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    return text


def test_static_files_reference_nothing_outside_the_node():
    files = sorted(p for p in STATIC_DIR.iterdir() if p.is_file())
    assert {p.name for p in files} >= {"index.html", "app.js", "style.css", "favicon.svg"}
    for path in files:
        text = strip_comments(path.read_text(), path.suffix).replace(NAMESPACE, "")
        assert not EXTERNAL.search(text), f"{path.name}: {EXTERNAL.search(text).group(0)}"
        if path.suffix == ".html":
            assert "<script>" not in text, "inline script"
            assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
            assert "style=" not in text
        if path.suffix == ".js":
            assert "innerHTML" not in text and "eval(" not in text
