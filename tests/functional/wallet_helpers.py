"""Helpers for the wallet's functional tests: moving blocks and txs between nodes by RPC, and
running ``obol wallet`` against a test node.

Until the nodes have peers, blocks and txs travel as they would over P2P but by hand:
``getblock hex -> submitblock`` and ``getrawtransaction -> sendrawtransaction``. With P2P
these become ``connect_nodes`` and ``sync_blocks``/``sync_mempools`` from the framework.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

from .framework import ROOT, RpcFailure, TestNode

COIN = Decimal(100_000_000)


def relay_blocks(src: TestNode, dst: TestNode) -> None:
    """Submit to ``dst`` every block of ``src``'s active chain above their fork point."""
    height = min(src.rpc.getblockcount(), dst.rpc.getblockcount())
    while height > 0 and src.rpc.getblockhash(height) != dst.rpc.getblockhash(height):
        height -= 1
    for h in range(height + 1, src.rpc.getblockcount() + 1):
        result = dst.rpc.submitblock(src.rpc.getblock(src.rpc.getblockhash(h), 0))
        assert result in (None, "duplicate"), result


def relay_mempool(src: TestNode, dst: TestNode) -> None:
    have = set(dst.rpc.getrawmempool())
    for txid in src.rpc.getrawmempool():  # parents before children
        if txid not in have:
            try:
                dst.rpc.sendrawtransaction(src.rpc.getrawtransaction(txid))
            except RpcFailure as exc:
                if exc.code != -27:  # already confirmed on dst
                    raise


def relay_all(a: TestNode, b: TestNode) -> None:
    """Blocks both ways, then mempools both ways: what gossip would do."""
    relay_blocks(a, b)
    relay_blocks(b, a)
    relay_mempool(a, b)
    relay_mempool(b, a)
    assert a.rpc.getbestblockhash() == b.rpc.getbestblockhash()


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
