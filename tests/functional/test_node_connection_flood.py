"""Half-open connections cannot starve the node (the slowloris attack on both its ports).

A node at the common 1,024 descriptor limit gets 1,100 connections on each port that send
the start of a request and stop. It must keep answering RPC, close the half-open
connections once their header time is up, and keep its log small.
"""

from __future__ import annotations

import resource
import socket
import sys
import time
from pathlib import Path

import pytest

from . import framework
from .framework import wait_until

FLOOD = 1_100
HEADER_TIMEOUT = 3.0
# Run the node under a 1,024 descriptor limit, soft and hard, as most services get.
LIMITED = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


class LimitedNode(framework.TestNode):
    def args(self) -> list[str]:
        return [sys.executable, "-c", LIMITED, *super().args()[1:]]


def half_open(port: int, request: bytes) -> socket.socket | None:
    sock = socket.socket()
    sock.settimeout(5)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
    except OSError:  # closed at once: the listener made room or was full
        sock.close()
        return None
    return sock


def block_count(node: framework.TestNode) -> int:
    """getblockcount with a short timeout: a starved node fails the test, not hangs it."""
    with node.client(timeout=10) as client:
        return client.call("getblockcount")


def closed_by_peer(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


@pytest.fixture
def many_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * FLOOD + 200
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"the test needs {need} descriptors; the hard limit here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_half_open_connections_cannot_starve_the_node(tmp_path: Path, many_descriptors):
    node = LimitedNode(0, tmp_path, extra_args=["--no-wallet"])
    node.start(["--header-timeout", str(HEADER_TIMEOUT)])
    socks: list[socket.socket] = []
    try:
        assert "at most" in (node.netdir / "debug.log").read_text()  # the budget is logged
        log_size = (node.netdir / "debug.log").stat().st_size
        requests = [
            (node.p2p_port, b"GET /p2p HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
            (node.rpc_port, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
        ]
        for i in range(FLOOD):
            for port, request in requests:
                sock = half_open(port, request)
                if sock is not None:
                    socks.append(sock)
            if i % 100 == 0:  # RPC answers all through the flood
                assert block_count(node) == 0
        assert block_count(node) == 0
        assert node.rpc.getnetworkinfo()["connections"] == 0

        start = time.monotonic()
        wait_until(lambda: all(closed_by_peer(s) for s in socks), timeout=60)
        print(f"{len(socks)} half-open connections closed in {time.monotonic() - start:.1f} s")
        assert block_count(node) == 0
        grown = (node.netdir / "debug.log").stat().st_size - log_size
        assert grown < 1_000_000, grown
        node.stop()
    finally:
        for sock in socks:
            sock.close()
        node.kill()
