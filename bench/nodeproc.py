"""Real ``obol node`` processes for the benchmark, and a small keep-alive RPC client.

Each node gets a fresh datadir and free loopback ports, and is stopped by its own pid.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RpcClient:
    """JSON-RPC over one keep-alive HTTP connection (what a script would use)."""

    def __init__(self, port: int, auth: str, timeout: float = 600.0) -> None:
        self.port = port
        self.auth = auth
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)})
        headers = {"Authorization": self.auth, "Content-Type": "application/json"}
        try:
            self._conn.request("POST", "/", body, headers)
            resp = self._conn.getresponse()
        except (http.client.HTTPException, OSError):
            self._conn.close()  # a dropped keep-alive connection: one retry on a new one
            self._conn.request("POST", "/", body, headers)
            resp = self._conn.getresponse()
        payload = resp.read()
        try:
            reply = json.loads(payload)
        except ValueError as exc:
            raise RpcError(resp.status, payload.decode(errors="replace")) from exc
        if reply.get("error"):
            raise RpcError(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]

    def close(self) -> None:
        self._conn.close()


class NodeProcess:
    """``obol node`` on regtest in ``datadir``; ``start``, then ``rpc``; ``stop`` by pid."""

    def __init__(self, datadir: Path, extra_args: list[str] | None = None) -> None:
        self.datadir = datadir
        self.rpc_port = free_port()
        self.p2p_port = free_port()
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def netdir(self) -> Path:
        return self.datadir / "regtest"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.datadir / "stdout.txt", "ab")  # noqa: SIM115
        args = [
            sys.executable,
            "-m",
            "node.cli",
            "node",
            "--network",
            "regtest",
            "--datadir",
            str(self.datadir),
            "--rpc-port",
            str(self.rpc_port),
            "--p2p-port",
            str(self.p2p_port),
            "--no-wallet",
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            args, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited with {self.process.returncode}: {self.log_tail()}")
            if (self.netdir / ".cookie").exists():
                try:
                    self.client().call("getblockcount")
                    return
                except (OSError, RpcError, ValueError):
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"node RPC not ready within {timeout} s: {self.log_tail()}")

    def auth(self) -> str:
        cookie = (self.netdir / ".cookie").read_text().strip()
        return "Basic " + base64.b64encode(cookie.encode()).decode()

    def client(self) -> RpcClient:
        return RpcClient(self.rpc_port, self.auth())

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for path in (self.datadir / "stdout.txt", self.netdir / "debug.log"):
            if path.exists():
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    def peak_rss_mb(self) -> float:
        """VmHWM of the node process: its peak resident memory so far."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def stop(self, timeout: float = 60.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
