"""Real ``obol node`` processes for the benchmark: regtest, no wallet, started and stopped
by the node launcher (a fresh datadir, free loopback ports, stopped by its own pid)."""

from __future__ import annotations

import base64
from pathlib import Path

from node.cli.launcher import NodeProcess

ROOT = Path(__file__).resolve().parents[1]


def proc_status_kb(pid: int | str) -> dict[str, int]:
    """The kB fields of ``/proc/<pid>/status`` (VmHWM, RssAnon, RssFile, ...) by name;
    ``pid`` may be "self"."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.endswith(" kB"):
            fields[name] = int(value.split()[0])
    return fields


class BenchNode(NodeProcess):
    """``obol node --network regtest --no-wallet`` in ``datadir``; ``start``, then
    ``client()``; ``stop`` by pid (SIGTERM, SIGKILL after a minute)."""

    def __init__(self, datadir: Path, extra_args: list[str] | None = None) -> None:
        super().__init__(datadir, "regtest", extra_args or [])

    def args(self) -> list[str]:
        return [*super().args(), "--no-wallet"]

    def auth(self) -> str:
        """The Authorization header for hand-made load requests (bench.httpload)."""
        user, password = self.credentials()
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def peak_rss_mb(self) -> float:
        """VmHWM of the node process: its peak resident memory so far."""
        return proc_status_kb(self.pid)["VmHWM"] / 1024

    def stop(self, timeout: float = 60.0) -> None:
        self.stop_process(timeout)
