"""RPC throughput: the node's ``getblockcount`` against a bare aiohttp handler, same load.

Both servers get the same client: 32 keep-alive connections, one request in flight each,
for a fixed time per sample; samples alternate between the two, the bare server first and
last, so that each sample of the node is bracketed by two of the ceiling and a change in
the machine's speed hits both alike.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from node.cli.launcher import free_port

from .httpload import LoadResult, http_request, repeat, run_load
from .nodeproc import ROOT, BenchNode

CONNECTIONS = 32
SAMPLE_SECONDS = 2.0


@dataclass
class RpcFigures:
    ceiling: list[float] = field(default_factory=list)
    node: list[float] = field(default_factory=list)
    node_p99_ms: list[float] = field(default_factory=list)
    ceiling_p99_ms: list[float] = field(default_factory=list)


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def _sample(port: int, request: bytes) -> LoadResult:
    result = asyncio.run(run_load(port, repeat(request), CONNECTIONS, SAMPLE_SECONDS))
    if result.errors:
        raise RuntimeError(f"RPC load got errors: {result.first_error[:300]!r}")
    return result


def run(node: BenchNode, reps: int, log) -> RpcFigures:
    figures = RpcFigures()
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_rpc", str(port)], cwd=ROOT)
    try:
        _wait_port(port)
        body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": "getblockcount"}).encode()
        bare_request = http_request("/", body)
        node_request = http_request("/", body, node.auth())
        _sample(port, bare_request)  # warm both up: connections, caches, first-call costs
        _sample(node.rpc_port, node_request)
        for i in range(reps):
            ceiling = _sample(port, bare_request)
            ours = _sample(node.rpc_port, node_request)
            figures.ceiling.append(ceiling.rate)
            figures.ceiling_p99_ms.append(ceiling.percentile(0.99) * 1000)
            figures.node.append(ours.rate)
            figures.node_p99_ms.append(ours.percentile(0.99) * 1000)
            log(
                f"  rpc {i + 1}/{reps}: bare {ceiling.rate:,.0f} req/s, "
                f"getblockcount {ours.rate:,.0f} req/s (p99 {figures.node_p99_ms[-1]:.1f} ms)"
            )
        figures.ceiling.append(_sample(port, bare_request).rate)  # brackets the last sample
    finally:
        os.kill(bare.pid, signal.SIGTERM)
        bare.wait(timeout=30)
    return figures
