"""The node, wired together in exactly one place.

``Node`` owns the database, the chain (run on one dedicated thread, so validation and
LevelDB never stall the event loop), the mempool, the signature cache, the miner and the
HTTP server, and starts and stops them in order. Every other module receives what it
needs from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from consensus.address import decode_address
from consensus.builder import solve_header
from consensus.errors import RuleError
from consensus.hashing import hash_to_hex
from consensus.primitives import Block, Tx, outpoint_key
from p2p.config import P2PSettings, PeerManagerConfig
from p2p.manager import PeerManager
from p2p.tasks import cancel_and_wait, start_supervised
from wallet.errors import WalletError

from . import fdbudget
from .chain.manager import BlockResult, Chain, ChainUpdate
from .chain.reindex import reindex
from .chain.storage import ChainDB, StorageError
from .chain.storage import repair as repair_db
from .clock import Clock
from .config import NodeConfig, make_private_dirs
from .crowdfund.campaigns import Campaigns
from .crowdfund.store import StoreError
from .events import EventBus
from .memory import release_free_memory
from .mempool.journal import MempoolJournal
from .mempool.policy import Policy, PolicyError
from .mempool.pool import Mempool, MempoolConfig, MempoolEntry
from .metrics import NodeMetrics
from .mining.miner import BlockTemplate, PowSolver, build_template
from .rpc.auth import Authenticator
from .rpc.registry import RpcRegistry
from .rpc.server import RpcServer
from .verify.sigcache import SigCache
from .verify.sigpool import WORKER_NICENESS, SigPool
from .wallets.manager import WalletManager
from .web import install as install_web

log = logging.getLogger("obol.node")
SHUTDOWN_TIMEOUT = 20
SYNC_DELAY = 1.0  # seconds a peer's connected block may stay in the OS's cache, unsynced
T = TypeVar("T")


class NodeError(Exception):
    """The node cannot start (bad datadir, port in use...): a one-line reason."""


@dataclass(frozen=True, slots=True)
class _RawBlock:
    """A block submitted in its encoding, waiting for the chain thread."""

    data: bytes
    precheck: Callable[[Block], None] | None


@dataclass(frozen=True, slots=True)
class _Queued:
    """A block waiting for the chain thread; ``durable``: written to disk before its
    verdict (False for peers' blocks, see ``SYNC_DELAY``)."""

    item: Block | _RawBlock
    durable: bool


class Node:
    def __init__(self, config: NodeConfig, policy: Policy | None = None) -> None:
        self.config = config
        self.params = config.params
        self.policy = policy or Policy()
        self.clock = Clock()
        self.events = EventBus()
        self.metrics = NodeMetrics()
        self.started_at = time.monotonic()
        self.sigcache = SigCache()
        self.sig_pool = SigPool(self.sigcache)
        self._chain_thread = ThreadPoolExecutor(1, thread_name_prefix="chain")
        self._lock = asyncio.Lock()
        # Blocks waiting for the chain thread, and the tasks handing them over (see
        # ``submit_block``).
        self._block_queue: list[tuple[_Queued, asyncio.Future[BlockResult]]] = []
        self._sync_handle: asyncio.TimerHandle | None = None  # the pending ``_sync_soon``
        self._block_drains: set[asyncio.Task[None]] = set()
        self._stop_requested = asyncio.Event()
        self._closed = False
        self.stop_stage = ""  # what stop() is waiting for, to name it if it hangs
        self.export_dir: Path | None = None  # where exportchain last wrote (the charts read it)
        self.export_lock = asyncio.Lock()  # one export at a time: two into one folder would mix
        self._miner_task: asyncio.Task[None] | None = None
        self.db: ChainDB | None = None
        self.chain: Chain
        self.mempool: Mempool
        self.solver = PowSolver(workers=max(1, config.mine_workers))
        self.rpc: RpcServer
        self.p2p: PeerManager | None = None
        self.registry = RpcRegistry()
        self.fatal_error: str | None = None  # why the node stopped itself, if it did

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        self._loop = asyncio.get_running_loop()
        make_private_dirs(cfg.netdir)
        try:
            budget = fdbudget.plan(fdbudget.raise_limit())
        except fdbudget.TooFewDescriptors as exc:
            raise NodeError(str(exc)) from exc
        log.info("%s", budget.describe())
        self.sig_pool.start()
        await self._open_storage(budget)
        self.mempool = self._make_mempool()
        self.journal = MempoolJournal(self.chain.db)
        await self._restore_mempool()
        self.campaigns = Campaigns(self)
        try:
            await self.campaigns.start()
        except StoreError as exc:
            raise NodeError(str(exc)) from exc
        self.wallets = WalletManager(self)
        try:
            await self.wallets.start()
        except WalletError as exc:
            raise NodeError(f"wallet: {exc}") from exc
        self.p2p = self._make_peer_manager(budget)
        from .rpc.methods import register_all

        register_all(self.registry, self)
        self.rpc = self._make_rpc_server(budget)
        install_web(self.rpc.app, self)
        await self._listen()
        self.solver.start()
        if cfg.mine_address:
            self.set_mining(decode_address(cfg.mine_address, self.params))
        elif cfg.auto_mine_interval:
            self.set_mining(None, cfg.auto_mine_interval)
        log.info(
            "obol node started: network=%s height=%d tip=%s",
            self.params.name,
            self.chain.height,
            self.chain.tip.header.hash_hex,
        )

    def _make_mempool(self) -> Mempool:
        return Mempool(
            MempoolConfig(
                params=self.params,
                policy=self.policy,
                fetch_coin=self.chain.coins.get_coin,
                tip_height=lambda: self.chain.height,
                median_time_past=lambda: self.chain.median_time_past(),
                clock=lambda: float(self.clock.now()),
                verifier=self.sigcache.verifier,
                on_verified=self.sigcache.add_tx,
            )
        )

    def _make_peer_manager(self, budget: fdbudget.FdBudget) -> PeerManager:
        cfg = self.config
        return PeerManager(
            PeerManagerConfig(
                params=self.params,
                datadir=cfg.netdir,
                chain=self.chain,
                run_chain=self.in_chain_thread,
                submit_block=lambda block: self.submit_block(block, durable=False),
                submit_tx=lambda tx: self.submit_tx(tx, allow_orphan=True),
                policy_error=PolicyError,
                mempool_tx=lambda txid: e.tx if (e := self.mempool.get(txid)) else None,
                have_tx=lambda txid: txid in self.mempool or self.mempool.has_orphan(txid),
                mempool_txids=lambda: self.mempool.txids(),
                clock=self.clock.now,
                publish=self.events.publish,
                bind=cfg.p2p_bind,
                port=cfg.effective_p2p_port,
                listen=cfg.listen,
                connect=cfg.connect,
                settings=P2PSettings(max_connections=budget.p2p, header_timeout=cfg.header_timeout),
            )
        )

    def _make_rpc_server(self, budget: fdbudget.FdBudget) -> RpcServer:
        cfg = self.config
        if cfg.rpc_user and cfg.rpc_password:
            auth = Authenticator.with_password(cfg.rpc_user, cfg.rpc_password)
        else:
            auth = Authenticator.with_cookie(cfg.cookie_path)
        return RpcServer(
            self.registry,
            auth=auth,
            host=cfg.rpc_bind,
            port=cfg.effective_rpc_port,
            on_call=self.metrics.rpc_call,
            max_connections=budget.rpc,
            header_timeout=cfg.header_timeout,
        )

    async def _listen(self) -> None:
        """Open the RPC and P2P ports; a port in use is the one-line NodeError."""
        cfg = self.config
        try:
            await self.rpc.start()
        except OSError as exc:
            raise NodeError(
                f"cannot listen for RPC on {cfg.rpc_bind}:{cfg.effective_rpc_port}: {exc.strerror}"
            ) from exc
        assert self.p2p is not None  # made by start() before it listens
        try:
            await self.p2p.start()
        except OSError as exc:
            raise NodeError(
                f"cannot listen for peers on {cfg.p2p_bind}:{cfg.effective_p2p_port}: "
                f"{exc.strerror}"
            ) from exc

    async def _open_storage(self, budget: fdbudget.FdBudget) -> None:
        """The database (repaired first with ``--repair``) and the chain on it; any
        storage problem becomes the one-line NodeError the user sees."""
        cfg = self.config
        db_path = str(cfg.netdir / "db")
        try:
            if cfg.repair:
                log.info("repairing the database in %s", db_path)
                await self.in_chain_thread(repair_db, db_path)
            self.db = await self.in_chain_thread(
                ChainDB,
                db_path,
                self.params.name,
                self._storage_failed,
                cfg.min_free_mb * 1024 * 1024,
                budget.database,
                cfg.leveldb_cache_bytes,
                compaction_niceness=WORKER_NICENESS,  # below validation, beside the workers
            )
            if self.db.tables_mapped:
                log.warning(
                    "database: LevelDB maps its table files into memory (its switch to "
                    "read them with pread was not found): resident memory will grow "
                    "past --dbcache with the chainstate"
                )
            self.chain = await self.in_chain_thread(self._open_chain)
        except StorageError as exc:
            raise NodeError(str(exc)) from exc

    def _open_chain(self) -> Chain:
        """The chain, rebuilt first if asked (``--reindex``), its tip checked against its
        blocks and the coin set (Core's -checkblocks), on its best valid chain (a kill
        during invalidateblock may have left it half-way)."""
        assert self.db is not None
        db = self.db

        def open_chain() -> Chain:
            return Chain(
                db,
                self.params,
                clock=self.clock.now,
                verifier=self.sigcache.block_verifier,
                on_connect=self._on_connect,
                sig_pool=self.sig_pool,
                coin_cache_size=self.config.coin_cache_coins,
            )

        if self.config.reindex:
            return reindex(db, open_chain)
        chain = open_chain()
        problem = chain.verify()
        if problem:
            raise StorageError(
                f"the chainstate in {db.path} does not match its blocks: {problem}. "
                "Restart with --reindex to rebuild it from the stored blocks"
            )
        chain.activate_best_chain()
        return chain

    def _storage_failed(self, error: StorageError) -> None:
        """The database failed (any thread): stop, as Core's AbortNode, so that nothing
        is acknowledged past a write LevelDB may not have kept."""
        if self.fatal_error is None:
            self.fatal_error = str(error)
            log.error("stopping: %s", error)
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop_requested.set)

    async def stop(self) -> None:
        """Stop in reverse order of start; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop_requested.set()
        self.stop_stage = "peers"
        if self.p2p is not None:
            await self.p2p.stop()
        self.stop_stage = "miner"
        miner, self._miner_task = self._miner_task, None
        if miner is not None:
            await cancel_and_wait([miner], log)
        self.stop_stage = "rpc"
        if hasattr(self, "rpc"):
            await self.rpc.stop()
        self.stop_stage = "blocks being connected"
        if self._block_drains:
            await asyncio.wait(self._block_drains)
        if self._sync_handle is not None:
            self._sync_handle.cancel()  # closing the database syncs it
            self._sync_handle = None
        self.stop_stage = "worker pools"
        await self.solver.stop()
        await self.sig_pool.stop()
        self.stop_stage = "wallets"
        if hasattr(self, "wallets"):
            await self.wallets.stop()
        if hasattr(self, "campaigns"):
            await self.campaigns.stop()
        self.stop_stage = "database"
        if hasattr(self, "journal"):
            with contextlib.suppress(StorageError):  # already reported: nothing more to do
                await self.journal.flushed()
        if self.db is not None:
            await self.in_chain_thread(self.db.close)
        self._chain_thread.shutdown(wait=True)
        self.stop_stage = "stopped"
        log.info("obol node stopped")

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def wait_stopped(self) -> None:
        await self._stop_requested.wait()

    async def in_chain_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._chain_thread, lambda: fn(*args, **kwargs))

    # --- blocks --------------------------------------------------------------------

    async def submit_block(self, block: Block, durable: bool = True) -> BlockResult:
        """Validate a block and move to the best chain; the verdict.

        Blocks submitted while the chain thread is busy queue up and go over to it
        together, in order, in one call: during a sync the chain thread goes from one
        block to the next without waiting for the event loop in between. The work runs
        in a task of its own, so a caller that goes away never leaves a block half
        applied (the chain changed, the mempool not yet).

        ``durable``: the block is on disk (synced) before the verdict, as a block mined
        here or handed over by RPC must be. Peers' blocks (``durable=False``) are written
        to the OS only, and synced at most ``SYNC_DELAY`` seconds later: a sync of many
        small blocks would otherwise wait for the disk after each one, and a power cut
        can lose only blocks the peers still have (a process that dies loses nothing)."""
        return await self._submit(_Queued(block, durable))

    async def submit_raw_block(
        self, data: bytes, precheck: Callable[[Block], None] | None = None
    ) -> BlockResult:
        """``submit_block`` for a block in its encoding (submitblock's): decoded on the
        chain thread as its first txs are validated (``Chain.process_raw_block``).
        DecodeError if it is not a block; whatever ``precheck`` raises to refuse the
        decoded block before anything is stored."""
        return await self._submit(_Queued(_RawBlock(data, precheck), True))

    async def _submit(self, item: _Queued) -> BlockResult:
        done = asyncio.get_running_loop().create_future()
        self._block_queue.append((item, done))
        if len(self._block_queue) == 1:  # else a drain waiting for the lock takes it too
            task = asyncio.create_task(self._drain_blocks())
            self._block_drains.add(task)
            task.add_done_callback(self._block_drains.discard)
        result = await asyncio.shield(done)
        if result.error is not None:
            block_hex = hash_to_hex(result.block_hash)
            log.info("block %s rejected: %s", block_hex, result.error.code.value)
        return result

    async def _drain_blocks(self) -> None:
        async with self._lock:
            queued, self._block_queue = self._block_queue, []
            try:
                results = await self.in_chain_thread(
                    self._process_queued, [item for item, _ in queued]
                )
            except asyncio.CancelledError:
                for _, done in queued:
                    done.cancel()
                raise
            except Exception as exc:  # a database failure: every caller sees it
                for _, done in queued:
                    done.set_exception(exc)
                return
            for (_, done), result in zip(queued, results, strict=True):
                if isinstance(result, Exception):
                    done.set_exception(result)
                    continue
                try:
                    self._apply_update(result.update)
                except Exception as exc:  # the caller sees it, as if it ran this itself
                    done.set_exception(exc)
                else:
                    done.set_result(result)
            if self.db is not None and self.db.unsynced and self._sync_handle is None:
                loop = asyncio.get_running_loop()
                self._sync_handle = loop.call_later(SYNC_DELAY, self._sync_soon)

    def _sync_soon(self) -> None:
        """Sync what peers' blocks wrote (``submit_block``), on the chain thread."""
        self._sync_handle = None
        task = asyncio.create_task(self.in_chain_thread(self._sync_db))
        self._block_drains.add(task)
        task.add_done_callback(self._block_drains.discard)

    def _sync_db(self) -> None:
        if self.db is not None:
            with contextlib.suppress(StorageError):  # reported by the write that failed
                self.db.sync()
        release_free_memory()  # what the blocks since the last sync freed (node/memory.py)

    def _process_queued(self, items: list[_Queued]) -> list[BlockResult | Exception]:
        """On the chain thread: each queued block's verdict, in order, runs of decoded
        blocks together (durable if any of them must be). A block in its encoding that
        is not one, or that its precheck refuses, has that exception for a verdict."""
        results: list[BlockResult | Exception] = []
        run: list[Block] = []
        durable = False

        def connect_run() -> None:
            nonlocal durable
            results.extend(self.chain.process_blocks(run, durable))
            run.clear()
            durable = False

        for queued in items:
            item = queued.item
            if isinstance(item, Block):
                run.append(item)
                durable = durable or queued.durable
                continue
            connect_run()
            try:
                known = self.mempool.by_encoding
                results.append(self.chain.process_raw_block(item.data, known, item.precheck))
            except Exception as exc:  # its caller's to raise
                results.append(exc)
        connect_run()
        return results

    async def chain_call(self, fn: Callable[..., ChainUpdate], *args: Any) -> ChainUpdate:
        """Run a chain-changing call (invalidate, reconsider) and update the mempool."""
        async with self._lock:
            update = await self.in_chain_thread(fn, *args)
            self._apply_update(update)
        return update

    def _on_connect(self, block: Block, height: int, seconds: float) -> None:
        self.metrics.block_connected(len(block.txs), seconds)
        log.info(
            "UpdateTip: height=%d hash=%s txs=%d ms=%.1f",
            height,
            block.hash_hex,
            len(block.txs),
            seconds * 1000,
        )

    def _publish_reorg(self, update: ChainUpdate) -> None:
        """The reorg event: its depth, the old and new tips, and the fork point (the last
        block both branches share)."""
        fork = self.chain.index[update.disconnected[-1].header.prev_hash]
        self.events.publish(
            "reorg",
            {
                "depth": update.reorg_depth,
                "tip": self.chain.tip.header.hash_hex,
                "old_tip": update.disconnected[0].hash_hex,
                "fork_hash": fork.header.hash_hex,
                "fork_height": fork.height,
            },
        )

    def _apply_update(self, update: ChainUpdate) -> None:
        """Bring the mempool, the persisted mempool and the event stream up to date."""
        if not update.connected and not update.disconnected:
            return
        if update.disconnected:
            log.info(
                "Reorg: depth=%d disconnected=%s",
                update.reorg_depth,
                ",".join(b.hash_hex for b in update.disconnected),
            )
        for block in update.disconnected:
            height = self.chain.index[block.hash].height
            self.events.publish("block_disconnected", {"hash": block.hash_hex, "height": height})
        entered = []  # txs new to the mempool: orphans a block completed, txs a reorg returned
        left: list[bytes] = []  # txids that may have left it (for the journal's sake)
        for block in update.connected:
            txids = [tx.txid for tx in block.txs]
            left += txids
            left += [tx.txid for tx in self.mempool.remove_for_block(block)]
            entered += self.mempool.retry_orphans(txids)
        left += [tx.txid for tx in self.mempool.expire()]
        returned: list[MempoolEntry] = []
        if update.disconnected:
            self._publish_reorg(update)
            txs = [tx for block in reversed(update.disconnected) for tx in block.txs[1:]]
            returned = self.mempool.readd_disconnected(txs)
            self.metrics.reorg(update.reorg_depth)
        for block in update.connected:
            entry = self.chain.index[block.hash]
            self.events.publish(
                "block_connected",
                {"hash": block.hash_hex, "height": entry.height, "txs": len(block.txs)},
            )
        for added, source in [(e, "orphan") for e in entered] + [(e, "reorg") for e in returned]:
            if added.txid in self.mempool:
                self.events.publish("tx_accepted", {"txid": added.tx.txid_hex, "source": source})
        entered += returned
        new_txs = [e.tx for e in entered if e.txid in self.mempool]
        self.journal.put(new_txs)
        self._sync_persisted_mempool(left)
        if self.p2p is not None:
            self.p2p.on_chain_update(update)
            self.p2p.relay_txs(new_txs)

    # --- transactions --------------------------------------------------------------

    async def submit_tx(self, tx: Tx, *, allow_orphan: bool = False) -> list[Tx]:
        """Accept ``tx`` into the mempool; returns every tx that entered (with orphans
        that it unblocked), once they are in the journal on disk. Raises RuleError or
        PolicyError with the reject code."""
        async with self._lock:
            spenders = (self.mempool.spender_of(i.outpoint_key) for i in tx.inputs)
            conflicts = {t for t in spenders if t is not None}
            replaced = set().union(conflicts, *map(self.mempool.descendants, conflicts))
            try:
                entries = self.mempool.accept_with_orphans(tx, allow_orphan=allow_orphan)
            except (RuleError, PolicyError) as exc:
                code = exc.code.value
                log.debug("AcceptToMemoryPool: rejected txid=%s reason=%s", tx.txid_hex, code)
                self.events.publish("tx_rejected", {"txid": tx.txid_hex, "reason": code})
                raise
            accepted = [e.tx for e in entries]
            for t in accepted:
                log.debug("AcceptToMemoryPool: accepted txid=%s size=%d", t.txid_hex, t.size)
                self.events.publish("tx_accepted", {"txid": t.txid_hex})
            self.journal.put(accepted)
            if replaced:
                for txid in replaced:
                    old = txid[::-1].hex()
                    log.info("mempool: replaced txid=%s by txid=%s", old, tx.txid_hex)
                    self.events.publish("tx_replaced", {"txid": old, "replaced_by": tx.txid_hex})
                self._sync_persisted_mempool(replaced)
            if self.p2p is not None:
                self.p2p.relay_txs(accepted)
            stored = self.journal.flushed()
        await stored
        return accepted

    def _sync_persisted_mempool(self, left: Iterable[bytes] = ()) -> None:
        """Delete from the journal every tx no longer in the mempool.

        ``left``: txids that may have left it, checked first. Every mempool tx is in the
        journal (each is persisted as it enters), so if the journal then holds as many
        txids as the mempool, the two are equal; only if not (a tx left some other way:
        evicted for space, dropped by a reorg's revalidation) is every txid checked.
        """
        persisted, mempool = self.journal.txids, self.mempool
        gone = [t for t in persisted.intersection(left) if t not in mempool]
        if len(persisted) - len(gone) != len(mempool):
            gone = [t for t in persisted if t not in mempool]
        if gone:
            self.journal.delete(gone)

    async def _restore_mempool(self) -> None:
        """Txs acknowledged before a crash or shutdown come back; the rest are dropped."""
        saved = self.journal.load()
        for tx in sorted(saved, key=lambda t: t.locktime):
            with contextlib.suppress(RuleError, PolicyError):
                self.mempool.accept(tx, allow_orphan=True)
        self._sync_persisted_mempool()
        await self.journal.flushed()

    def fees_of(self, txs: list[Tx]) -> int:
        """Total fee of ``txs`` spending chain, mempool or earlier-listed coins."""
        created: dict[bytes, int] = {}
        total = 0
        for tx in txs:
            for inp in tx.inputs:
                key = inp.outpoint_key
                coin = self.mempool.coin(key) or self.chain.db.get_coin(key)
                total += created.get(key, coin.value if coin else 0)
            total -= sum(o.value for o in tx.outputs)
            for n, out in enumerate(tx.outputs):
                created[outpoint_key(tx.txid, n)] = out.value
        return max(total, 0)

    # --- status --------------------------------------------------------------------

    def initial_block_download(self) -> bool:
        """Like Core: still catching up while the tip is more than a day old (devnet)."""
        if self.params.name == "regtest":
            return False
        return self.chain.tip.header.time < self.clock.now() - 24 * 3600

    def disk_usage(self) -> int:
        total = 0
        for root, _, files in os.walk(self.config.netdir / "db"):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(root, name))
        return total

    async def default_mining_lock(self) -> bytes | None:
        """A fresh address of the default wallet, once wallets exist (None without one)."""
        wallets = getattr(self, "wallets", None)
        if wallets is None:
            return None
        return await wallets.default_mining_lock()

    # --- mining --------------------------------------------------------------------

    def block_template(self, lock: bytes) -> BlockTemplate:
        tip = self.chain.tip
        selected = self.mempool.select_for_block(self.params.max_block_size - 1000)
        return build_template(
            self.params,
            prev_hash=tip.hash,
            height=tip.height + 1,
            bits=self.chain.next_bits(tip),
            median_time_past=self.chain.median_time_past(),
            now=self.clock.now(),
            txs_with_fees=selected,
            coinbase_lock=lock,
        )

    async def mine_one(self, lock: bytes) -> Block | None:
        """Mine one block on the current tip; None if the tip moved first (while solving,
        or between the solution and its submission: then the other block, found first on
        the same parent, wins the tie and ours is "inconclusive")."""
        template = self.block_template(lock)
        # A random starting extranonce: two blocks mined on one parent in the same second
        # (say after invalidateblock) must not come out identical.
        block = await self.solver.solve(
            template,
            is_stale=lambda: self.chain.tip.hash != template.prev_hash,
            extranonce=secrets.randbits(32),
        )
        if block is None:
            return None
        result = await self.submit_block(block)
        if result.status == "inconclusive" and self.chain.tip.hash != template.prev_hash:
            return None
        if result.status != "accepted":
            raise RuntimeError(f"mined block rejected: {result.error or result.status}")
        return block

    async def solve_fixed_block(self, block: Block) -> Block:
        """Find a nonce for a block whose txs are fixed (generateblock)."""
        header = await asyncio.to_thread(solve_header, block.header)
        return Block(header, block.txs)

    async def generate(self, count: int, lock: bytes, max_tries: int = 1_000_000) -> list[Block]:
        blocks: list[Block] = []
        tries = 0
        while len(blocks) < count and tries < max_tries + count:
            tries += 1
            block = await self.mine_one(lock)
            if block is not None:
                blocks.append(block)
        return blocks

    @property
    def mining(self) -> bool:
        return self._miner_task is not None and not self._miner_task.done()

    def set_mining(self, lock: bytes | None, interval: float | None = None) -> None:
        """Mine continuously (or one block every ``interval`` seconds) to ``lock``, or to a
        fresh address of the default wallet when ``lock`` is None; replaces any miner."""
        self.stop_mining()
        self._miner_task = start_supervised(
            "miner", lambda: self._mine_forever(lock, interval), log
        )

    def stop_mining(self) -> None:
        if self._miner_task is not None:
            self._miner_task.cancel()
            self._miner_task = None

    async def _mine_forever(self, lock: bytes | None, interval: float | None) -> None:
        """The miner's loop; a crash is logged and the loop restarted (``start_supervised``)."""
        while not self._stop_requested.is_set():
            if interval:
                await asyncio.sleep(interval)
            target = lock if lock is not None else await self.default_mining_lock()
            if target is None:
                log.warning("miner: no wallet to mine to; retrying in 5 s")
                await asyncio.sleep(5)
                continue
            await self.mine_one(target)


def tune_interpreter() -> None:
    """Run the cycle collector rarely, and never over what start-up loaded; hand the GIL
    over sooner.

    A node holds hundreds of thousands of long-lived objects (block index, caches) and
    allocates tens of thousands per block, almost none of them in reference cycles. With
    CPython's default thresholds the collector ran dozens of times per block and rescanned
    the whole heap every few blocks: a quarter of the time to connect a block of mempool
    txs (see bench/NOTES.md). Cycles are still collected, every 50,000 net allocations.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    # Validation runs Python on the chain thread for a hundred milliseconds at a stretch;
    # each socket call of an RPC request gives the GIL away and waits up to a switch
    # interval to get it back. At 1 ms instead of 5, the slowest getblockcount answered
    # while blocks were connected went from 56 ms to 37 ms (bench: rpc_probe_max_ms).
    sys.setswitchinterval(0.001)


async def run_node(config: NodeConfig) -> int:
    """Run until SIGINT, SIGTERM or the ``stop`` RPC; the exit code for ``obol node``."""
    node = Node(config)
    try:
        await node.start()
    except NodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        await node.stop()
        return 1
    except Exception as exc:
        log.exception("start-up failed")
        print(
            f"error: start-up failed ({exc!r}); the details are in {config.log_path}",
            file=sys.stderr,
        )
        await node.stop()
        return 1
    tune_interpreter()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.request_stop)
    cfg = config
    print(f"obol node: network {cfg.params.name}", flush=True)
    print(f"  datadir  {cfg.netdir}", flush=True)
    print(f"  rpc      {node.rpc.url}", flush=True)
    if node.rpc.auth.cookie_path is not None:
        print(f"  cookie   {node.rpc.auth.cookie_path}", flush=True)
    if node.p2p is not None and node.p2p.listen_port:
        print(f"  p2p      {node.p2p.url}", flush=True)
    print(f"  height   {node.chain.height}  pid {os.getpid()}", flush=True)
    await node.wait_stopped()
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT):
            await node.stop()
    except TimeoutError:
        # Every write is an atomic batch (the crash tests kill nodes at random), so leaving
        # now loses nothing; hanging would leave a process behind.
        log.error(
            "shutdown stuck at %r for %d s: exiting anyway", node.stop_stage, SHUTDOWN_TIMEOUT
        )
        return 1
    if node.fatal_error is not None:
        print(f"error: {node.fatal_error}", file=sys.stderr)
        return 1
    return 0
