"""Two nodes on two "hosts": network namespaces joined by a veth pair, on a private test
range that exists only inside them. Sync, cut the link, mine on both sides, restore the
link, converge. Needs root and iproute2; otherwise skipped, saying which is missing.

Each node's RPC stays on its namespace's loopback, so calls go through ``ip netns exec``
and ``obol rpc`` inside the namespace; only P2P crosses the link.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from . import framework
from .framework import ROOT, RpcFailure, node_id, peers_with, sync_blocks, wait_until
from .test_node_blockchain import MINER_ADDR

SUBNET_PREFIX = "10.201.0"


def _ip(*args: str, ns: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


class NetnsNode(framework.TestNode):
    """A TestNode that runs, and is called, inside a network namespace."""

    def __init__(self, index: int, basedir: Path, ns: str, ip: str, extra: list[str]) -> None:
        super().__init__(index, basedir, "regtest", ["--no-wallet", "--p2p-bind", ip, *extra])
        self.ns = ns
        self.ip = ip

    @property
    def p2p_address(self) -> str:
        return f"{self.ip}:{self.p2p_port}"

    def args(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *super().args()]

    def call(self, method: str, params: Any, path: str = "") -> Any:
        cmd = [
            "ip",
            "netns",
            "exec",
            self.ns,
            sys.executable,
            "-m",
            "node.cli",
            "rpc",
            "--datadir",
            str(self.datadir),
            "--rpc-port",
            str(self.rpc_port),
            method,
            *(json.dumps(p) for p in params),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            if len(lines) >= 3 and lines[0].startswith("error: error code: "):
                raise RpcFailure(int(lines[0].rsplit(" ", 1)[1]), "\n".join(lines[2:]))
            self.check_alive()
            raise OSError(proc.stderr.strip())
        out = proc.stdout.strip()
        try:
            return json.loads(out, parse_float=Decimal)
        except ValueError:
            return out


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str, str]]:
    """Two fresh namespaces joined by a veth pair (both ends inside them), or a skip."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (the ip command) is not installed")
    tag = f"{os.getpid() % 100000}"
    ns_a, ns_b = f"obol-a-{tag}", f"obol-b-{tag}"
    veth_a, veth_b = f"obva{tag}", f"obvb{tag}"
    made = []
    try:
        for ns in (ns_a, ns_b):
            res = _ip("netns", "add", ns)
            if res.returncode != 0:
                pytest.skip(f"cannot create a network namespace: {res.stderr.strip()}")
            made.append(ns)
        steps = [
            ((("link", "add", veth_a, "type", "veth", "peer", "name", veth_b)), None),
            (("link", "set", veth_a, "netns", ns_a), None),
            (("link", "set", veth_b, "netns", ns_b), None),
            (("addr", "add", f"{SUBNET_PREFIX}.1/24", "dev", veth_a), ns_a),
            (("addr", "add", f"{SUBNET_PREFIX}.2/24", "dev", veth_b), ns_b),
            (("link", "set", "lo", "up"), ns_a),
            (("link", "set", "lo", "up"), ns_b),
            (("link", "set", veth_a, "up"), ns_a),
            (("link", "set", veth_b, "up"), ns_b),
        ]
        for args, ns in steps:
            res = _ip(*args, ns=ns)
            if res.returncode != 0:
                pytest.skip(f"cannot set up the veth link ({' '.join(args)}): {res.stderr.strip()}")
        yield ns_a, ns_b, veth_a
    finally:
        for ns in made:
            _ip("netns", "del", ns)


@pytest.mark.slow
def test_two_hosts_sync_split_and_converge(namespaces, tmp_path: Path) -> None:
    ns_a, ns_b, veth_a = namespaces
    a = NetnsNode(0, tmp_path, ns_a, f"{SUBNET_PREFIX}.1", [])
    b = NetnsNode(1, tmp_path, ns_b, f"{SUBNET_PREFIX}.2", ["--connect", a.p2p_address])
    nodes = [a, b]
    try:
        for node in nodes:
            node.start()
        a_id = node_id(a)
        wait_until(lambda: peers_with(b, a_id), timeout=30)
        (peer,) = a.rpc.getpeerinfo()
        assert peer["addr"].startswith(f"{SUBNET_PREFIX}.2:")
        a.rpc.generatetoaddress(10, MINER_ADDR)
        sync_blocks(nodes)

        assert _ip("link", "set", veth_a, "down", ns=ns_a).returncode == 0
        a.rpc.generatetoaddress(2, MINER_ADDR)
        b_blocks = b.rpc.generatetoaddress(3, MINER_ADDR)
        assert a.rpc.getblockcount() == 12 and b.rpc.getblockcount() == 13
        assert _ip("link", "set", veth_a, "up", ns=ns_a).returncode == 0

        sync_blocks(nodes, timeout=120)
        assert a.rpc.getbestblockhash() == b_blocks[-1]
    finally:
        for node in nodes:
            try:
                node.stop()
            except Exception:
                node.kill()
