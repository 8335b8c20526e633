"""A damaged database is refused with one clear message, and ``--repair``/``--reindex``
bring the node back (Bitcoin Core's feature_reindex and its -checkblocks at start-up).

Each kind of damage is applied to a copy of one datadir: the node must exit with code 1
and a single ``error:`` line naming the database and what to do, never a traceback. Then
the way back it names must give the coin set of the undamaged node once the blocks lost
with the damage are submitted again.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import msgpack
import plyvel
import pytest

from consensus.encoding import decode_block
from tests.chain_helpers import spend

from . import framework
from .framework import ROOT
from .test_node_blockchain import MINER_ADDR, OTHER, coinbase_utxo

HEIGHT = 103  # a coinbase matures after 100 blocks: one confirmed spend of one


def _files(db: Path, suffix: str) -> list[Path]:
    return sorted(p for p in db.iterdir() if p.name.endswith(suffix))


def _garble(path: Path, start: float, end: float, every: int = 256) -> None:
    """Flip one byte every ``every`` bytes between fractions ``start`` and ``end`` of the
    file: every LevelDB block in between fails its checksum."""
    data = bytearray(path.read_bytes())
    for i in range(int(len(data) * start), int(len(data) * end), every):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def garbled_ldb(db: Path) -> None:
    _garble(_files(db, ".ldb")[0], 0.0, 0.8)


def truncated_ldb(db: Path) -> None:
    table = _files(db, ".ldb")[0]
    os.truncate(table, table.stat().st_size // 2)


def deleted_ldb(db: Path) -> None:
    _files(db, ".ldb")[0].unlink()


def bad_manifest(db: Path) -> None:
    _garble(db / (db / "CURRENT").read_text().strip(), 0.0, 1.0, 7)


def bad_current(db: Path) -> None:
    (db / "CURRENT").write_text("MANIFEST-9")  # no newline, no such file


def garbled_log(db: Path) -> None:
    _garble(_files(db, ".log")[0], 0.4, 0.6)


def best_marker_unknown(db: Path) -> None:
    with plyvel.DB(str(db)) as raw:
        raw.put(b"mbest", random.Random(15).randbytes(32))


def coin_deleted(db: Path) -> None:
    """The tip's coinbase output: within the blocks checked at start-up."""
    with plyvel.DB(str(db)) as raw:
        best = raw.get(b"mbest")
        height = msgpack.unpackb(raw.get(b"h" + best))[1]
        tip = decode_block(raw.get(b"b" + height.to_bytes(4, "big") + best))
        raw.delete(b"c" + tip.txs[0].txid + bytes(4))


# (damage, which datadir it is applied to, the flag the message must name)
CASES: list[tuple[Callable[[Path], None], str, str]] = [
    (garbled_ldb, "compacted", "--repair"),
    (truncated_ldb, "compacted", "--repair"),
    (deleted_ldb, "compacted", "--repair"),
    (bad_manifest, "compacted", "--repair"),
    (bad_current, "compacted", "--repair"),
    (garbled_log, "killed", "--repair"),
    (best_marker_unknown, "compacted", "--reindex"),
    (coin_deleted, "compacted", "--reindex"),
]


@pytest.fixture(scope="module")
def undamaged(tmp_path_factory):
    """Two copies of a datadir with HEIGHT blocks and a confirmed tx: ``killed`` (SIGKILL, all
    in LevelDB's log) and ``compacted`` (all in one table); the blocks; the coin set."""
    base = tmp_path_factory.mktemp("undamaged")
    node = framework.TestNode(0, base, extra_args=["--no-wallet"])
    node.start()
    try:
        node.rpc.generatetoaddress(HEIGHT - 2, MINER_ADDR)
        utxo = coinbase_utxo(node, 1)
        tx = spend([utxo], [(utxo.value - 10_000, OTHER.lock)])
        node.rpc.sendrawtransaction(tx.serialize().hex())
        node.rpc.generatetoaddress(2, MINER_ADDR)
        blocks = [node.rpc.getblock(node.rpc.getblockhash(h), 0) for h in range(1, HEIGHT + 1)]
        coinset = node.rpc.gettxoutsetinfo()["hash_serialized_3"]
    finally:
        node.kill()
    killed = base / "killed"
    shutil.copytree(node.datadir, killed)
    with plyvel.DB(str(node.netdir / "db")) as raw:
        raw.compact_range()
    compacted = base / "compacted"
    shutil.copytree(node.datadir, compacted)
    assert _files(killed / "regtest" / "db", ".log")[0].stat().st_size > 10_000
    assert len(_files(compacted / "regtest" / "db", ".ldb")) == 1
    return {"killed": killed, "compacted": compacted}, blocks, coinset


@pytest.mark.parametrize("damage,source,remedy", CASES, ids=[c[0].__name__ for c in CASES])
def test_damage_is_refused_then_repaired(undamaged, tmp_path, damage, source, remedy):
    copies, blocks, coinset = undamaged
    node = framework.TestNode(0, tmp_path, extra_args=["--no-wallet"])
    shutil.copytree(copies[source], node.datadir)
    db = node.netdir / "db"
    damage(db)

    run = subprocess.run(node.args(), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ") and str(db) in lines[0] and remedy in lines[0]

    node.start([remedy])
    try:
        for block in blocks:
            assert node.rpc.submitblock(block) in (None, "duplicate")
        assert node.rpc.getblockcount() == HEIGHT
        assert node.rpc.gettxoutsetinfo()["hash_serialized_3"] == coinset
        assert node.rpc.verifychain(4, 0) is True
        node.stop()
        node.start()  # and it opens normally afterwards
        assert node.rpc.gettxoutsetinfo()["hash_serialized_3"] == coinset
        node.stop()
    finally:
        node.kill()


def test_data_directories_are_private(start_nodes):
    (node,) = start_nodes(1, [["--no-wallet"]])
    for path in (node.netdir, node.netdir / "db"):
        assert path.stat().st_mode & 0o777 == 0o700, path
