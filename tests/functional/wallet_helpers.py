"""Helpers for the wallet's functional tests: amounts in units and ``obol wallet`` run
against a test node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

from .framework import ROOT, TestNode

COIN = Decimal(100_000_000)


def units(value: Decimal) -> int:
    return int(Decimal(value) * COIN)


def obol_wallet(
    node: TestNode, *args: str, stdin: str = "", wallet: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m node.cli wallet --datadir ... --rpc-port ... ARGS`` against ``node``."""
    cmd = [
        sys.executable,
        "-m",
        "node.cli",
        "wallet",
        "--datadir",
        str(node.datadir),
        "--rpc-port",
        str(node.rpc_port),
    ]
    if wallet is not None:
        cmd += ["--wallet", wallet]
    return subprocess.run(
        [*cmd, *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def obol_wallet_json(node: TestNode, *args: str, **kwargs: str) -> object:
    done = obol_wallet(node, "--json", *args, **kwargs)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout, parse_float=Decimal)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit code 1, nothing on stdout, one line on stderr containing every fragment."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in done.stderr
