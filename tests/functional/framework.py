"""A small functional-test framework: real ``obol node`` processes on loopback.

Like Bitcoin Core's test_framework: each node gets its own datadir, free ports and cookie
auth; calls go over JSON-RPC; helpers wait for conditions and sync nodes; a node that exits
unexpectedly fails the test at once with the tail of its log.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from node.cli.launcher import NodeDied, NodeProcess, free_port
from node.rpc.client import RpcClient, RpcFailure

__all__ = ["NodeDied", "RpcFailure", "free_port"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT = 60.0


def wait_until(
    predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def assert_raises_rpc_error(
    code: int, message: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> RpcFailure:
    """``fn(*args, **kwargs)`` must fail with RPC error ``code``, its message containing
    ``message`` (unless None), as Core's test framework asserts; returns the failure."""
    try:
        fn(*args, **kwargs)
    except RpcFailure as exc:
        assert exc.code == code, f"expected RPC error {code}, got {exc.code}: {exc.message}"
        assert message is None or message in exc.message, (
            f"expected {message!r} in the RPC error, got {exc.message!r}"
        )
        return exc
    raise AssertionError(f"expected RPC error {code}, but the call succeeded")


class RpcProxy:
    """``proxy.getblockcount()`` -> result; errors raise RpcFailure(code, message)."""

    def __init__(self, node: TestNode, path: str = "") -> None:
        self._node = node
        self._path = path

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            params: Any = kwargs if kwargs else list(args)
            return self._node.call(method, params, path=self._path)

        return call


class TestNode(NodeProcess):
    """A node of a test: ``node{index}`` in ``basedir``, called through ``node.rpc``."""

    def __init__(
        self, index: int, basedir: Path, network: str = "regtest", extra_args: list[str] = ()
    ) -> None:
        super().__init__(basedir / f"node{index}", network, extra_args)
        self.index = index
        self.rpc = RpcProxy(self)
        self._clients: dict[int, RpcClient] = {}  # a kept-alive connection per thread

    @property
    def p2p_address(self) -> str:
        return f"127.0.0.1:{self.p2p_port}"

    def wait_exit(self, timeout: float) -> int:
        while self._clients:
            self._clients.popitem()[1].close()
        return super().wait_exit(timeout)

    def wallet(self, name: str) -> RpcProxy:
        return RpcProxy(self, f"wallet/{name}")

    @contextmanager
    def assert_debug_log(
        self, expected: list[str], timeout: float = DEFAULT_TIMEOUT
    ) -> Iterator[None]:
        """Each of ``expected`` must appear in the debug log written from the start of the
        ``with`` block, within ``timeout`` s after its end: the proof that an event
        happened before a test asserts what did not follow from it (Core's)."""
        log = self.netdir / "debug.log"
        start = log.stat().st_size if log.exists() else 0
        yield

        def missing() -> list[str]:
            with open(log, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            return [m for m in expected if m not in text]

        deadline = time.monotonic() + timeout
        while missing():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"node{self.index}: {missing()} not in the debug log within {timeout} s"
                )
            time.sleep(0.05)

    def call(self, method: str, params: Any, path: str = "") -> Any:
        credentials = self.credentials()  # a restarted node writes a new cookie
        client = self._clients.get(threading.get_ident())
        if client is None or client.credentials != credentials:
            if client is not None:
                client.close()
            client = self._clients[threading.get_ident()] = self.client(timeout=300)
        try:
            return client.call(method, params, path)
        except OSError:
            self.check_alive()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Clean shutdown through the ``stop`` RPC; waits for the process to exit (then
        SIGTERM, then SIGKILL)."""
        if self.process is None:
            return
        try:
            self.call("stop", [])
            self.process.wait(timeout=timeout)
        except (OSError, RpcFailure, subprocess.TimeoutExpired):
            pass
        self.stop_process(timeout)

    def restart(self, extra_args: list[str] = ()) -> None:
        self.stop()
        self.start(extra_args)


@contextmanager
def running_nodes(basedir: Path, count: int) -> Iterator[list[TestNode]]:
    """``count`` nodes started for a whole test module, stopped at the end whatever the
    tests left them in (killed if a clean stop fails)."""
    nodes = [TestNode(i, basedir) for i in range(count)]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            try:
                node.stop()
            except Exception:
                node.kill()


def sync_blocks(nodes: list[TestNode], timeout: float = DEFAULT_TIMEOUT) -> None:
    def same() -> bool:
        return len({n.rpc.getbestblockhash() for n in nodes}) == 1

    wait_until(same, timeout)


def sync_mempools(nodes: list[TestNode], timeout: float = DEFAULT_TIMEOUT) -> None:
    def same() -> bool:
        return len({tuple(sorted(n.rpc.getrawmempool())) for n in nodes}) == 1

    wait_until(same, timeout)


def node_id(node: TestNode) -> str:
    """The node's P2P identity (its Ed25519 public key, hex), as peers see it."""
    return node.rpc.getnetworkinfo()["node_id"]


def peers_with(node: TestNode, peer_node_id: str) -> list[dict[str, Any]]:
    """``node``'s getpeerinfo entries for connections to the node with that id."""
    return [p for p in node.rpc.getpeerinfo() if p.get("node_id") == peer_node_id]


def connect_nodes(a: TestNode, b: TestNode) -> None:
    """``a`` dials ``b`` once; returns when the handshake is done. If ``a`` and ``b`` were
    already connected the other way, that connection may be the one kept (peers keep one
    connection per pair), so either direction counts."""
    b_id = node_id(b)
    a.rpc.addnode(b.p2p_address, "onetry")
    wait_until(
        lambda: any(
            p.get("addr") == b.p2p_address or p.get("node_id") == b_id for p in a.rpc.getpeerinfo()
        )
    )


def disconnect_nodes(a: TestNode, b: TestNode) -> None:
    """Drop every connection between ``a`` and ``b``; returns when neither lists the other."""
    a_id, b_id = node_id(a), node_id(b)
    for peer in peers_with(a, b_id):
        try:
            a.rpc.disconnectnode("", peer["id"])
        except RpcFailure as exc:
            if exc.code != -29:  # already gone
                raise
    wait_until(lambda: not peers_with(a, b_id) and not peers_with(b, a_id))
