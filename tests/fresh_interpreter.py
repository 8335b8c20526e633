"""Runs a probe in a fresh interpreter and reads back the JSON it prints.

For what a process fixes once (LevelDB's compaction thread and its mmap limit, started or
sized by the first database a process opens): in the test process an earlier test has
already fixed it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_probe(code: str, *args: str, timeout: float = 120) -> dict:
    """``python -c code args...`` from the repository root; its stdout parsed as JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return json.loads(out.stdout)
