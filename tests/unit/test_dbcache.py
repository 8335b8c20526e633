"""``--dbcache MB`` sizes the coin cache and LevelDB's caches, as Core's -dbcache."""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from consensus.params import REGTEST
from node.chain import storage
from node.chain.storage import ChainDB
from node.cli.main import build_parser
from node.config import DEFAULT_DBCACHE_MB, NodeConfig


def test_budget_splits_between_coin_cache_and_leveldb() -> None:
    small = NodeConfig(REGTEST, Path("/x"), dbcache_mb=40)
    large = NodeConfig(REGTEST, Path("/x"), dbcache_mb=400)
    assert abs(large.coin_cache_coins - 10 * small.coin_cache_coins) < 10
    assert small.coin_cache_coins * 400 + small.leveldb_cache_bytes <= 40 * 2**20
    assert small.leveldb_cache_bytes == 10 * 2**20


def test_leveldb_splits_its_share_as_core_and_stores_uncompressed(tmp_path, monkeypatch):
    opened: list[dict] = []
    real = plyvel.DB

    def recording(*args, **kwargs):
        opened.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(storage.plyvel, "DB", recording)
    ChainDB(str(tmp_path / "db"), "regtest", cache_bytes=40 * 2**20).close()
    assert opened[0]["lru_cache_size"] == 20 * 2**20  # half for the block cache
    assert opened[0]["write_buffer_size"] == 10 * 2**20  # a quarter for each write buffer
    assert opened[0]["compression"] is None


def test_cli_option(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["node"]).dbcache == DEFAULT_DBCACHE_MB
    assert parser.parse_args(["node", "--dbcache", "64"]).dbcache == 64
    for bad in ("3", "lots"):
        with pytest.raises(SystemExit):
            parser.parse_args(["node", "--dbcache", bad])
    assert "--dbcache" in capsys.readouterr().err
