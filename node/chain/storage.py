"""The chainstate database: the one module that imports plyvel and knows the key layout.

One LevelDB per datadir (``<datadir>/<network>/db``), keyspaces by a one-byte prefix:

    h + block hash           block index record [header80, height, chainwork, status, ntx]
    b + u32be(height) + block hash    block body (its canonical encoding)
    u + u32be(height) + block hash    undo data (the coins the block spent, in order)
    c + txid + u32le(n)      coin [value, lock, height, coinbase]
    a + lock + outpoint      address index: unspent outputs of a lock -> coin
    y + lock + u32be(height) + u32be(position) + txid    address history -> [received, sent]
    t + lock                 address totals [balance, received, tx count, coin count]
    x + txid                 tx index [block hash, position, offset, length] (the tx's bytes
                             in the block's body; records written before them: 2 fields)
    p + txid                 mempool tx acknowledged to a caller (survives a crash)
    m + name                 metadata: best block, schema version, network, coin set stats

Bodies and undo data, two fifths of the bytes, are keyed by height first, so they are
written in key order: a compaction that takes new ones in overlaps only the newest old
ones. Keyed by hash they were spread over their whole key range, and each compaction
rewrote the bodies between the coins and index entries it merged (a 1M-tx sync: its
compactions wrote 13.1-13.7 GB instead of 15.3-16.6 GB).

Every block connect or disconnect is one ``WriteBatch`` that carries the new best-block
marker, so a process killed at any instant reopens on a consistent state. Batches are
written with sync (the log is on disk before a write returns), so a power cut loses
nothing a caller was told is stored.

The database is opened with LevelDB's paranoid checks and every read verifies its
checksums: damage is refused, never skipped. Any LevelDB error, at start-up or later,
becomes a ``StorageError`` naming the datadir and what to do, and is reported to
``on_failure`` (the node stops on the first one: after a failed write LevelDB may already
have dropped records, so nothing may be acknowledged past it).

The address
totals are read-modify-written: a batch prepared while earlier ones still wait for their
verdict (the chain's pipeline) reads the totals those will write, not the database's.

The coin set's stats (MuHash3072 of every coin, coin count, total value) are kept the same
way, so that gettxoutsetinfo with ``muhash`` reads one record instead of every coin.

Schema 1 lacked the totals, the history values and the coin set stats;
``migrate_address_index`` rebuilds them from the stored blocks, undo data and coins, and
only then bumps the schema. Schemas 1 and 2 keyed bodies and undo data by hash alone:
opening such a database moves them to their height keys first (``_move_blocks``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import msgpack
import plyvel

from consensus.coins import Coin
from consensus.encoding import (
    decode_block,
    decode_coin,
    decode_tx,
    decode_undo,
    encode_coin,
    encode_undo,
)
from consensus.errors import DecodeError
from consensus.primitives import Block, BlockHeader, Tx, outpoint_key

from .muhash import MuHash, coin_bytes
from .tablereads import read_tables_without_mmap

SCHEMA_VERSION = 3
_HASH_KEYED_BLOCKS = {b"1", b"2"}  # older schemas, which opening migrates

_INDEX = b"h"
_BODY = b"b"
_UNDO = b"u"
_COIN = b"c"
_ADDR_UTXO = b"a"
_ADDR_HIST = b"y"
_ADDR_TOTALS = b"t"
_TXINDEX = b"x"
_MEMPOOL = b"p"
_META = b"m"
_META_BEST = _META + b"best"
_META_SCHEMA = _META + b"schema"
_META_NETWORK = _META + b"network"
_META_COINSTATS = _META + b"coinstats"  # msgpack [MuHash state, coin count, total value]
_TXINDEX_VALUE_HEAD = b"\x94\xc4\x20"  # a 4-array, then a 32-byte bin: the block hash
_BODY_HEAD = b"\x92\xc4\x50"  # a block's encoding: a 2-array, then its 80-byte header
# What survives a reindex: the blocks, the mempool journal and the datadir's identity.
_KEPT_BY_REINDEX = (_BODY, _MEMPOOL, _META_NETWORK, _META_SCHEMA)
_READ = {"verify_checksums": True}
# A scan of a whole keyspace (every coin, block, index record) reads each block once:
# kept out of the block cache, as Core's coin cursor, so it does not evict what
# validation and the address queries read again.
_BULK_READ = {**_READ, "fill_cache": False}
# A key range no record is in (every key starts with a letter): compacting it starts
# LevelDB's background thread and does nothing else.
_NO_KEYS = b"\x00"
# Moving hash-keyed blocks: records per batch, at most this many bytes of them.
_MOVE_BATCH_BYTES = 16 * 2**20
_MOVE_PROGRESS_EVERY = 25_000

log = logging.getLogger("obol.storage")


class StorageError(Exception):
    """The database cannot be used: wrong network or schema, locked, corrupt, or a write
    failed (disk full). The message names the datadir and what to do."""


def _reason(exc: Exception) -> str:
    """plyvel's message (bytes from LevelDB) as text."""
    detail = exc.args[0] if len(exc.args) == 1 else exc
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def damaged(path: str, detail: object) -> StorageError:
    return StorageError(
        f"the database in {path} is damaged ({detail}). Restart with --repair to salvage "
        "it and rebuild the chainstate from the stored blocks (or move the datadir away "
        "and sync again)"
    )


@dataclass(frozen=True, slots=True)
class IndexRecord:
    header: bytes
    height: int
    chainwork: int
    status: int
    ntx: int


@dataclass(frozen=True, slots=True)
class AddressTotals:
    """Running totals of one lock over the active chain."""

    balance: int
    received: int
    tx_count: int
    utxo_count: int


@dataclass(frozen=True, slots=True)
class HistoryRow:
    height: int
    position: int
    txid: bytes
    received: int
    sent: int


@dataclass(frozen=True, slots=True)
class CoinStats:
    """The coin set in one record, updated with every block."""

    muhash: MuHash
    txouts: int
    total_amount: int


def _stats_from(raw: bytes | None) -> CoinStats:
    if raw is None:
        return CoinStats(MuHash(), 0, 0)
    state, txouts, total = msgpack.unpackb(raw)
    return CoinStats(MuHash.deserialize(state), txouts, total)


def _stats_value(stats: CoinStats) -> bytes:
    return _pack([stats.muhash.serialize(), stats.txouts, stats.total_amount])


class ChainDB:
    """Typed access to the chainstate. Reads are direct; writes go through ``Batch``."""

    def __init__(
        self,
        path: str,
        network: str,
        on_failure: Callable[[StorageError], None] | None = None,
        min_free_bytes: int = 0,
        max_open_files: int = 1000,
        cache_bytes: int = 16 * 2**20,
        compaction_niceness: int = 0,
    ) -> None:
        """``cache_bytes``: LevelDB's share of the memory budget, split as Core splits it:
        half for the block cache, a quarter for each of the two write buffers it may hold
        (the default gives LevelDB's own defaults, 8 MiB and 4 MiB).

        ``compaction_niceness``: how far below this thread's priority LevelDB compacts
        (``_opened_below``)."""
        os.makedirs(path, mode=0o700, exist_ok=True)
        self.path = path
        self._on_failure = on_failure
        self._min_free = min_free_bytes
        self._broken: StorageError | None = None  # the first failure: no write after it
        self.unsynced = False  # a batch was written without sync after the last synced one
        self.needs_migration = False
        try:
            # The bloom filter spares most disk reads for keys that are absent (a new
            # coin's key, an address's first totals): ~1.25 bytes per key in memory.
            # No compression, as Core: hashes, keys and signatures hardly compress (snappy
            # saved a fifth of the disk at 24,000 blocks).
            # Tables are read with pread into the block cache, not mapped (tablereads):
            # mapped, the pages a sync touched were resident outside the budget.
            self.tables_mapped = not read_tables_without_mmap()
            self._db = _opened_below(
                compaction_niceness,
                lambda: plyvel.DB(
                    path,
                    create_if_missing=True,
                    paranoid_checks=True,
                    max_open_files=max_open_files,
                    bloom_filter_bits=10,
                    compression=None,
                    lru_cache_size=cache_bytes // 2,
                    write_buffer_size=cache_bytes // 4,
                ),
            )
        except plyvel.IOError as exc:
            if "lock" in str(exc).lower():
                raise StorageError(
                    f"cannot lock the database in {path}: is another obol node using this "
                    f"datadir? ({_reason(exc)})"
                ) from exc
            raise damaged(path, _reason(exc)) from exc
        except plyvel.Error as exc:
            raise damaged(path, _reason(exc)) from exc
        try:
            self._check_identity(network)
        except StorageError:
            self._db.close()
            raise

    def failed(self, exc: Exception, writing: bool = False) -> StorageError:
        """The StorageError for a LevelDB error (or undecodable record), reported."""
        if isinstance(exc, StorageError):
            error = exc
        elif writing:
            error = StorageError(
                f"cannot write to the database in {self.path} ({_reason(exc)}). The node "
                "stops so that nothing unstored is acknowledged: free disk space (or fix "
                "the disk), then restart it"
            )
        else:
            error = damaged(self.path, _reason(exc))
        if writing and self._broken is None:
            self._broken = error
        if self._on_failure is not None:
            self._on_failure(error)
        return error

    def _get(self, key: bytes) -> bytes | None:
        try:
            return self._db.get(key, **_READ)
        except plyvel.Error as exc:
            raise self.failed(exc) from exc

    def _seek_read(self, key: bytes) -> bytes | None:
        """``_get`` for the coins a block spends, without LevelDB's seek compaction.

        A point read that probes more than one table charges a "seek" to the first one,
        bloom filter or not, and a table whose allowance runs out (one seek per 16 KiB of
        it) is compacted into the next level: a rule for spinning disks, where a wasted
        probe cost a seek. The coins a block spends are mostly in the deepest level, so
        once the coin set outgrows the coin cache nearly every lookup was charged, and
        those compactions were most of LevelDB's work: a 1M-tx sync's compactions wrote
        13.4-13.9 GB this way and 5.7 GB with the coins read by seeking an iterator,
        which samples one read per megabyte instead (bench/NOTES.md, tenth round). An
        iterator made per read costs ~1 us more than a point read and pins nothing
        after it."""
        try:
            it = self._db.raw_iterator(**_READ)
            try:
                it.seek(key)
                return it.value() if it.valid() and it.key() == key else None
            finally:
                it.close()
        except plyvel.Error as exc:
            raise self.failed(exc) from exc

    def _scan(self, prefix: bytes, bulk: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Every record under ``prefix``; ``bulk``: a whole keyspace (``_BULK_READ``)."""
        try:
            yield from self._db.iterator(prefix=prefix, **(_BULK_READ if bulk else _READ))
        except plyvel.Error as exc:
            raise self.failed(exc) from exc

    def _check_identity(self, network: str) -> None:
        stored_net = self._get(_META_NETWORK)
        stored_schema = self._get(_META_SCHEMA)
        if stored_net is None and stored_schema is None:
            with self.batch() as batch:
                batch._wb.put(_META_NETWORK, network.encode())
                batch._wb.put(_META_SCHEMA, str(SCHEMA_VERSION).encode())
            return
        if stored_net != network.encode():
            other = stored_net.decode(errors="replace") if stored_net else "unknown"
            raise StorageError(
                f"this datadir holds a {other} chain, not {network}: use --network {other} "
                "or another --datadir"
            )
        if stored_schema in _HASH_KEYED_BLOCKS:
            self._move_blocks(bump_schema=stored_schema == b"2")
            # schema 1 lacks the address totals too: the chain rebuilds them once loaded
            self.needs_migration = stored_schema == b"1"
            return
        if stored_schema != str(SCHEMA_VERSION).encode():
            found = stored_schema.decode(errors="replace") if stored_schema else "none"
            raise StorageError(
                f"database schema version {found} is not supported (this obol uses "
                f"{SCHEMA_VERSION}); start with a new --datadir"
            )

    def _move_blocks(self, bump_schema: bool) -> None:
        """Move the bodies and undo data of schemas 1 and 2, keyed by hash alone, to their
        height keys: the height in the block's index record, or for a body without one
        (lost to ``--repair``) the height its coinbase claims, which ``--reindex`` checks.
        A record with neither is unusable and dropped. Each batch moves whole records (put
        and delete together), so after a kill each is at one key or the other and the next
        start moves the rest; with ``bump_schema`` the last batch marks the schema done."""
        log.info("moving stored blocks and undo data to height-ordered keys (once)")
        moved = dropped = pending = 0
        try:
            wb = self._db.write_batch(sync=True)
            for prefix in (_BODY, _UNDO):
                for key, raw in self._scan(prefix, bulk=True):
                    if len(key) != 1 + 32:  # already moved
                        continue
                    block_hash = key[1:]
                    height = self.height_of(block_hash)
                    if height is None and prefix == _BODY:
                        height = _claimed_height(raw)
                    wb.delete(key)
                    if height is None:
                        dropped += 1
                    else:
                        wb.put(_block_key(prefix, height, block_hash), raw)
                        moved += 1
                        if moved % _MOVE_PROGRESS_EVERY == 0:
                            log.info("moving stored blocks: %d records moved", moved)
                    pending += len(raw)
                    if pending >= _MOVE_BATCH_BYTES:
                        wb.write()
                        wb, pending = self._db.write_batch(sync=True), 0
            if bump_schema:
                wb.put(_META_SCHEMA, str(SCHEMA_VERSION).encode())
            wb.write()
        except plyvel.Error as exc:
            raise self.failed(exc, writing=True) from exc
        log.info("moved %d block and undo records; dropped %d naming no height", moved, dropped)

    def sync(self) -> None:
        """Make every batch written without sync durable: LevelDB appends batches to one
        log in order, so one synced write (an empty batch) flushes all before it."""
        if self.unsynced and not self._db.closed:
            with self.batch():
                pass

    def close(self) -> None:
        if not self._db.closed:
            if self._broken is None:
                self.sync()
            self._db.close()

    # --- reads ---------------------------------------------------------------------

    def best_block(self) -> bytes | None:
        return self._get(_META_BEST)

    def index_records(self) -> Iterator[tuple[bytes, IndexRecord]]:
        for key, value in self._scan(_INDEX, bulk=True):
            yield key[1:], self._index_record(value)

    def _index_record(self, raw: bytes) -> IndexRecord:
        try:
            header, height, chainwork, status, ntx = msgpack.unpackb(raw)
            return IndexRecord(header, height, int.from_bytes(chainwork, "big"), status, ntx)
        except Exception as exc:  # any shape msgpack may hand back
            raise self.failed(ValueError(f"undecodable block index record: {exc}")) from exc

    def block(self, height: int, block_hash: bytes) -> Block | None:
        raw = self._get(_block_key(_BODY, height, block_hash))
        return None if raw is None else decode_block(raw)

    def block_raw(self, height: int, block_hash: bytes) -> bytes | None:
        return self._get(_block_key(_BODY, height, block_hash))

    def undo(self, height: int, block_hash: bytes) -> tuple[Coin, ...] | None:
        raw = self._get(_block_key(_UNDO, height, block_hash))
        return None if raw is None else decode_undo(raw)

    def height_of(self, block_hash: bytes) -> int | None:
        """The height in ``block_hash``'s index record, if it has one."""
        raw = self._get(_INDEX + block_hash)
        return None if raw is None else self._index_record(raw).height

    def get_coin(self, key: bytes) -> Coin | None:
        """The coin at ``key`` (txid || u32le(index)), read by an iterator's seek, not a
        point read: see ``_seek_read``."""
        raw = self._seek_read(_COIN + key)
        return None if raw is None else decode_coin(raw)

    def coins(self) -> Iterator[tuple[bytes, Coin]]:
        """Every coin, in key order (the order gettxoutsetinfo hashes them in)."""
        for key, value in self._scan(_COIN, bulk=True):
            yield key[1:], decode_coin(value)

    def tx_location(self, txid: bytes) -> tuple[bytes, int] | None:
        raw = self._get(_TXINDEX + txid)
        if raw is None:
            return None
        block_hash, position = msgpack.unpackb(raw)[:2]
        return block_hash, position

    def tx(self, txid: bytes) -> Tx | None:
        """The confirmed tx ``txid``, sliced out of its block's body by the tx index: one
        tx decoded, not its block (records older than the offsets decode the block)."""
        raw = self._get(_TXINDEX + txid)
        if raw is None:
            return None
        record = msgpack.unpackb(raw)
        height = self.height_of(record[0])
        body = None if height is None else self.block_raw(height, record[0])
        if body is None:
            return None
        if len(record) == 2:
            return decode_block(body).txs[record[1]]
        offset, length = record[2], record[3]
        return decode_tx(body[offset : offset + length])

    def address_coins(self, lock: bytes) -> Iterator[tuple[bytes, Coin]]:
        prefix = _ADDR_UTXO + lock
        for key, value in self._scan(prefix):
            yield key[len(prefix) :], decode_coin(value)

    def address_history(self, lock: bytes) -> Iterator[tuple[int, int, bytes]]:
        """(height, position in block, txid) of every confirmed tx touching ``lock``."""
        prefix = _ADDR_HIST + lock
        for key, _ in self._scan(prefix):
            rest = key[len(prefix) :]
            yield int.from_bytes(rest[:4], "big"), int.from_bytes(rest[4:8], "big"), rest[8:]

    def address_totals(self, lock: bytes) -> AddressTotals:
        raw = self._get(_ADDR_TOTALS + lock)
        return AddressTotals(*(msgpack.unpackb(raw) if raw else (0, 0, 0, 0)))

    def coin_stats(self) -> CoinStats:
        return _stats_from(self._get(_META_COINSTATS))

    def address_coin(self, lock: bytes, key: bytes) -> Coin | None:
        raw = self._get(_ADDR_UTXO + lock + key)
        return None if raw is None else decode_coin(raw)

    def address_history_page(
        self, lock: bytes, before: tuple[int, int] | None, count: int
    ) -> list[HistoryRow]:
        """Up to ``count`` history rows of ``lock``, newest first, older than the tx at
        (height, position) ``before`` when given: a page costs its own size."""
        prefix = _ADDR_HIST + lock
        if before is None:
            it = self._db.iterator(prefix=prefix, reverse=True, **_READ)
        else:
            stop = prefix + before[0].to_bytes(4, "big") + before[1].to_bytes(4, "big")
            it = self._db.iterator(start=prefix, stop=stop, reverse=True, **_READ)
        rows: list[HistoryRow] = []
        with it:
            for key, value in it:
                if len(rows) == count:
                    break
                rest = key[len(prefix) :]
                received, sent = msgpack.unpackb(value)
                height, position = int.from_bytes(rest[:4], "big"), int.from_bytes(rest[4:8], "big")
                rows.append(HistoryRow(height, position, rest[8:], received, sent))
        return rows

    def migrate_address_index(
        self, blocks: Iterable[tuple[int, Block, tuple[Coin, ...]]], progress: Callable[[int], None]
    ) -> None:
        """Rebuild the schema-1 address index's history values and totals from the active
        chain's (height, block, undo), in chain order, and the coin set stats from the
        coins. Rerunnable: the schema is bumped in the last batch only, so a kill leaves a
        datadir that migrates again."""
        totals: dict[bytes, list[int]] = {}
        wb = self._db.write_batch()
        for done, (height, block, undo) in enumerate(blocks, 1):
            for position, tx, spent in _per_tx(block, undo):
                hist = _hist_suffix(height, position, tx.txid)
                for lock, flow in _tx_flows(tx, spent).items():
                    wb.put(_ADDR_HIST + lock + hist, _pack(flow[:2]))
                    _add_delta(totals, lock, flow, 1)
            if done % 1000 == 0:
                wb.write()
                wb = self._db.write_batch()
                progress(done)
        for lock, delta in totals.items():
            wb.put(_ADDR_TOTALS + lock, _pack(delta))
        wb.put(_META_COINSTATS, _stats_value(self.scan_coin_stats()))
        wb.put(_META_SCHEMA, str(SCHEMA_VERSION).encode())
        wb.write()
        self.needs_migration = False

    def scan_coin_stats(self) -> CoinStats:
        """The coin set's stats from every coin: what the running record must equal."""
        muhash, txouts, total = MuHash(), 0, 0
        chunk: list[bytes] = []  # folded a few thousand at a time
        for key, coin in self.coins():
            chunk.append(coin_bytes(key, coin.value, coin.lock, coin.height, coin.coinbase))
            txouts += 1
            total += coin.value
            if len(chunk) == 4096:
                muhash.insert_all(chunk)
                chunk.clear()
        muhash.insert_all(chunk)
        return CoinStats(muhash, txouts, total)

    def mempool_txs(self) -> Iterator[Tx]:
        for _, value in self._scan(_MEMPOOL):
            yield decode_tx(value)

    def block_headers(
        self, on_bad: Callable[[bytes, Exception], None] | None = None
    ) -> Iterator[tuple[int, BlockHeader]]:
        """(height, header) of every stored block body, in height order (``--reindex``
        orders blocks by them). An undecodable body fails the scan, or with ``on_bad`` is
        reported and skipped."""
        for key, raw in self._scan(_BODY, bulk=True):
            try:
                if raw.startswith(_BODY_HEAD):
                    header = BlockHeader.deserialize(raw[3:83])
                else:
                    header = decode_block(raw).header
            except (ValueError, DecodeError) as exc:  # DecodeError is no ValueError
                if on_bad is None:
                    raise self.failed(ValueError(f"undecodable block body: {exc}")) from exc
                on_bad(key[5:], exc)
                continue
            yield int.from_bytes(key[1:5], "big"), header

    # --- writes --------------------------------------------------------------------

    def batch(self, after: Batch | None = None, sync: bool = True) -> Batch:
        """A batch to fill and write. Refused once a write has failed (LevelDB may have
        dropped records after it) and when free space is below the minimum. ``after``: a
        batch prepared before it and not yet written, whose address totals and coin set
        stats this one builds on. ``sync=False``: written to the OS, so a process that
        dies loses nothing, but a power cut may take it (and every unsynced batch after
        the last synced one) until ``sync`` runs; the database stays consistent either
        way, at an earlier batch."""
        if self._broken is not None:
            raise self._broken
        if self._min_free:
            free = shutil.disk_usage(self.path).free
            if free < self._min_free:
                raise self.failed(
                    StorageError(
                        f"disk space is too low for the database in {self.path}: "
                        f"{free // 1024} KiB free, {self._min_free // 1024} KiB needed. The "
                        "node stops before writing: free disk space, then restart it"
                    ),
                    writing=True,
                )
        return Batch(self._db.write_batch(transaction=True, sync=sync), self, after, sync)

    def wipe_chainstate(self, chunk: int = 10_000) -> int:
        """Delete everything but the blocks, the mempool journal and the identity (the
        start of ``--reindex``); the number of records deleted."""
        deleted = 0
        try:
            doomed = []
            for key in self._db.iterator(include_value=False, **_BULK_READ):
                if not key.startswith(_KEPT_BY_REINDEX):
                    doomed.append(key)
            for start in range(0, len(doomed), chunk):
                with self.batch() as batch:
                    for key in doomed[start : start + chunk]:
                        batch._wb.delete(key)
                deleted += len(doomed[start : start + chunk])
            # the chainstate is rebuilt by this code, in its own schema
            with self.batch() as batch:
                batch._wb.put(_META_SCHEMA, str(SCHEMA_VERSION).encode())
            self.needs_migration = False
        except plyvel.Error as exc:
            raise self.failed(exc, writing=True) from exc
        return deleted


def _opened_below(niceness: int, open_db: Callable[[], plyvel.DB]) -> plyvel.DB:
    """``open_db()``, with LevelDB's compaction thread ``niceness`` below this thread.

    LevelDB compacts in one thread per process, started by the first thread to schedule
    a compaction (opening a database may; a manual compaction always does), and on Linux
    a thread starts at its creator's priority. So the database is opened, and an empty
    key range compacted, by a short-lived thread that lowered its own priority first.
    Late in a long sync compaction takes two thirds of a core: at the node's priority it
    left the signature workers (nice 10) so little of the other that validation waited
    on them a third of the time. Elsewhere niceness is per process: opened here.
    """
    if not niceness or sys.platform != "linux":
        return open_db()

    def open_and_start() -> plyvel.DB:
        db = open_db()
        try:
            db.compact_range(start=_NO_KEYS, stop=_NO_KEYS)
        except BaseException:
            db.close()
            raise
        return db

    with ThreadPoolExecutor(1, "leveldb-open", _lower_priority, (niceness,)) as pool:
        return pool.submit(open_and_start).result()


def _lower_priority(niceness: int) -> None:
    with contextlib.suppress(OSError):  # lowering is always allowed; if not, run as is
        os.nice(niceness)


def repair(path: str) -> None:
    """LevelDB's repair: salvage what it can of a damaged database (``--repair``)."""
    read_tables_without_mmap()  # before LevelDB's first use in the process fixes the limit
    try:
        plyvel.repair_db(path, paranoid_checks=True)
    except plyvel.Error as exc:
        raise StorageError(f"cannot repair the database in {path}: {exc}") from exc


_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def _index_value(rec: IndexRecord) -> bytes:
    return msgpack.packb(
        [rec.header, rec.height, rec.chainwork.to_bytes(32, "big"), rec.status, rec.ntx],
        use_bin_type=True,
    )


class Batch:
    """One atomic write. Use as a context manager: written on exit, dropped on an error."""

    def __init__(
        self, wb: plyvel.WriteBatch, db: ChainDB, after: Batch | None, sync: bool = True
    ) -> None:
        self._wb = wb
        self._db = db
        self._after = after
        self._sync = sync
        self._pending: dict[bytes, bytes | None] = {}  # read-modify-written keys
        self.written = False

    def __enter__(self) -> Batch:
        self._wb.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wb.__exit__(*exc)
        except plyvel.Error as error:
            raise self._db.failed(error, writing=True) from error
        if exc[0] is None:
            self._written()

    def write(self) -> None:
        """Write now: for a batch not used as a context manager, prepared ahead of its
        verdict (a batch never written is simply dropped)."""
        try:
            self._wb.write()
        except plyvel.Error as error:
            raise self._db.failed(error, writing=True) from error
        self._written()

    def _written(self) -> None:
        # From now on the database holds these totals: later batches read them there.
        self.written = True
        self._db.unsynced = not self._sync
        self._pending = {}
        self._after = None

    def _read(self, key: bytes) -> bytes | None:
        """``key`` as it will be once the unwritten batches before this one are written."""
        batch: Batch | None = self
        while batch is not None and not batch.written:
            if key in batch._pending:
                return batch._pending[key]
            batch = batch._after
        return self._db._get(key)

    def _put_read(self, key: bytes, value: bytes | None) -> None:
        self._pending[key] = value
        if value is None:
            self._wb.delete(key)
        else:
            self._wb.put(key, value)

    def _apply_totals(self, deltas: dict[bytes, list[int]], sign: int) -> None:
        for lock, delta in deltas.items():
            raw = self._read(_ADDR_TOTALS + lock)
            old = msgpack.unpackb(raw) if raw else [0, 0, 0, 0]
            new = [o + sign * d for o, d in zip(old, delta, strict=True)]
            self._put_read(_ADDR_TOTALS + lock, _pack(new) if new[2] else None)

    def _apply_coin_stats(
        self, block: Block, height: int, undo: tuple[Coin, ...], sign: int
    ) -> None:
        """Fold the block's coins into the coin set stats: ``sign`` 1 connects (its new
        coins in, the coins it spent out), -1 disconnects. A coin created and spent in the
        block never was in the set, so it is left out of both sides."""
        created: dict[bytes, tuple[bytes, int]] = {}  # key -> (element bytes, value)
        for position, tx in enumerate(block.txs):
            for n, out in enumerate(tx.outputs):
                key = outpoint_key(tx.txid, n)
                raw = coin_bytes(key, out.value, out.lock, height, position == 0)
                created[key] = (raw, out.value)
        spent: list[tuple[bytes, int]] = []
        for _, tx, coins in _per_tx(block, undo):
            for inp, c in zip(tx.inputs, coins, strict=False):
                if created.pop(inp.outpoint_key, None) is None:
                    key = inp.outpoint_key
                    spent.append((coin_bytes(key, c.value, c.lock, c.height, c.coinbase), c.value))
        delta = MuHash()
        delta.insert_all(raw for raw, _ in created.values())
        delta.remove_all(raw for raw, _ in spent)
        if sign < 0:
            delta = MuHash(delta.denominator, delta.numerator)
        old = _stats_from(self._read(_META_COINSTATS))
        muhash = MuHash(old.muhash.numerator, old.muhash.denominator)
        muhash.combine(delta)
        change = len(created) - len(spent)
        value = sum(v for _, v in created.values()) - sum(v for _, v in spent)
        new = CoinStats(muhash, old.txouts + sign * change, old.total_amount + sign * value)
        self._put_read(_META_COINSTATS, _stats_value(new))

    def put_index(self, block_hash: bytes, rec: IndexRecord) -> None:
        self._wb.put(_INDEX + block_hash, _index_value(rec))

    def put_block(self, block: Block, height: int) -> None:
        self._wb.put(_block_key(_BODY, height, block.hash), block.serialize())

    def set_best(self, block_hash: bytes) -> None:
        self._wb.put(_META_BEST, block_hash)

    def put_mempool_tx(self, tx: Tx) -> None:
        self._wb.put(_MEMPOOL + tx.txid, tx.serialize())

    def delete_mempool_tx(self, txid: bytes) -> None:
        self._wb.delete(_MEMPOOL + txid)

    def _apply_coin_changes(self, changes: dict[bytes, Coin | None]) -> dict[bytes, bytes]:
        """Write the coin set's changes; return each written coin's encoding by key."""
        put, delete = self._wb.put, self._wb.delete
        encoded = {}
        for key, coin in changes.items():
            if coin is None:
                delete(_COIN + key)
            else:
                raw = encoded[key] = encode_coin(coin)
                put(_COIN + key, raw)
        return encoded

    def connect(
        self,
        block: Block,
        height: int,
        undo: tuple[Coin, ...],
        changes: dict[bytes, Coin | None],
    ) -> None:
        """Everything connecting a block changes: the coins (``changes``, from the view the
        block was validated against), undo data, tx index and address index.

        This runs for every tx of every block, in one pass: each new coin is encoded once
        for both its entries, an output spent later in the same block gets no address
        entry (its coin change is already a deletion) instead of a put and a delete, and
        the parts of keys and values shared by a whole block are built once.
        """
        encoded = self._apply_coin_changes(changes)
        put, delete = self._wb.put, self._wb.delete
        block_hash = block.hash
        put(_block_key(_UNDO, height, block_hash), encode_undo(undo))
        location = _TXINDEX_VALUE_HEAD + block_hash  # msgpack [bin32 block hash, position, ...]
        offset = _first_tx_offset(len(block.txs))
        height_be = height.to_bytes(4, "big")
        get_encoded = encoded.get
        deltas: dict[bytes, list[int]] = {}
        for position, tx, spent in _per_tx(block, undo):
            txid = tx.txid
            length = len(tx.serialize())
            put(_TXINDEX + txid, location + _pack(position) + _pack(offset) + _pack(length))
            offset += length
            for inp, coin in zip(tx.inputs, spent, strict=False):
                delete(_ADDR_UTXO + coin.lock + inp.outpoint_key)
            for n, out in enumerate(tx.outputs):
                key = txid + n.to_bytes(4, "little")
                raw = get_encoded(key)
                if raw is not None:
                    put(_ADDR_UTXO + out.lock + key, raw)
            hist = height_be + position.to_bytes(4, "big") + txid
            for lock, flow in _tx_flows(tx, spent).items():
                put(_ADDR_HIST + lock + hist, _pack(flow[:2]))
                _add_delta(deltas, lock, flow, 1)
        self._apply_totals(deltas, 1)
        self._apply_coin_stats(block, height, undo, 1)

    def disconnect(
        self,
        block: Block,
        height: int,
        undo: tuple[Coin, ...],
        changes: dict[bytes, Coin | None],
    ) -> None:
        """Reverse of ``connect``, tx by tx from the last, so that a coin created and
        spent inside the block ends up absent."""
        self._apply_coin_changes(changes)
        self._wb.delete(_block_key(_UNDO, height, block.hash))
        deltas: dict[bytes, list[int]] = {}
        for position, tx, spent in reversed(list(_per_tx(block, undo))):
            txid = tx.txid
            self._wb.delete(_TXINDEX + txid)
            for n, out in enumerate(tx.outputs):
                self._wb.delete(_ADDR_UTXO + out.lock + outpoint_key(txid, n))
            for inp, coin in zip(tx.inputs, spent, strict=False):
                self._wb.put(_ADDR_UTXO + coin.lock + inp.outpoint_key, encode_coin(coin))
            hist = _hist_suffix(height, position, txid)
            for lock, flow in _tx_flows(tx, spent).items():
                self._wb.delete(_ADDR_HIST + lock + hist)
                _add_delta(deltas, lock, flow, 1)
        self._apply_totals(deltas, -1)
        self._apply_coin_stats(block, height, undo, -1)


def _block_key(prefix: bytes, height: int, block_hash: bytes) -> bytes:
    return prefix + height.to_bytes(4, "big") + block_hash


def _claimed_height(raw: bytes) -> int | None:
    """The height a stored body's coinbase commits to, or None if it does not decode."""
    try:
        claim = decode_block(raw).txs[0].inputs[0].pubkey
    except (ValueError, DecodeError, IndexError):
        return None
    return int.from_bytes(claim, "little") if len(claim) == 4 else None


def _tx_flows(tx: Tx, spent: tuple[Coin, ...]) -> dict[bytes, list[int]]:
    """Per lock the tx touches: [received, sent, outputs to it, inputs from it]."""
    flows: dict[bytes, list[int]] = {}
    for coin in spent:
        flow = flows.setdefault(coin.lock, [0, 0, 0, 0])
        flow[1] += coin.value
        flow[3] += 1
    for out in tx.outputs:
        flow = flows.setdefault(out.lock, [0, 0, 0, 0])
        flow[0] += out.value
        flow[2] += 1
    return flows


def _add_delta(deltas: dict[bytes, list[int]], lock: bytes, flow: list[int], sign: int) -> None:
    """Add a tx's flow for ``lock`` to a block's change of its totals."""
    d = deltas.setdefault(lock, [0, 0, 0, 0])
    d[0] += sign * (flow[0] - flow[1])
    d[1] += sign * flow[0]
    d[2] += sign
    d[3] += sign * (flow[2] - flow[3])


def _hist_suffix(height: int, position: int, txid: bytes) -> bytes:
    return height.to_bytes(4, "big") + position.to_bytes(4, "big") + txid


def _first_tx_offset(ntx: int) -> int:
    """Where a block's first tx starts in its body: after the body's head, the 80-byte
    header and the msgpack array header of ``ntx`` txs."""
    return len(_BODY_HEAD) + 80 + (1 if ntx <= 15 else 3 if ntx <= 0xFFFF else 5)


def _per_tx(block: Block, undo: tuple[Coin, ...]) -> Iterator[tuple[int, Tx, tuple[Coin, ...]]]:
    """(position, tx, coins it spent) for each tx; the coinbase spent nothing."""
    at = 0
    for position, tx in enumerate(block.txs):
        if position == 0:
            yield 0, tx, ()
            continue
        n = len(tx.inputs)
        yield position, tx, undo[at : at + n]
        at += n
