"""Two existing Bitcoin RPC clients, python-bitcoinrpc and npm ``bitcoin-core``, run the
same script of calls (old and new methods) against a real node and get Core's shapes; and
Core's REST paths that clients call answer in Core's shapes and error form.

npm ``bitcoin-core`` is installed from the npm registry into a temporary folder (never into
the repo) when ``npm`` is on PATH; without npm, or without the registry, that half skips
and says why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bitcoinrpc.authproxy import AuthServiceProxy

from . import framework

# The fields each new method's result has in Core.
CORE_KEYS = {
    "estimatesmartfee": {"feerate", "errors", "blocks"},
    "fundrawtransaction": {"hex", "fee", "changepos"},
    "signrawtransactionwithwallet": {"hex", "complete"},
    "bumpfee": {"txid", "origfee", "fee", "errors"},
}

JS_RUNNER = """
const Client = require('bitcoin-core');
const [url, username, password, wallet, script] = process.argv.slice(2);
const client = new Client({ host: url, username, password, wallet });
(async () => {
  const out = [];
  for (const [method, ...params] of JSON.parse(script)) {
    out.push(await client.command(method, ...params));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err.message); process.exit(1); });
"""


def script(node: framework.TestNode, bump_txid: str) -> list[list[Any]]:
    address = node.rpc.getnewaddress()
    raw = node.rpc.createrawtransaction([], {address: 1})
    tip = node.rpc.getbestblockhash()
    signature = node.rpc.signmessage(address, "hi")
    return [
        ["getblockchaininfo"],
        ["getblock", tip, 2],
        ["estimatesmartfee", 6],
        ["createrawtransaction", [], [{address: 1}]],
        ["fundrawtransaction", raw],
        ["getreceivedbyaddress", address, 0],
        ["listlockunspent"],
        ["verifymessage", address, signature, "hi"],
        ["bumpfee", bump_txid],
    ]


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    # bitcoin-core's JSON parser turns numbers of more than 15 digits into strings, so
    # scalars are compared by presence, not type.
    return "bool" if isinstance(value, bool) else "scalar"


def run_python(node: framework.TestNode, calls: list[list[Any]]) -> list[Any]:
    user, password = node.credentials()
    proxy = AuthServiceProxy(f"http://{user}:{password}@127.0.0.1:{node.rpc_port}/wallet/default")
    try:
        return [getattr(proxy, method)(*params) for method, *params in calls]
    finally:
        proxy._AuthServiceProxy__conn.close()  # the library never closes its connection


def run_js(node: framework.TestNode, calls: list[list[Any]], folder: Path) -> list[Any]:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("npm and node are not on PATH: the npm bitcoin-core client is not tested")
    done = subprocess.run(
        [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "bitcoin-core"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if done.returncode != 0:
        pytest.skip(f"npm could not install bitcoin-core: {done.stderr.strip()[-200:]}")
    (folder / "run.js").write_text(JS_RUNNER)
    user, password = node.credentials()
    args = [node.url.rstrip("/"), user, password, "default", json.dumps(calls, default=str)]
    done = subprocess.run(
        ["node", str(folder / "run.js"), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def check_core_shapes(calls: list[list[Any]], results: list[Any]) -> None:
    by_method = dict(zip((c[0] for c in calls), results, strict=True))
    for method, keys in CORE_KEYS.items():
        if method in by_method:
            assert keys <= set(by_method[method]), (method, by_method[method])
    block = by_method["getblock"]
    assert {"fee", "hex", "txid", "vin", "vout"} <= set(block["tx"][1])
    assert "fee" not in block["tx"][0]  # the coinbase pays none
    assert by_method["verifymessage"] is True


@pytest.fixture
def funded(start_nodes) -> framework.TestNode:
    (node,) = start_nodes(1)
    node.rpc.generate(101)
    return node


@pytest.mark.slow
def test_python_bitcoinrpc_and_npm_bitcoin_core_get_cores_shapes(funded, tmp_path):
    node = funded
    node.rpc.sendtoaddress(node.rpc.getnewaddress(), 1)
    node.rpc.generate(1)  # getblock 2 shows a fee for the block's non-coinbase tx
    first = node.rpc.sendtoaddress(node.rpc.getnewaddress(), 1)
    second = node.rpc.sendtoaddress(node.rpc.getnewaddress(), 1)  # each client bumps one
    py_calls = script(node, first)
    py_results = run_python(node, py_calls)
    check_core_shapes(py_calls, py_results)
    js_calls = script(node, second)
    js_results = run_js(node, js_calls, tmp_path / "npm")
    check_core_shapes(js_calls, js_results)
    assert [shape(r) for r in js_results] == [shape(r) for r in py_results]
    mempool = node.rpc.getrawmempool()
    assert first not in mempool and second not in mempool


def http_get(node: framework.TestNode, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(node.url.rstrip("/") + path, timeout=30) as reply:
            return reply.status, reply.headers.get_content_type(), reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_content_type(), err.read().decode()


def test_core_rest_paths(funded):
    node = funded
    txid = node.rpc.sendtoaddress(node.rpc.getnewaddress(), 1)
    tip = node.rpc.getbestblockhash()
    status, kind, body = http_get(node, f"/rest/block/notxdetails/{tip}.json")
    assert (status, kind) == (200, "application/json")
    assert json.loads(body, parse_float=Decimal) == node.rpc.getblock(tip, 1)
    unspent = node.rpc.getblock(node.rpc.getblockhash(2))["tx"][0]  # immature, unspent
    spent = node.rpc.getrawtransaction(txid, True)["vin"][0]  # spent by the mempool tx
    outpoints = f"{unspent}-0/{spent['txid']}-{spent['vout']}/{txid}-0"
    status, _, body = http_get(node, f"/rest/getutxos/{outpoints}.json")
    utxos = json.loads(body, parse_float=Decimal)
    assert set(utxos) == {"chainHeight", "chaintipHash", "bitmap", "utxos"}
    assert (utxos["chaintipHash"], utxos["chainHeight"], utxos["bitmap"]) == (tip, 101, "110")
    assert utxos["utxos"][0]["value"] == Decimal("50.00000000")
    status, _, body = http_get(node, f"/rest/getutxos/checkmempool/{outpoints}.json")
    in_mempool = json.loads(body, parse_float=Decimal)
    assert in_mempool["bitmap"] == "101"  # the mempool spent one coin and made another
    assert set(in_mempool["utxos"][-1]) == {"height", "value", "scriptPubKey"}
    assert http_get(node, "/rest/getutxos/nothex-0.json") == (400, "text/plain", "Parse error\r\n")
    status, kind, body = http_get(node, "/rest/block/notxdetails/" + "00" * 32 + ".json")
    assert (status, kind) == (404, "text/plain") and body.endswith("not found\r\n")
