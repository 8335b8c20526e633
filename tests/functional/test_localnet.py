"""`obol localnet` end to end: real processes, status, faucet, a partition and its reorg."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import aiohttp
import pytest

from consensus.address import encode_address
from consensus.params import DEVNET, REGTEST
from tests.chain_helpers import key

from .framework import ROOT, wait_until


def obol(*args: str, timeout: float = 120, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OBOL_LOCALNET", None)
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Localnet:
    def __init__(self, directory: Path, network: str, *extra: str) -> None:
        self.dir = directory
        self.network = network
        self.log = open(directory.parent / "up.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "node.cli",
                "localnet",
                "up",
                "--dir",
                str(directory),
                "--network",
                network,
                *extra,
            ],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def status(self) -> list[dict]:
        done = obol("localnet", "status", "--dir", str(self.dir), "--json")
        return json.loads(done.stdout) if done.returncode == 0 else []

    def run(self, *args: str) -> str:
        done = obol("localnet", *args, "--dir", str(self.dir))
        assert done.returncode == 0, done.stderr
        return done.stdout

    def rpc(self, index: int, method: str, *params: str) -> str:
        node = self.status()[index]
        done = obol(
            "rpc",
            "--network",
            self.network,
            "--datadir",
            node["datadir"],
            "--rpc-port",
            node["rpc_url"].rsplit(":", 1)[1].strip("/"),
            method,
            *params,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def stop(self) -> None:
        pids = [n["pid"] for n in self.status()]
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=90)
        self.log.close()
        for pid in pids:  # Ctrl-C leaves no process behind
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"node process {pid} survived Ctrl-C")
        assert not (self.dir / "localnet.json").exists()


def wait_ready(net: Localnet, min_height: int) -> list[dict]:
    def ready() -> list[dict] | None:
        rows = net.status()
        if len(rows) == 3 and all(
            r["running"] and r["peers"] >= 1 and r["height"] >= min_height for r in rows
        ):
            return rows
        return None

    return wait_until(ready, timeout=120, interval=0.5)


def test_regtest_localnet_with_faucet(tmp_path):
    net = Localnet(tmp_path / "localnet", "regtest", "--block-interval", "1")
    stopped = False
    try:
        rows = wait_ready(net, 102)
        assert {r["name"] for r in rows} == {"node1", "node2", "node3"}
        assert all(r["rpc_url"].startswith("http://127.0.0.1:") for r in rows)

        second = obol("localnet", "up", "--dir", str(net.dir))
        assert second.returncode == 1
        assert "already running" in second.stderr and "node1 (pid" in second.stderr
        assert [r["running"] for r in net.status()] == [True, True, True]

        nested = obol("localnet", "status", "--json", cwd=net.dir / "node2")
        assert [r["pid"] for r in json.loads(nested.stdout)] == [r["pid"] for r in rows]
        lost = obol("localnet", "status", cwd=Path("/"))
        assert lost.returncode == 1 and "in / and every folder above" in lost.stderr

        address = net.rpc(1, "--wallet", "default", "getnewaddress")
        lines = net.run("faucet", address, "12.5").splitlines()
        assert lines[0] == f"sent 12.50000000 OBOL to {address}"
        txid = lines[1].removeprefix("txid ")
        assert len(txid) == 64 and lines[2].startswith("mined in block ")
        wait_until(
            lambda: json.loads(net.rpc(2, "getaddressbalance", address))["balance"] == 12.5,
            timeout=60,
            interval=0.5,
        )
        _readme_campaign_runs_as_written(net)
        _stranded_tx_is_mined_after_heal(net)
        height = net.status()[0]["height"]
        wait_until(lambda: net.status()[2]["height"] > height + 1, timeout=60, interval=0.5)
        net.run("time", "+3600")
        assert int(net.rpc(1, "getblockcount")) > 0

        pids = [r["pid"] for r in net.status()]
        assert net.run("down") == "stopped 3 nodes\n"
        stopped = True
        assert net.proc.wait(timeout=60) == 0  # `up` saw the network go and exited by itself
        assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    finally:
        if not stopped:
            net.stop()
        net.log.close()


def readme_block(heading: str) -> str:
    """The first ```sh block after ``heading`` in README.md."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index(heading) :]
    start = after.index("```sh\n") + len("```sh\n")
    return after[start : after.index("```", start)]


def _readme_campaign_runs_as_written(net: Localnet) -> None:
    """README's crowdfunding block, run by bash as written (``obol`` is this checkout's):
    two backers on nodes 2 and 3 fund node 1's campaign, which is claimed and mined."""
    script = 'set -euo pipefail\nobol() { "$PYTHON" -m node.cli "$@"; }\n'
    script += readme_block("## Crowdfunding")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHON": sys.executable,
        "OBOL_LOCALNET": str(net.dir),
    }
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    claim_txid = done.stdout.strip().splitlines()[-1].strip('"')
    (campaign,) = json.loads(net.rpc(0, "listcampaigns"))
    assert campaign["state"] == "claimed" and campaign["pledged"] == 10

    def mined() -> bool:
        tx = json.loads(net.rpc(0, "getrawtransaction", claim_txid, "true"))
        return tx.get("confirmations", 0) >= 1

    wait_until(mined, timeout=60, interval=0.5)
    tx = json.loads(net.rpc(0, "getrawtransaction", claim_txid, "true"))
    assert [o["value"] for o in tx["vout"]] == [10]


def _stranded_tx_is_mined_after_heal(net: Localnet) -> None:
    """A tx made on node 2 while it is cut off from node 1 (the miner) reaches node 1 once
    the partition heals: by the mempool announced to a new peer, or the wallet's resend."""
    net.run("partition", "1", "2,3")
    wait_until(lambda: net.status()[0]["peers"] == 0, timeout=30, interval=0.5)
    payee = encode_address(key(42).lock, REGTEST)
    txid = net.rpc(1, "--wallet", "default", "sendtoaddress", payee, "1")
    wait_until(lambda: net.status()[2]["mempool"] == 1, timeout=30, interval=0.5)
    net.run("heal")

    def mined() -> bool:
        tx = json.loads(net.rpc(1, "--wallet", "default", "gettransaction", txid))
        return tx["confirmations"] >= 1

    wait_until(mined, timeout=60, interval=0.5)


def _collect_events(url: str, found: list[dict], stop: threading.Event) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            while not stop.is_set():
                try:
                    msg = await ws.receive(timeout=0.5)
                except TimeoutError:
                    continue
                if msg.type == aiohttp.WSMsgType.TEXT:
                    found.append(json.loads(msg.data))
                elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return

    asyncio.run(main())


@pytest.mark.slow
def test_devnet_partition_and_heal_make_a_reorg(tmp_path):
    net = Localnet(tmp_path / "net", "devnet")
    events: list[dict] = []
    stop = threading.Event()
    try:
        rows = wait_ready(net, 5)
        url = rows[2]["rpc_url"].replace("http://", "ws://") + "events"
        reader = threading.Thread(target=_collect_events, args=(url, events, stop), daemon=True)
        reader.start()
        net.run("partition", "1", "2,3")
        wait_until(lambda: net.status()[0]["peers"] == 0, timeout=30, interval=0.5)
        address = encode_address(key(43).lock, DEVNET)
        net.rpc(2, "generatetoaddress", "2", address)  # the minority side forks off
        side = net.status()[2]["height"]
        wait_until(lambda: net.status()[0]["height"] > side + 2, timeout=120, interval=0.5)
        net.run("heal")
        wait_until(lambda: len({r["tip"] for r in net.status()}) == 1, timeout=60, interval=0.5)
        wait_until(lambda: any(e["type"] == "reorg" for e in events), timeout=10)
        reorg = next(e for e in events if e["type"] == "reorg")
        assert reorg["depth"] >= 2
    finally:
        stop.set()
        net.stop()


def test_up_fails_at_once_when_a_node_exits(tmp_path):
    (tmp_path / "net" / "node1").mkdir(parents=True)
    (tmp_path / "net" / "node1" / "regtest").write_text("a file where the network dir goes")
    done = obol("localnet", "up", "--dir", str(tmp_path / "net"), "--nodes", "1")
    assert done.returncode == 1
    assert "node1 exited with code" in done.stderr and "node.log" in done.stderr
    assert "timed out" not in done.stderr
    assert not (tmp_path / "net" / "localnet.json").exists()
