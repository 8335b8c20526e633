"""The chain manager: the block index, the best chain, reorgs, orphans, invalid blocks.

Every header seen is in ``self.index`` with its height, cumulative work and status. The
active chain is the valid chain with the most work (ties: first seen). Connecting or
disconnecting a block is one atomic database batch that also moves the best-block marker.

All methods are synchronous and must run on one thread at a time (the node runs them on
its chain thread, off the event loop). Readers on other threads only read attributes that
are replaced whole (``tip``) or grow append-only (``index``, ``active``).
"""

from __future__ import annotations

import logging
import time as _time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import count

from consensus.builder import genesis_block
from consensus.coins import Coin, CoinView, CoinViewCache
from consensus.encoding import BlockDecoding
from consensus.errors import RejectCode, RuleError
from consensus.params import MEDIAN_TIME_SPAN, NetworkParams
from consensus.pow import ASERT_ANCHOR_HEIGHT, block_work, next_bits
from consensus.primitives import Block, BlockHeader, Tx
from consensus.validation import (
    BlockConnector,
    BlockUndo,
    Verifier,
    check_block,
    check_header,
    connect_block,
    contextual_check_header,
    disconnect_block,
    median_time_past,
    verify_sig_checks,
)

from ..verify.sigpool import PoolBatch, SigPool
from .coincache import DEFAULT_MAX_COINS, CoinCache
from .index import FAILED, FAILED_CHILD, FAILED_MASK, HAVE_DATA, VALID_CHAIN, BlockIndex
from .storage import Batch, ChainDB, IndexRecord, StorageError

log = logging.getLogger("obol.chain")


MAX_ORPHAN_BLOCKS = 64
# Bitcoin Core's -checklevel and -checkblocks defaults: the start-up check of the tip.
DEFAULT_CHECKLEVEL = 3
DEFAULT_CHECKBLOCKS = 6
# Blocks of a path in validation at once (``Chain._connect_path``): each block's
# signatures are verified by the workers while the next one is checked. On the 3,000-block
# sync profile, 2 and 4 measured the same (the machine's cores are then ~80% busy).
PIPELINE_DEPTH = 2
# Bodies stored but not yet connected are kept decoded, up to this many bytes of encoding
# (some five times that in memory), so connecting them does not read and decode them
# again: a block arrives and is connected at once, or a few blocks ahead during sync.
MAX_PENDING_BODY_BYTES = 4_000_000

# Failures that say the body does not match its header (a peer mangled it), not that the
# block is invalid: the header's hash must not be blacklisted for them.
_MUTATION_CODES = frozenset(
    {
        RejectCode.BLOCK_BAD_MERKLE_ROOT,
        RejectCode.BLOCK_OVERSIZE,
        RejectCode.DECODE_MALFORMED,
        RejectCode.DECODE_NONCANONICAL,
    }
)
# Failures that may pass later: a block from the future is not invalid forever.
_TRANSIENT_CODES = frozenset({RejectCode.BLOCK_TIME_TOO_NEW})


@dataclass(slots=True, eq=False)
class _Connecting:
    """A block checked against a coin view, its writes prepared, its signatures maybe
    still being verified: connected once ``Chain._finish_connect`` settles them."""

    entry: BlockIndex
    block: Block
    view: CoinViewCache
    batch: Batch
    sigs: PoolBatch | None
    started: float

    def abandon(self) -> None:
        """Drop it: the writes are never made, queued checks are cancelled."""
        if self.sigs is not None:
            self.sigs.cancel()


@dataclass(slots=True, eq=False)
class _Speculation:
    """A block's txs connected to the tip's coins while the block was still being decoded
    (``Chain.process_raw_block``), their signature checks already with the workers.
    ``_begin_connect`` adopts it if that block is then connected onto that tip; else, or
    once any rule fails (the block then goes the usual way), it is dropped."""

    block_hash: bytes
    view: CoinViewCache
    connector: BlockConnector
    sigs: PoolBatch
    failed: bool = False

    def add(self, tx: Tx) -> None:
        if self.failed:
            return
        try:
            self.connector.add(tx)
        except Exception:  # any rule, or a block check_block will refuse: the usual way
            self.failed = True
            self.sigs.cancel()

    def abandon(self) -> None:
        self.sigs.cancel()


@dataclass(frozen=True, slots=True)
class ChainUpdate:
    """What one call changed on the active chain, for the mempool, events and logs."""

    connected: tuple[Block, ...] = ()
    disconnected: tuple[Block, ...] = ()
    invalid: tuple[tuple[bytes, RuleError], ...] = ()

    @property
    def reorg_depth(self) -> int:
        return len(self.disconnected)

    def __add__(self, other: ChainUpdate) -> ChainUpdate:
        return ChainUpdate(
            self.connected + other.connected,
            self.disconnected + other.disconnected,
            self.invalid + other.invalid,
        )


@dataclass(frozen=True, slots=True)
class BlockResult:
    """The verdict on one submitted block."""

    status: str  # "accepted", "duplicate", "orphan", "invalid", "inconclusive"
    block_hash: bytes
    error: RuleError | None = None
    update: ChainUpdate = field(default_factory=ChainUpdate)


class Chain:
    def __init__(
        self,
        db: ChainDB,
        params: NetworkParams,
        *,
        clock: Callable[[], int] = lambda: int(_time.time()),
        verifier: Verifier = verify_sig_checks,
        on_connect: Callable[[Block, int, float], None] | None = None,
        coin_cache_size: int = DEFAULT_MAX_COINS,
        sig_pool: SigPool | None = None,
    ) -> None:
        """Blocks' signatures go through ``sig_pool`` when given, else ``verifier``."""
        self.db = db
        self.sig_pool = sig_pool
        self.coins = CoinCache(db.get_coin, coin_cache_size)
        self._pending_bodies: OrderedDict[bytes, Block] = OrderedDict()
        self._pending_bytes = 0
        self._unwritten: dict[bytes, Block] = {}  # bodies taken, not yet in the database
        self._speculation: _Speculation | None = None  # see process_raw_block
        self._sync_connects = True  # False while process_blocks connects peers' blocks
        self.params = params
        self.clock = clock
        self.verifier = verifier
        self.on_connect = on_connect
        self.index: dict[bytes, BlockIndex] = {}
        # A block's first child is on its entry; the others (forks, rare) are here.
        self._later_children: dict[bytes, list[BlockIndex]] = {}
        self.active: list[BlockIndex] = []
        self.orphans: OrderedDict[bytes, Block] = OrderedDict()
        self._seq = count()
        self._candidates: set[BlockIndex] = set()
        self._load()

    # --- loading -------------------------------------------------------------------

    def _load(self) -> None:
        records = sorted(self.db.index_records(), key=lambda kv: kv[1].height)
        if not records:
            self._init_genesis()
            return
        genesis_hash = genesis_block(self.params).hash
        for block_hash, rec in records:
            try:
                header = BlockHeader.deserialize(rec.header)
            except ValueError as exc:
                raise self._damaged(f"undecodable header in the block index: {exc}") from exc
            parent = self.index.get(header.prev_hash)
            if header.hash != block_hash or (parent is None and header.hash != genesis_hash):
                raise self._damaged(
                    f"block index entry {header.hash_hex} has no parent in the index"
                )
            entry = BlockIndex(
                header, rec.height, rec.chainwork, rec.status, rec.ntx, parent, next(self._seq)
            )
            self._add_entry(entry)
        best = self.db.best_block()
        if best not in self.index:
            marker = best[::-1].hex() if best else "missing"
            raise self._damaged(f"the best-block marker ({marker}) names a block not in the index")
        self._set_active(self.index[best])
        self._rebuild_candidates()
        if self.db.needs_migration:
            self._migrate_address_index()

    def _migrate_address_index(self) -> None:
        """Bring a schema-1 datadir's address index up to date: one pass over the active
        chain's blocks and undo data, logged every 1,000 blocks."""
        total = self.height
        log.info("upgrading the address index of %d blocks (once)", total)

        def blocks() -> Iterator[tuple[int, Block, tuple]]:
            for entry in self.active[1:]:
                block = self.db.block(entry.height, entry.hash)
                undo = self.db.undo(entry.height, entry.hash)
                if block is None or undo is None:
                    raise RuntimeError(f"block {entry.header.hash_hex} lacks its body or undo")
                yield entry.height, block, undo

        def progress(done: int) -> None:
            log.info("address index upgrade: %d of %d blocks", done, total)

        self.db.migrate_address_index(blocks(), progress)
        log.info("address index upgrade done")

    def _damaged(self, detail: str) -> StorageError:
        return StorageError(
            f"the chainstate in {self.db.path} is inconsistent: {detail}. Restart with "
            "--reindex to rebuild it from the stored blocks"
        )

    def _init_genesis(self) -> None:
        genesis = genesis_block(self.params)
        entry = BlockIndex(
            genesis.header,
            0,
            block_work(genesis.header.bits),
            HAVE_DATA | VALID_CHAIN,
            len(genesis.txs),
            None,
            next(self._seq),
        )
        with self.db.batch() as batch:
            batch.put_block(genesis, 0)
            batch.put_index(entry.hash, entry.record())
            batch.set_best(entry.hash)
        self._add_entry(entry)
        self._set_active(entry)

    def _add_entry(self, entry: BlockIndex) -> None:
        self.index[entry.hash] = entry
        parent = entry.parent
        if parent is None:
            return
        if parent.first_child is None:
            parent.first_child = entry
        else:
            self._later_children.setdefault(parent.hash, []).append(entry)

    def children(self, entry: BlockIndex) -> list[BlockIndex]:
        """The blocks indexed on top of ``entry``, in the order they were indexed."""
        first = entry.first_child
        if first is None:
            return []
        return [first, *self._later_children.get(entry.hash, ())]

    def _set_active(self, tip: BlockIndex) -> None:
        chain: list[BlockIndex] = []
        node: BlockIndex | None = tip
        while node is not None:
            chain.append(node)
            node = node.parent
        chain.reverse()
        self.active = chain

    # --- queries -------------------------------------------------------------------

    @property
    def tip(self) -> BlockIndex:
        return self.active[-1]

    @property
    def height(self) -> int:
        return len(self.active) - 1

    def at_height(self, height: int) -> BlockIndex | None:
        active = self.active
        return active[height] if 0 <= height < len(active) else None

    def contains(self, entry: BlockIndex) -> bool:
        return self.at_height(entry.height) is entry

    def median_time_past(self, entry: BlockIndex | None = None) -> int:
        node: BlockIndex | None = entry or self.tip
        times: list[int] = []
        while node is not None and len(times) < MEDIAN_TIME_SPAN:
            times.append(node.header.time)
            node = node.parent
        return median_time_past(times)

    def next_bits(self, parent: BlockIndex | None = None) -> int:
        parent = parent or self.tip
        anchor = (
            parent.ancestor(ASERT_ANCHOR_HEIGHT) if parent.height >= ASERT_ANCHOR_HEIGHT else None
        )
        anchor_time = anchor.header.time if anchor is not None else None
        return next_bits(self.params, parent.height, parent.header.time, anchor_time)

    def get_block(self, block_hash: bytes) -> Block | None:
        entry = self.index.get(block_hash)
        return None if entry is None else self.db.block(entry.height, block_hash)

    def get_block_raw(self, block_hash: bytes) -> bytes | None:
        """The block's stored encoding (what the p2p layer serves), not decoded."""
        entry = self.index.get(block_hash)
        return None if entry is None else self.db.block_raw(entry.height, block_hash)

    def get_undo(self, block_hash: bytes) -> tuple[Coin, ...] | None:
        """The coins the block spent, stored while it is on the active chain."""
        entry = self.index.get(block_hash)
        return None if entry is None else self.db.undo(entry.height, block_hash)

    def find_fork(self, entry: BlockIndex) -> BlockIndex:
        """The last block ``entry``'s chain shares with the active chain."""
        node: BlockIndex | None = entry.ancestor(min(entry.height, self.height))
        while node is not None and not self.contains(node):
            node = node.parent
        assert node is not None, "every chain starts at genesis"
        return node

    def locator(self, entry: BlockIndex | None = None) -> list[bytes]:
        """Block hashes going back exponentially, as Bitcoin's block locator."""
        node: BlockIndex | None = entry or self.tip
        hashes = []
        step = 1
        while node is not None:
            hashes.append(node.hash)
            if node.height == 0:
                break
            target = max(node.height - step, 0)
            node = node.ancestor(target) if not self.contains(node) else self.active[target]
            if len(hashes) >= 10:
                step *= 2
        return hashes

    def tips(self) -> Iterator[BlockIndex]:
        """Every block without children: the heads of the known branches."""
        for entry in self.index.values():
            if entry.first_child is None:
                yield entry

    # --- accepting headers and blocks ----------------------------------------------

    def accept_header(self, header: BlockHeader) -> BlockIndex:
        """Validate a header against its parent and index it (without its body). The
        record is not synced to disk: a header a power cut takes is asked for again, and
        the next synced write (its block's) makes it durable."""
        known = self.index.get(header.hash)
        if known is not None:
            if known.failed:
                raise RuleError(RejectCode.BLOCK_BAD_PREV, "block is known to be invalid")
            return known
        check_header(header, self.params)
        parent = self.index.get(header.prev_hash)
        if parent is None:
            raise LookupError("the header's parent is unknown")
        if parent.failed:
            raise RuleError(RejectCode.BLOCK_BAD_PREV, "the header's parent is invalid")
        contextual_check_header(
            header,
            expected_bits=self.next_bits(parent),
            median_time_past=self.median_time_past(parent),
            now=self.clock(),
            params=self.params,
        )
        entry = BlockIndex(
            header,
            parent.height + 1,
            parent.chainwork + block_work(header.bits),
            0,
            0,
            parent,
            next(self._seq),
        )
        with self.db.batch(sync=False) as batch:
            batch.put_index(entry.hash, entry.record())
        self._add_entry(entry)
        return entry

    def process_block(self, block: Block) -> BlockResult:
        """Accept a block from anywhere (miner, RPC, peer) and move to the best chain."""
        return self.process_blocks([block])[0]

    def process_raw_block(
        self,
        data: bytes,
        known: Mapping[bytes, Tx] | None = None,
        precheck: Callable[[Block], None] | None = None,
    ) -> BlockResult:
        """``process_block`` for a block still in its encoding (``decode_block``'s
        DecodeError if it is not one; ``known`` as there).

        When the block extends the tip, its txs are connected to the tip's coins as they
        are decoded, so that the signature workers start on its first txs while the last
        are still being decoded, instead of idling through the whole decode. That early
        work only stands if the block then passes every rule in the usual order
        (``check_block``, its header, the rest of ``connect_block``): on any failure it
        is dropped and the block gets the usual verdict the usual way. ``precheck`` may
        refuse the decoded block before anything is stored, by raising.
        """
        decoding = BlockDecoding(data, known=known)
        header, tip = decoding.header, self.tip
        speculation = None
        seen = self.index.get(header.hash)
        if (
            self.sig_pool is not None
            and header.prev_hash == tip.hash
            and (seen is None or not seen.have_data)
        ):
            view = CoinViewCache(self.coins)
            sigs = self.sig_pool.batch()
            mtp = self.median_time_past(tip)
            connector = BlockConnector(view, tip.height + 1, mtp, self.params, sigs=sigs)
            speculation = _Speculation(header.hash, view, connector, sigs)
        try:
            for tx in decoding.txs():
                if speculation is not None:
                    speculation.add(tx)
            block = decoding.block()
            if precheck is not None:
                precheck(block)
            if speculation is not None and not speculation.failed:
                self._speculation = speculation
            return self.process_blocks([block])[0]
        finally:
            self._speculation = None
            if speculation is not None:
                speculation.abandon()  # a no-op once adopted: its checks are settled

    def process_blocks(self, blocks: Sequence[Block], durable: bool = True) -> list[BlockResult]:
        """``process_block`` for each block, in order, moving to the best chain once for
        all of them: their bodies are stored first, so that a run of blocks (a sync hands
        over several at a time) connects as one path, each block's signatures verified
        while the next block is checked (``_connect_path``).

        ``durable=False`` (blocks from peers, which still have them): the blocks
        connected are written without waiting for the disk (``ChainDB.batch``), and the
        caller makes them durable later with ``db.sync``, as Core flushes its chainstate
        from time to time rather than after every block of a sync.

        A block's result carries its own entry of ``update.invalid``; the rest of the
        update (blocks connected and disconnected, other blocks found invalid) goes with
        the last stored block's result. A stored block whose ancestor fails as it
        connects is invalid (bad-prevblk), as it would be if it came after the verdict.
        """
        results: dict[int, BlockResult] = {}
        stored: list[tuple[int, BlockIndex]] = []
        for n, block in enumerate(blocks):
            taken = self._take_block(block)
            if isinstance(taken, BlockResult):
                results[n] = taken
            else:
                stored.append((n, taken))
        if stored:
            self._sync_connects = durable
            try:
                results.update(self._activate_stored(stored))
            finally:
                self._sync_connects = True
        return [results[n] for n in range(len(blocks))]

    def _activate_stored(self, stored: list[tuple[int, BlockIndex]]) -> dict[int, BlockResult]:
        """Move to the best chain once the blocks of ``stored`` (position, entry) have
        their bodies stored; each one's result by position."""
        try:
            update = self.activate_best_chain()
        finally:
            self._write_bodies()
        for _, entry in stored:
            update = update + self._process_orphans(entry.hash)
        own = {entry.hash for _, entry in stored}
        failures = dict(update.invalid)
        others = tuple((h, err) for h, err in update.invalid if h not in own)
        last = stored[-1][0]
        results = {}
        for n, entry in stored:
            error = failures.get(entry.hash)
            mine = ((entry.hash, error),) if error is not None else ()
            if n == last:
                part = ChainUpdate(update.connected, update.disconnected, others + mine)
            else:
                part = ChainUpdate(invalid=mine)
            if error is None and entry.failed:  # an ancestor failed as it connected
                error = RuleError(RejectCode.BLOCK_BAD_PREV, "the block's parent is invalid")
            if error is not None:
                results[n] = BlockResult("invalid", entry.hash, error, part)
            elif not self.contains(entry) and update.connected == ():
                results[n] = BlockResult("inconclusive", entry.hash, None, part)
            else:
                results[n] = BlockResult("accepted", entry.hash, None, part)
        return results

    def _take_block(self, block: Block) -> BlockResult | BlockIndex:
        """A block's checks before it may be connected: its verdict if it ends here
        (duplicate, invalid, orphan), else its index entry, with the body stored."""
        block_hash = block.hash
        known = self.index.get(block_hash)
        if known is not None and known.have_data:
            if known.failed:
                return BlockResult(
                    "invalid", block_hash, RuleError(RejectCode.BLOCK_BAD_PREV, "duplicate-invalid")
                )
            return BlockResult("duplicate", block_hash)
        try:
            check_block(block, self.params)
        except RuleError as err:
            if err.code not in _MUTATION_CODES and known is not None:
                self._mark_failed(known)
            return BlockResult("invalid", block_hash, err)
        if block.header.prev_hash not in self.index:
            self._add_orphan(block)
            return BlockResult("orphan", block_hash)
        try:
            entry = self.accept_header(block.header)
        except RuleError as err:
            if err.code not in _TRANSIENT_CODES and known is None:
                self._index_failed_header(block.header)
            return BlockResult("invalid", block_hash, err)
        self._store_body(entry, block)
        return entry

    def _index_failed_header(self, header: BlockHeader) -> None:
        parent = self.index.get(header.prev_hash)
        if parent is None or header.hash in self.index:
            return
        entry = BlockIndex(
            header,
            parent.height + 1,
            parent.chainwork + block_work(header.bits),
            FAILED,
            0,
            parent,
            next(self._seq),
        )
        with self.db.batch() as batch:
            batch.put_index(entry.hash, entry.record())
        self._add_entry(entry)

    def _store_body(self, entry: BlockIndex, block: Block) -> None:
        """Take a block's body. It is written with the batch that connects it, if that
        happens in this call (one LevelDB write per block instead of two), else by
        ``_write_bodies`` before the call returns."""
        entry.status |= HAVE_DATA
        entry.ntx = len(block.txs)
        self._unwritten[entry.hash] = block
        self._keep_body(block)
        # Bodies may arrive out of order (headers first, several peers): this block may
        # complete the branch of descendants whose bodies came earlier.
        tip_work = self.tip.chainwork
        stack = [entry]
        while stack:
            node = stack.pop()
            if node.failed or not node.have_data:
                continue
            if node.chainwork > tip_work:
                self._candidates.add(node)
            stack.extend(self.children(node))

    def _write_bodies(self) -> None:
        """Write the bodies taken but not written with a connection."""
        if not self._unwritten:
            return
        with self.db.batch() as batch:
            for block_hash, block in self._unwritten.items():
                batch.put_block(block, self.index[block_hash].height)
                batch.put_index(block_hash, self.index[block_hash].record())
        self._unwritten.clear()

    def _keep_body(self, block: Block) -> None:
        self._pending_bodies[block.hash] = block
        self._pending_bytes += block.size
        while self._pending_bytes > MAX_PENDING_BODY_BYTES:
            _, old = self._pending_bodies.popitem(last=False)
            self._pending_bytes -= old.size

    def _body(self, entry: BlockIndex) -> Block | None:
        block = self._pending_bodies.pop(entry.hash, None)
        if block is None:
            return self._unwritten.get(entry.hash) or self.db.block(entry.height, entry.hash)
        self._pending_bytes -= block.size
        return block

    def _add_orphan(self, block: Block) -> None:
        self.orphans[block.hash] = block
        while len(self.orphans) > MAX_ORPHAN_BLOCKS:
            self.orphans.popitem(last=False)

    def _process_orphans(self, parent_hash: bytes) -> ChainUpdate:
        update = ChainUpdate()
        queue = [parent_hash]
        while queue:
            parent = queue.pop()
            for orphan_hash, orphan in list(self.orphans.items()):
                if orphan.header.prev_hash == parent:
                    del self.orphans[orphan_hash]
                    result = self.process_block(orphan)
                    update = update + result.update
                    queue.append(orphan_hash)
        return update

    # --- choosing and switching chains ---------------------------------------------

    def _rebuild_candidates(self) -> None:
        tip_work = self.tip.chainwork
        self._candidates = {
            e
            for e in self.index.values()
            if e.have_data and not e.failed and e.chainwork > tip_work
        }

    def _best_candidate(self) -> BlockIndex | None:
        """The most-work block whose whole branch has data and is not known invalid."""
        while self._candidates:
            best = max(self._candidates, key=lambda e: (e.chainwork, -e.seq))
            if best.chainwork <= self.tip.chainwork:
                self._candidates.clear()
                return None
            node: BlockIndex | None = best
            usable = True
            while node is not None and not self.contains(node):
                if node.failed or not node.have_data:
                    usable = False
                    break
                node = node.parent
            if usable:
                return best
            self._candidates.discard(best)
        return None

    def activate_best_chain(self) -> ChainUpdate:
        update = ChainUpdate()
        while True:
            best = self._best_candidate()
            if best is None:
                return update
            fork = self.find_fork(best)
            disconnected = []
            while self.tip is not fork:
                disconnected.append(self._disconnect_tip())
            path = []
            node: BlockIndex | None = best
            while node is not fork:
                assert node is not None  # fork is an ancestor of best
                path.append(node)
                node = node.parent
            path.reverse()
            connected: list[Block] = []
            invalid = self._connect_path(path, connected)
            self._candidates.discard(best)
            self._rebuild_candidates_after_switch(disconnected)
            update = update + ChainUpdate(tuple(connected), tuple(disconnected), invalid)

    def _rebuild_candidates_after_switch(self, disconnected: list[Block]) -> None:
        # Blocks we left stay candidates: if the new branch fails they are the way back.
        for block in disconnected:
            entry = self.index[block.hash]
            if not entry.failed:
                self._candidates.add(entry)
        tip_work = self.tip.chainwork
        self._candidates = {e for e in self._candidates if e.chainwork > tip_work and not e.failed}

    def _connect_path(
        self, path: list[BlockIndex], connected: list[Block]
    ) -> tuple[tuple[bytes, RuleError], ...]:
        """Connect ``path`` (the first block's parent is the tip, each next block's parent
        the one before) up to its first invalid block, appending each block connected to
        ``connected``; the invalid block and its error, if any.

        Pipelined ``PIPELINE_DEPTH`` blocks deep: the next blocks are checked against the
        views of the ones before, their signatures queued and their writes prepared while
        the workers still verify the earlier blocks'. A block is written (with the
        best-block marker) only once its signatures pass, so the database only ever holds
        fully validated blocks; if it fails, the work on the blocks after it is dropped
        unwritten and their queued checks cancelled. Blocks are judged in order, so the
        first invalid block is the one reported.
        """
        pending: deque[_Connecting] = deque()
        try:
            for entry in path:
                base = pending[-1].view if pending else self.coins
                after = pending[-1].batch if pending else None
                try:
                    current = self._begin_connect(entry, base, after)
                except RuleError as err:
                    while pending:  # the blocks before are judged first
                        failure = self._finish_connect(pending.popleft(), connected)
                        if failure:
                            return failure
                    return self._failed(entry, err)
                pending.append(current)
                if len(pending) == PIPELINE_DEPTH:
                    failure = self._finish_connect(pending.popleft(), connected)
                    if failure:
                        return failure
            while pending:
                failure = self._finish_connect(pending.popleft(), connected)
                if failure:
                    return failure
            return ()
        finally:
            for dropped in pending:
                dropped.abandon()

    def _begin_connect(
        self, entry: BlockIndex, base: CoinView, after: Batch | None = None
    ) -> _Connecting:
        """Check ``entry``'s block against ``base`` (the coins after its parent; ``after``
        the parent's batch if still unwritten), queue its signature checks and prepare its
        writes. RuleError for any rule but the
        signatures, which ``_finish_connect`` settles."""
        started = _time.perf_counter()
        block = self._body(entry)
        if block is None:
            raise RuntimeError(f"block {entry.header.hash_hex} has no stored body")
        record = entry.record()
        record = replace(record, status=record.status | VALID_CHAIN)
        # Early work on this block (process_raw_block) counts only if done on the same coins.
        speculation, self._speculation = self._speculation, None
        if speculation is not None and (
            speculation.block_hash != entry.hash or base is not self.coins
        ):
            speculation.abandon()
            speculation = None
        sigs: PoolBatch | None
        if speculation is not None:
            view, sigs = speculation.view, speculation.sigs
        else:
            view = CoinViewCache(base)
            sigs = self.sig_pool.batch() if self.sig_pool is not None else None
        try:
            if speculation is not None:
                undo = speculation.connector.finish()
            else:
                mtp = self.median_time_past(entry.parent)
                undo = connect_block(
                    block, view, entry.height, mtp, self.params, self.verifier, sigs
                )
            if sigs is not None:
                sigs.send_rest()
            batch = self.db.batch(after, sync=self._sync_connects)
            self._connect_writes(
                batch, block, entry, record, undo, view, entry.hash in self._unwritten
            )
        except BaseException:
            if sigs is not None:
                sigs.cancel()
            raise
        return _Connecting(entry, block, view, batch, sigs, started)

    def _finish_connect(
        self, connecting: _Connecting, connected: list[Block]
    ) -> tuple[tuple[bytes, RuleError], ...]:
        """Settle a block's signatures; if they pass, write it and make it the tip (and
        append it to ``connected``), else mark it failed and return it with its error."""
        entry, block = connecting.entry, connecting.block
        if connecting.sigs is not None:
            try:
                connecting.sigs.finish()
            except RuleError as err:
                return self._failed(entry, err)
        connecting.batch.write()
        self._unwritten.pop(entry.hash, None)
        entry.status |= VALID_CHAIN
        self.coins.apply(connecting.view.changes)
        self.active.append(entry)
        connected.append(block)
        if self.on_connect is not None:
            self.on_connect(block, entry.height, _time.perf_counter() - connecting.started)
        return ()

    def _failed(self, entry: BlockIndex, err: RuleError) -> tuple[tuple[bytes, RuleError], ...]:
        log.warning("block %s invalid: %s", entry.header.hash_hex, err)
        self._mark_failed(entry)
        return ((entry.hash, err),)

    @staticmethod
    def _connect_writes(
        batch: Batch,
        block: Block,
        entry: BlockIndex,
        record: IndexRecord,
        undo: BlockUndo,
        view: CoinViewCache,
        with_body: bool,
    ) -> None:
        if with_body:
            batch.put_block(block, entry.height)
        batch.connect(block, entry.height, undo, view.changes)
        batch.put_index(entry.hash, record)
        batch.set_best(entry.hash)

    def _disconnect_tip(self) -> Block:
        entry = self.tip
        if entry.height == 0:
            raise RuntimeError("cannot disconnect the genesis block")
        block = self.db.block(entry.height, entry.hash)
        undo = self.db.undo(entry.height, entry.hash)
        if block is None or undo is None:
            raise RuntimeError(f"block {entry.header.hash_hex} lacks its body or undo data")
        view = CoinViewCache(self.coins)
        disconnect_block(block, undo, view)
        with self.db.batch() as batch:
            batch.disconnect(block, entry.height, undo, view.changes)
            batch.set_best(entry.header.prev_hash)
        self.coins.apply(view.changes)
        self.active.pop()
        return block

    # --- consistency check (verifychain) -------------------------------------------

    def verify(self, level: int = DEFAULT_CHECKLEVEL, nblocks: int = DEFAULT_CHECKBLOCKS) -> str:
        """Bitcoin Core's VerifyDB: check the last ``nblocks`` blocks of the active chain
        (0: all), more thoroughly at each ``level``: 0 their bodies are stored, 1 they pass
        check_block, 2 their undo data is stored, 3 disconnecting them from the coin set
        (in memory) finds every coin where it should be, 4 connecting them again gives
        the coin set back. The first inconsistency found, or "" if none."""
        tip_height = self.height
        nblocks = tip_height if nblocks <= 0 else min(nblocks, tip_height)
        view = CoinViewCache(self.coins)
        checked: list[tuple[BlockIndex, Block]] = []
        for entry in reversed(self.active[tip_height - nblocks + 1 :]):
            where = f"block {entry.header.hash_hex} at height {entry.height}"
            try:
                block = self.db.block(entry.height, entry.hash)
                if block is None or block.hash != entry.hash:
                    return f"{where} has no stored body"
                if level >= 1:
                    check_block(block, self.params)
                undo = self.db.undo(entry.height, entry.hash) if level >= 2 else ()
                if undo is None:
                    return f"{where} has no undo data"
                if level >= 3:
                    disconnect_block(block, undo, view, check_height=entry.height)
            except (RuleError, ValueError) as exc:
                return f"{where}: {exc}"
            checked.append((entry, block))
        if level >= 4:
            for entry, block in reversed(checked):
                mtp = self.median_time_past(entry.parent)
                try:
                    connect_block(block, view, entry.height, mtp, self.params, self.verifier)
                except RuleError as exc:
                    return f"block {entry.header.hash_hex} does not connect again: {exc}"
            for key in view.changes:
                if view.get_coin(key) != self.coins.get_coin(key):
                    outpoint = f"{key[:32][::-1].hex()}:{int.from_bytes(key[32:], 'little')}"
                    return f"coin {outpoint} differs from the one its blocks create"
        return ""

    # --- invalid blocks ------------------------------------------------------------

    def _descendants(self, entry: BlockIndex) -> Iterator[BlockIndex]:
        stack = self.children(entry)
        while stack:
            child = stack.pop()
            yield child
            stack.extend(self.children(child))

    def _mark_failed(self, entry: BlockIndex) -> None:
        with self.db.batch() as batch:
            entry.status |= FAILED
            batch.put_index(entry.hash, entry.record())
            for child in self._descendants(entry):
                child.status |= FAILED_CHILD
                batch.put_index(child.hash, child.record())
        self._candidates = {e for e in self._candidates if not e.failed}

    def invalidate_block(self, block_hash: bytes) -> ChainUpdate:
        """Mark a block invalid (as Bitcoin Core's invalidateblock) and move off it."""
        entry = self.index.get(block_hash)
        if entry is None:
            raise KeyError("block not found")
        if entry.height == 0:
            raise ValueError("the genesis block cannot be invalidated")
        disconnected = []
        while self.contains(entry):
            disconnected.append(self._disconnect_tip())
        self._mark_failed(entry)
        self._rebuild_candidates()
        return ChainUpdate(disconnected=tuple(disconnected)) + self.activate_best_chain()

    def reconsider_block(self, block_hash: bytes) -> ChainUpdate:
        """Clear the failure marks of a block, its descendants and ancestors; re-select."""
        entry = self.index.get(block_hash)
        if entry is None:
            raise KeyError("block not found")
        with self.db.batch() as batch:
            for node in [entry, *self._descendants(entry)]:
                if node.status & FAILED_MASK:
                    node.status &= ~FAILED_MASK
                    batch.put_index(node.hash, node.record())
            ancestor = entry.parent
            while ancestor is not None:
                if ancestor.status & FAILED_MASK:
                    ancestor.status &= ~FAILED_MASK
                    batch.put_index(ancestor.hash, ancestor.record())
                ancestor = ancestor.parent
        self._rebuild_candidates()
        return self.activate_best_chain()
