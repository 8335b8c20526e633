"""The coins a block spends are read by seeking an iterator, not by LevelDB's point read
(``ChainDB._seek_read``): a point read that probes more than one table charges a "seek" to
the first one, and a table out of seeks is compacted into the next level. Coin reads give
the same answers as point reads, refuse damage the same way, and leave the tables alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import plyvel
import pytest

from consensus.coins import Coin
from consensus.encoding import encode_coin
from node.chain.storage import ChainDB, StorageError

LOCK = bytes(21)
# Coin keys (txid || u32le(index)) around which the reads probe: txids 0x10.., 0x20.., ...
STORED = [bytes([16 * n]) * 32 + n.to_bytes(4, "little") for n in range(1, 8)]
DEEP = STORED[3]  # the coin every read below asks for


def _coin(n: int) -> Coin:
    return Coin(1_000 * n, LOCK, n, False)


def layered(tmp_path: Path) -> str:
    """A database whose coins sit in a compacted table below level 0, under a level-0
    table whose keys span them: a point read of a coin probes both tables."""
    path = str(tmp_path / "db")
    ChainDB(path, "regtest").close()
    with plyvel.DB(path, compression=None) as raw:
        for n, key in enumerate(STORED, 1):
            raw.put(b"c" + key, encode_coin(_coin(n)))
        raw.compact_range()
        raw.put(b"c" + bytes(37), b"below every coin")
        raw.put(b"c" + b"\xff" * 37, b"above every coin")
    # the last two puts are in LevelDB's log: opening the database writes them to a new
    # level-0 table spanning every stored coin
    return path


def tables(path: str) -> set[str]:
    return {p.name for p in Path(path).iterdir() if p.suffix == ".ldb"}


def rounds_until_compacted(path: str, read: Callable[[], object], rounds: int) -> int | None:
    """Rounds of a hundred reads, a pause after each, until a table file changes: how many
    it took, or None. (A compaction LevelDB is due may wait for the next charged read.)"""
    before = tables(path)
    for done in range(1, rounds + 1):
        for _ in range(100):
            assert read() is not None
        time.sleep(0.05)
        if tables(path) != before:
            return done
    return None


def test_coin_reads_answer_as_point_reads(tmp_path: Path) -> None:
    db = ChainDB(layered(tmp_path), "regtest")
    try:
        for n, key in enumerate(STORED, 1):
            assert db.get_coin(key) == _coin(n)
        absent = [
            bytes(36),  # before the first coin
            STORED[0][:-1],  # a prefix of a coin's key
            STORED[2][:-4] + (99).to_bytes(4, "little"),  # between two coins
            b"\xfe" * 36,  # after the last coin
            b"\xff" * 36,  # after every record but one in the keyspace
        ]
        for key in absent:
            assert db.get_coin(key) is None
            assert db._get(b"c" + key) is None
    finally:
        db.close()


def test_coin_reads_leave_the_tables_alone(tmp_path: Path) -> None:
    """Point reads of a coin below the level-0 table use up that table's allowance (one
    seek per 16 KiB of it, at least 100) and LevelDB compacts it away; coin reads, many
    times as many, change no table."""
    control = tmp_path / "point"
    control.mkdir()
    path = layered(control)
    db = ChainDB(path, "regtest")
    try:
        took = rounds_until_compacted(path, lambda: db._get(b"c" + DEEP), rounds=50)
    finally:
        db.close()
    assert took is not None

    path = layered(tmp_path)
    db = ChainDB(path, "regtest")
    try:
        assert rounds_until_compacted(path, lambda: db.get_coin(DEEP), max(20, 5 * took)) is None
    finally:
        db.close()


def test_a_damaged_table_fails_a_coin_read(tmp_path: Path) -> None:
    path = layered(tmp_path)
    ChainDB(path, "regtest").close()
    (deep,) = (p for p in Path(path).glob("*.ldb") if DEEP in p.read_bytes())
    data = bytearray(deep.read_bytes())
    for i in range(0, len(data) // 2, 64):
        data[i] ^= 0x5A
    deep.write_bytes(bytes(data))
    failures: list[StorageError] = []
    db = ChainDB(path, "regtest", on_failure=failures.append)
    try:
        with pytest.raises(StorageError, match="damaged") as info:
            db.get_coin(DEEP)
        assert "--repair" in str(info.value)
        assert failures == [info.value]
    finally:
        db.close()
