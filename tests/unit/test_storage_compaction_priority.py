"""LevelDB compacts in a thread below the node's priority, beside the signature workers.

Each case runs in a fresh interpreter: LevelDB starts its one compaction thread per
process, so in this one an earlier test has already started it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fresh_interpreter import run_probe

# Opens a ChainDB, then has the main thread schedule a compaction (which starts LevelDB's
# thread at the main thread's priority unless the ChainDB started it already), and prints
# the niceness of the main thread and of every thread Python did not start, from /proc.
PROBE = """
import json, os, sys, threading
from node.chain.storage import ChainDB

db = ChainDB(sys.argv[1], "regtest", compaction_niceness=int(sys.argv[2]))
db._db.compact_range(start=b"\\x00", stop=b"\\x00")
python_threads = {t.native_id for t in threading.enumerate()}

def nice(tid):
    with open(f"/proc/self/task/{tid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])

native = [nice(int(t)) for t in os.listdir("/proc/self/task") if int(t) not in python_threads]
print(json.dumps({"main": nice(threading.main_thread().native_id), "native": native}))
db.close()
"""


def _probe(datadir: Path, niceness: int) -> dict:
    return run_probe(PROBE, str(datadir), str(niceness))


@pytest.mark.skipif(sys.platform != "linux", reason="niceness is per thread on Linux only")
def test_compaction_thread_runs_at_the_given_niceness(tmp_path):
    seen = _probe(tmp_path / "db", 7)
    assert seen["native"] == [min(seen["main"] + 7, 19)]  # LevelDB's thread, and only it


@pytest.mark.skipif(sys.platform != "linux", reason="niceness is per thread on Linux only")
def test_without_niceness_compaction_runs_at_the_node_priority(tmp_path):
    first = _probe(tmp_path / "db", 7)  # a datadir that exists: opened again below
    assert len(first["native"]) == 1
    seen = _probe(tmp_path / "db", 0)
    assert seen["native"] == [seen["main"]]
