"""A full disk stops the node before it acknowledges anything it could not store (Bitcoin
Core's AbortNode on a failed write and its nMinDiskSpace check).

The node's network directory (database, debug.log, cookie) is a small tmpfs; a filler file
takes the space away. Whether the node finds out from its free-space check or from a
failed write, it must answer the caller with the reason, exit with code 1 and one clear
line, and after space returns and a restart hold every block it acknowledged.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest

from . import framework
from .framework import RpcFailure
from .test_node_blockchain import MINER_ADDR

TMPFS_MB = 24


@pytest.fixture
def small_disk(tmp_path: Path):
    """A node whose network directory is a TMPFS_MB tmpfs (skips where mounting is not
    permitted); unmounted afterwards."""
    node = framework.TestNode(0, tmp_path)
    node.netdir.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(node.netdir)]
    try:
        done = subprocess.run(mount, capture_output=True, text=True, timeout=30)
    except OSError as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield node
    finally:
        node.kill()
        subprocess.run(["umount", "-l", str(node.netdir)], capture_output=True, timeout=30)


def fill(path: Path, leave: int) -> Path:
    """Write a file into ``path``'s file system until ``leave`` bytes stay free (or none)."""
    filler = path / "filler"
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb") as out, contextlib.suppress(OSError):
        while True:
            free = shutil.disk_usage(path).free
            if free <= leave:
                break
            out.write(chunk[: min(len(chunk), free - leave)])
            out.flush()
    return filler


def mine_until_refused(node: framework.TestNode) -> tuple[list[str], RpcFailure]:
    """Mine one block at a time until the node refuses; (acknowledged hashes, the error)."""
    acknowledged = []
    for _ in range(50):
        try:
            acknowledged += node.rpc.generatetoaddress(1, MINER_ADDR)
        except RpcFailure as exc:
            return acknowledged, exc
        except OSError:  # the node stopped between our calls: the next start says why
            return acknowledged, RpcFailure(0, "connection lost")
    raise AssertionError("the node kept accepting blocks on a full disk")


@pytest.mark.parametrize(
    "min_free_mb,leave,reason",
    [(8, 6 << 20, "disk space is too low"), (0, 0, "cannot write to the database")],
    ids=["free-space-check", "failed-write"],
)
def test_full_disk_stops_the_node_and_loses_nothing(small_disk, min_free_mb, leave, reason):
    node = small_disk
    node.extra_args = ["--no-wallet", "--min-free-mb", str(min_free_mb)]
    node.start()
    before = node.rpc.generatetoaddress(5, MINER_ADDR)
    filler = fill(node.netdir, leave)

    acknowledged, error = mine_until_refused(node)
    if error.code != 0:
        assert error.code == -1 and reason in str(error), error
    assert node.wait_exit(timeout=60) == 1
    out = (node.datadir / "stdout.txt").read_text()
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert any(reason in line and str(node.netdir / "db") in line for line in errors), out

    filler.unlink()
    node.start()
    chain = before + acknowledged
    assert node.rpc.getblockcount() == len(chain)
    assert [node.rpc.getblockhash(h) for h in range(1, len(chain) + 1)] == chain
    assert node.rpc.verifychain(4, 0) is True
    node.rpc.generatetoaddress(1, MINER_ADDR)  # and it goes on
