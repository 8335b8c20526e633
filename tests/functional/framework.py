"""A small functional-test framework: real ``obol node`` processes on loopback.

Like Bitcoin Core's test_framework: each node gets its own datadir, free ports and cookie
auth; calls go over JSON-RPC; helpers wait for conditions and sync nodes; a node that exits
unexpectedly fails the test at once with the tail of its log.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT = 60.0


class RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class NodeDied(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class TestNode:
    def __init__(
        self, index: int, basedir: Path, network: str = "regtest", extra_args: list[str] = ()
    ) -> None:
        self.index = index
        self.network = network
        self.datadir = basedir / f"node{index}"
        self.rpc_port = free_port()
        self.p2p_port = free_port()
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.rpc = RpcProxy(self)

    @property
    def netdir(self) -> Path:
        return self.datadir / self.network

    @property
    def cookie_path(self) -> Path:
        return self.netdir / ".cookie"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}/"

    @property
    def p2p_address(self) -> str:
        return f"127.0.0.1:{self.p2p_port}"

    def wallet(self, name: str) -> RpcProxy:
        return RpcProxy(self, f"wallet/{name}")

    def args(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "node.cli",
            "node",
            "--network",
            self.network,
            "--datadir",
            str(self.datadir),
            "--rpc-port",
            str(self.rpc_port),
            "--p2p-port",
            str(self.p2p_port),
            *self.extra_args,
        ]

    def start(self, extra_args: list[str] = (), wait: bool = True) -> None:
        assert self.process is None, "node already running"
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._stdout = open(self.datadir / "stdout.txt", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*self.args(), *extra_args],
            cwd=ROOT,
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        if wait:
            self.wait_for_rpc()

    def wait_for_rpc(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.cookie_path.exists():
                try:
                    self.call("getblockcount", [])
                    return
                except (OSError, RpcFailure, ValueError):
                    pass
            time.sleep(0.05)
        raise AssertionError(
            f"node{self.index} RPC not ready within {timeout} s\n{self.log_tail()}"
        )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            self.process = None
            self._stdout.close()
            raise NodeDied(f"node{self.index} exited with code {code}\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name in ("stdout.txt", f"{self.network}/debug.log"):
            path = self.datadir / name
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path} ---\n" + "\n".join(text))
        return "\n".join(out)

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

    def credentials(self) -> tuple[str, str]:
        user, _, password = self.cookie_path.read_text().strip().partition(":")
        return user, password

    def call(self, method: str, params: Any, path: str = "") -> Any:
        body = json.dumps(
            {"jsonrpc": "1.0", "id": 1, "method": method, "params": params}, default=str
        )
        user, password = self.credentials()
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req = urllib.request.Request(
            self.url + path,
            data=body.encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                reply = json.loads(resp.read(), parse_float=Decimal)
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                reply = json.loads(payload, parse_float=Decimal)
            except ValueError:
                raise RpcFailure(exc.code, payload.decode(errors="replace")) from exc
            if not isinstance(reply, dict) or reply.get("error") is None:
                raise RpcFailure(exc.code, str(reply)) from exc
        except (ConnectionError, urllib.error.URLError):
            self.check_alive()
            raise
        if reply.get("error"):
            raise RpcFailure(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]

    def stop(self, timeout: float = 30.0) -> None:
        """Clean shutdown through the ``stop`` RPC; waits for the process to exit."""
        if self.process is None:
            return
        try:
            self.call("stop", [])
        except (OSError, RpcFailure):
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        self.process = None
        self._stdout.close()

    def kill(self) -> None:
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None
        self._stdout.close()

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
