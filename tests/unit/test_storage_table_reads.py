"""LevelDB reads the node's tables with pread, not through memory maps.

Each case runs in a fresh interpreter: LevelDB sizes its mmap limiter once per process,
when the first database is opened, so in this one an earlier test has already done it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from node.chain.tablereads import _symbol_offset
from tests.fresh_interpreter import run_probe

# Fills a database past its write buffer, compacts it into tables, reads every key back,
# then counts the table files mapped into the process.
PROBE = """
import json, os, sys
import plyvel
from node.chain.tablereads import read_tables_without_mmap

switched = read_tables_without_mmap() if sys.argv[2] == "pread" else None
db = plyvel.DB(sys.argv[1], create_if_missing=True, write_buffer_size=1 << 20)
keys = [os.urandom(32) for _ in range(20_000)]
for key in keys:
    db.put(key, key * 2)
db.compact_range()
read_back = all(db.get(key) == key * 2 for key in keys)
with open("/proc/self/maps") as maps:
    mapped = sum(1 for line in maps if line.rstrip().endswith(".ldb"))
tables = sum(1 for name in os.listdir(sys.argv[1]) if name.endswith(".ldb"))
print(json.dumps({"switched": switched, "read_back": read_back, "mapped": mapped,
                  "tables": tables}))
"""


def _probe(datadir: Path, mode: str) -> dict:
    return run_probe(PROBE, str(datadir), mode)


@pytest.mark.skipif(sys.platform != "linux", reason="the switch is found in an ELF library")
def test_tables_are_read_without_memory_maps(tmp_path):
    seen = _probe(tmp_path / "db", "pread")
    assert seen["switched"] is True
    assert seen["read_back"] is True
    assert seen["tables"] >= 1
    assert seen["mapped"] == 0


@pytest.mark.skipif(sys.platform != "linux", reason="the switch is found in an ELF library")
def test_without_the_switch_leveldb_maps_its_tables(tmp_path):
    seen = _probe(tmp_path / "db", "mmap")
    assert seen["read_back"] is True
    assert seen["tables"] >= 1
    assert seen["mapped"] >= 1


def test_symbol_lookup_refuses_what_is_not_an_elf_file(tmp_path):
    (tmp_path / "lib.so").write_bytes(b"not an ELF file at all" * 10)
    assert _symbol_offset(tmp_path / "lib.so", b"anything") is None
    assert _symbol_offset(tmp_path / "missing.so", b"anything") is None


@pytest.mark.skipif(sys.platform != "linux", reason="the switch is found in an ELF library")
def test_symbol_lookup_finds_only_defined_symbols():
    import plyvel  # noqa: F401  (maps the LevelDB library into this process)

    from node.chain.tablereads import _SETTER, _loaded_objects

    libraries = [path for path, _ in _loaded_objects() if "leveldb" in path.name]
    assert libraries
    assert any(_symbol_offset(path, _SETTER) for path in libraries)
    assert all(_symbol_offset(path, b"_ZN7leveldb_no_such_symbol") is None for path in libraries)


def test_symbol_lookup_refuses_a_truncated_elf_file(tmp_path):
    (tmp_path / "lib.so").write_bytes(b"\x7fELF\x02\x01" + bytes(30))
    assert _symbol_offset(tmp_path / "lib.so", b"anything") is None


# A ChainDB whose tables hold 40,000 coins and as many address entries (~5 MB each), read
# by a whole-keyspace scan (every coin) and by an address scan: LevelDB's estimate of its
# memory (memtables + block cache) after each.
CACHE_PROBE = """
import json, sys
from consensus.coins import Coin
from consensus.encoding import encode_coin
from node.chain.storage import ChainDB

db = ChainDB(sys.argv[1], "regtest", cache_bytes=32 << 20)
lock = bytes(21)
for n in range(40_000):
    key = n.to_bytes(4, "big") * 9
    value = encode_coin(Coin(n + 1, lock, 1, False))
    db._db.put(b"c" + key, value)
    db._db.put(b"a" + lock + key, value)
db._db.compact_range()

def usage():
    return int(db._db.get_property(b"leveldb.approximate-memory-usage"))

seen = {"start": usage()}
seen["coins"] = sum(1 for _ in db.coins())
seen["after_coins"] = usage()
seen["address_coins"] = sum(1 for _ in db.address_coins(lock))
seen["after_address"] = usage()
print(json.dumps(seen))
db.close()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the switch is found in an ELF library")
def test_whole_keyspace_scans_stay_out_of_the_block_cache(tmp_path):
    seen = run_probe(CACHE_PROBE, str(tmp_path / "db"))
    assert seen["coins"] == seen["address_coins"] == 40_000
    assert seen["after_coins"] - seen["start"] < 100_000  # ~5 MB of coins read, not kept
    assert seen["after_address"] - seen["after_coins"] > 2_000_000  # address blocks kept
