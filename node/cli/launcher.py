"""The one node launcher: an ``obol node`` process with its datadir, ports and arguments,
started, waited for until its RPC answers, and stopped by its own pid. The functional
tests (``TestNode``), the benchmarks and ``obol localnet`` start their nodes with it.

Ports come from ``free_port``: inside a test run (``PYTEST_XDIST_WORKER`` or not), from a
range of its own per worker or process, as Bitcoin Core's ``p2p_port(n)``/``rpc_port(n)``,
so parallel workers never hand out the same port; each port is still checked free.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from ..rpc.auth import read_cookie
from ..rpc.client import RpcClient, RpcFailure

PORT_MIN = 11000  # below Linux's ephemeral range (32768-60999), where clients' ports come from
PORT_RANGE = 1000  # ports per worker
PORT_SLOTS = 20  # workers (or processes) with a range each: 11000-30999


def _port_base() -> int:
    worker = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    slot = int(worker.group(1)) if worker else os.getpid()
    return PORT_MIN + (slot % PORT_SLOTS) * PORT_RANGE


_next_port = itertools.count(os.getpid() % PORT_RANGE)


def free_port(wanted: int = 0) -> int:
    """``wanted`` if it can be bound; else the next free port of this worker's range."""
    if wanted and _can_bind(wanted):
        return wanted
    base = _port_base()
    for _ in range(PORT_RANGE):
        port = base + next(_next_port) % PORT_RANGE
        if _can_bind(port):
            return port
    raise OSError(f"no free port in {base}-{base + PORT_RANGE - 1}")


def _can_bind(port: int) -> bool:
    """Whether a server can listen on ``port`` now (as the node binds: a port in TIME_WAIT
    after a stopped node is free for it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class NodeDied(RuntimeError):
    """The node process exited while it was expected to run."""


class NodeProcess:
    """``obol node --network N --datadir D --rpc-port R --p2p-port P ARGS``, its output in
    ``D/<log_name>``. ``prefix`` runs it through another command (``ip netns exec ns``);
    ``new_session`` detaches it from the terminal's Ctrl-C."""

    def __init__(
        self,
        datadir: Path,
        network: str = "regtest",
        extra_args: Sequence[str] = (),
        *,
        rpc_port: int = 0,
        p2p_port: int = 0,
        log_name: str = "stdout.txt",
        new_session: bool = False,
    ) -> None:
        self.datadir = datadir
        self.network = network
        self.extra_args = list(extra_args)
        self.rpc_port = rpc_port or free_port()
        self.p2p_port = p2p_port or free_port()
        self.log_name = log_name
        self.new_session = new_session
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def name(self) -> str:
        return self.datadir.name

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
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

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

    def start(
        self, extra_args: Sequence[str] = (), wait: bool = True, timeout: float = 60.0
    ) -> None:
        """Start the process; with ``wait``, return once its RPC answers."""
        assert self.process is None, f"{self.name} already running"
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.datadir / self.log_name, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*self.args(), *extra_args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=self.new_session,
        )
        if wait:
            self.wait_for_rpc(timeout)

    def credentials(self) -> tuple[str, str]:
        return read_cookie(self.cookie_path)

    def client(self, timeout: float = 600.0) -> RpcClient:
        return RpcClient(self.url, *self.credentials(), timeout=timeout)

    def call(
        self, method: str, params: list[Any] | dict[str, Any] | None = None, path: str = ""
    ) -> Any:
        """One call on a connection of its own."""
        with self.client() as client:
            return client.call(method, params, path)

    def rpc_answers(self) -> bool:
        if not self.cookie_path.exists():
            return False
        try:
            self.call("getblockcount", [])
        except (OSError, RpcFailure, ValueError):
            return False
        return True

    def wait_for_rpc(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.rpc_answers():
                return
            time.sleep(0.05)
        raise NodeDied(f"{self.name}: RPC not ready within {timeout} s\n{self.log_tail()}")

    def check_alive(self) -> None:
        """Raise NodeDied, with the end of the log, if the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            code = self.wait_exit(0)
            raise NodeDied(f"{self.name} exited with code {code}\n{self.log_tail()}")

    def wait_exit(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for the process to exit; its exit code."""
        assert self.process is not None, f"{self.name} is not running"
        code = self.process.wait(timeout=timeout)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def stop_process(self, timeout: float = 30.0) -> None:
        """SIGTERM (the node shuts down cleanly), then SIGKILL after ``timeout`` s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
        self.wait_exit(timeout)

    def kill(self) -> None:
        if self.process is None:
            return
        self.process.kill()
        self.wait_exit(timeout=60)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for path in (self.datadir / self.log_name, self.netdir / "debug.log"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path} ---\n" + "\n".join(text))
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"NodeProcess({self.datadir}, rpc {self.rpc_port}, p2p {self.p2p_port})"
