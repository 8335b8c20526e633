"""Everything ``obol node`` is told on its command line, in one immutable object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from consensus.params import NetworkParams

DEFAULT_DBCACHE_MB = 100
MIN_DBCACHE_MB = 4  # Core's minimum
# What a cached coin costs in resident memory: the key, the Coin and its lock, the dict
# slot, and what the allocator cannot give back while the cache churns (evicting and
# refilling as blocks spend and create coins). tracemalloc counts ~290 bytes of objects;
# resident memory grows by 370-424 bytes a coin (``python -m bench.cachemem``, and the
# scale section of the bench reports it).
BYTES_PER_CACHED_COIN = 400
# The coin cache gets three quarters of --dbcache: it spares a LevelDB read and a decode
# per coin a block spends. LevelDB gets the rest, for its block cache and write buffers
# (with bloom filters, a miss seldom reads a block at all).
_COIN_CACHE_SHARE = 0.75


@dataclass(frozen=True, slots=True)
class NodeConfig:
    params: NetworkParams
    datadir: Path
    rpc_bind: str = "127.0.0.1"
    rpc_port: int | None = None  # None: the network's default; 0: any free port
    rpc_user: str | None = None
    rpc_password: str | None = None
    p2p_bind: str = "127.0.0.1"
    p2p_port: int | None = None
    connect: tuple[str, ...] = ()
    mine_address: str | None = None
    mine_workers: int = 1
    auto_mine_interval: float | None = None
    wallet: bool = True
    listen: bool = True
    reindex: bool = False  # rebuild the chainstate from the stored blocks
    repair: bool = False  # LevelDB's repair first, then reindex
    # Bitcoin Core's nMinDiskSpace: with less free disk the node stops before a write,
    # rather than finding out from a failed one. 0 turns the check off.
    min_free_mb: int = 50
    # Seconds a client of the P2P or RPC port has to send its first request's header.
    header_timeout: float = 10.0
    dbcache_mb: int = DEFAULT_DBCACHE_MB  # Core's -dbcache: coin cache + LevelDB cache

    @property
    def coin_cache_coins(self) -> int:
        return int(self.dbcache_mb * 2**20 * _COIN_CACHE_SHARE) // BYTES_PER_CACHED_COIN

    @property
    def leveldb_cache_bytes(self) -> int:
        return int(self.dbcache_mb * 2**20 * (1 - _COIN_CACHE_SHARE))

    @property
    def netdir(self) -> Path:
        """``<datadir>/<network>``: the database, cookie, log and wallets live here."""
        return self.datadir / self.params.name

    @property
    def cookie_path(self) -> Path:
        return self.netdir / ".cookie"

    @property
    def log_path(self) -> Path:
        return self.netdir / "debug.log"

    @property
    def effective_rpc_port(self) -> int:
        return self.params.rpc_port if self.rpc_port is None else self.rpc_port

    @property
    def effective_p2p_port(self) -> int:
        return self.params.p2p_port if self.p2p_port is None else self.p2p_port


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and each missing parent readable by their owner only (node keys,
    the RPC cookie and wallets live there); an existing directory keeps its mode."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        os.makedirs(directory, mode=0o700, exist_ok=True)
