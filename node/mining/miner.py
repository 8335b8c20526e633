"""The miner's building blocks: block templates and the proof-of-work search.

``build_template`` turns the mempool's already ordered selection into a ``BlockTemplate``
that fits the block limits. A template becomes a block for a given extranonce (the
coinbase's free field, so each extranonce gives a new merkle root and a fresh 2**32 nonce
space). ``scan_nonces`` searches nonces with a SHA-256 midstate: the first 64 bytes of the
header never change while the nonce does, so their compression is done once.
``PowSolver`` spreads that search over worker processes, rolls the extranonce when a nonce
space is used up, drops stale work as soon as the caller says the tip moved, and counts
hashes for the node's hash-rate figure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import multiprocessing
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from consensus.builder import BLOCK_VERSION, block_merkle_root, make_coinbase
from consensus.params import NetworkParams, block_subsidy
from consensus.pow import bits_to_target
from consensus.primitives import U64, Block, BlockHeader, Tx, TxOut

__all__ = [
    "MINER_TAG",
    "BlockTemplate",
    "PowSolver",
    "build_template",
    "coinbase_extra",
    "reserved_block_size",
    "scan_chunk",
    "scan_nonces",
]

MINER_TAG = b"obol"
EXTRANONCE_SIZE = 8
NONCE_SPACE = 1 << 32
CHUNK_SIZE = 1 << 18
# Below this many expected hashes (regtest: ~2) a process round trip costs more than the work.
INPROCESS_MAX_HASHES = 50_000
# In-process slices and worker abort checks: a few milliseconds of hashing each.
_SLICE = 1 << 12
_ABORT_CHECK = 1 << 14
# A block is [header: bin80, [tx...]]: fixarray(2) + bin8 header (2 + 80) + array header (<= 5).
_BLOCK_FRAME = 1 + 2 + 80 + 5
_NONCE = struct.Struct("<I")


def coinbase_extra(extranonce: int) -> bytes:
    """The coinbase free field: miner tag, then the extranonce as 8 bytes little-endian."""
    return MINER_TAG + extranonce.to_bytes(EXTRANONCE_SIZE, "little")


def reserved_block_size(height: int, coinbase_lock: bytes) -> int:
    """An upper bound on the bytes of a block that are not its non-coinbase txs.

    The coinbase is built with the largest value encoding (uint64) and its fixed-size extra
    field, and the tx array header at its widest, so whatever the fees and the extranonce
    the finished block stays within the size the txs were selected for.
    """
    coinbase = make_coinbase(height, [TxOut(U64, coinbase_lock)], coinbase_extra(0))
    return _BLOCK_FRAME + coinbase.size


@dataclass(frozen=True, slots=True)
class BlockTemplate:
    """Everything of the next block but the extranonce and the nonce."""

    prev_hash: bytes
    height: int
    time: int
    bits: int
    txs: tuple[Tx, ...]  # non-coinbase, in block order
    tx_fees: tuple[int, ...]  # the fee of each of ``txs``
    coinbase_lock: bytes
    subsidy: int

    @property
    def fees(self) -> int:
        return sum(self.tx_fees)

    @property
    def target(self) -> int:
        return bits_to_target(self.bits)

    def coinbase(self, extranonce: int) -> Tx:
        """Pays subsidy + fees to ``coinbase_lock``; the extranonce makes its wtxid unique."""
        out = TxOut(self.subsidy + self.fees, self.coinbase_lock)
        return make_coinbase(self.height, [out], coinbase_extra(extranonce))

    def _header(self, txs: Sequence[Tx], nonce: int) -> BlockHeader:
        root = block_merkle_root(txs)
        return BlockHeader(BLOCK_VERSION, self.prev_hash, root, self.time, self.bits, nonce)

    def block(self, extranonce: int, nonce: int = 0) -> Block:
        txs = (self.coinbase(extranonce), *self.txs)
        return Block(self._header(txs, nonce), txs)

    def header_prefix(self, extranonce: int) -> bytes:
        """The first 76 bytes of the header: all of it but the nonce, what the search hashes."""
        return self._header((self.coinbase(extranonce), *self.txs), 0).serialize()[:76]


def _fit_limits(
    txs_with_fees: Sequence[tuple[Tx, int]], max_size: int, max_sigchecks: int
) -> tuple[tuple[Tx, ...], tuple[int, ...]]:
    """Keep txs in the given order while they fit; a tx spending a dropped tx is dropped.

    Later, smaller txs may still fit after a large one is dropped, so the scan goes on to
    the end rather than stopping at the first tx that does not fit.
    """
    chosen: list[Tx] = []
    fees: list[int] = []
    dropped: set[bytes] = set()
    size = sigchecks = 0
    for tx, fee in txs_with_fees:
        if tx.is_coinbase:
            raise ValueError("the template's txs must not include a coinbase")
        # One per input at least; the mempool, which chose these, also counted each used
        # policy key (consensus counts one per key input and one per used policy key).
        tx_sigchecks = len(tx.inputs)
        if (
            size + tx.size > max_size
            or sigchecks + tx_sigchecks > max_sigchecks
            or any(i.prev_txid in dropped for i in tx.inputs)
        ):
            dropped.add(tx.txid)
            continue
        chosen.append(tx)
        fees.append(fee)
        size += tx.size
        sigchecks += tx_sigchecks
    return tuple(chosen), tuple(fees)


def build_template(
    params: NetworkParams,
    *,
    prev_hash: bytes,
    height: int,
    bits: int,
    median_time_past: int,
    now: int,
    txs_with_fees: Sequence[tuple[Tx, int]],
    coinbase_lock: bytes,
) -> BlockTemplate:
    """The template of the block at ``height`` on top of ``prev_hash``.

    ``txs_with_fees`` comes from the mempool already chosen and ordered (by fee rate,
    parents before children); here it is only trimmed to the size and signature-check
    limits. The time is the node's clock unless that is not above the median time past.
    """
    txs, tx_fees = _fit_limits(
        txs_with_fees,
        params.max_block_size - reserved_block_size(height, coinbase_lock),
        params.max_block_sigchecks,
    )
    return BlockTemplate(
        prev_hash=prev_hash,
        height=height,
        time=max(median_time_past + 1, now),
        bits=bits,
        txs=txs,
        tx_fees=tx_fees,
        coinbase_lock=coinbase_lock,
        subsidy=block_subsidy(height, params),
    )


def scan_nonces(prefix76: bytes, target: int, start: int, count: int) -> int | None:
    """The first nonce in [start, start + count) whose header hash is <= ``target``, or None.

    The hot loop: the hash state after the 76-byte prefix (its first 64 bytes compressed,
    the 12-byte tail still buffered) is copied instead of rehashed, so each nonce adds only
    its own 4 bytes; the nonce bytes are packed by ``map`` in C; methods are bound to
    locals; and the top byte of the digest (the most significant byte of the little-endian
    hash) rejects almost every candidate of a real target before a full comparison.

    hashlib's SHA-256 (OpenSSL, with the CPU's SHA instructions where it has them), not
    CPython's built-in one: the built-in object copies more cheaply, which made it ~25%
    faster on 3.11 when OpenSSL compressed in software, but with SHA extensions OpenSSL's
    compression wins by more than the copy costs (bench/NOTES.md, 2026-12-04).
    """
    if len(prefix76) != 76:
        raise ValueError("the header prefix is 76 bytes")
    if start < 0 or count < 0 or start + count > NONCE_SPACE:
        raise ValueError("nonces are 32-bit")
    sha = hashlib.sha256
    copy = sha(prefix76).copy
    top = min(target >> 248, 255)
    from_bytes = int.from_bytes
    for nonce_bytes in map(_NONCE.pack, range(start, start + count)):
        h = copy()
        h.update(nonce_bytes)
        d = sha(h.digest()).digest()
        if d[31] <= top and from_bytes(d, "little") <= target:
            return from_bytes(nonce_bytes, "little")
    return None


class _Counter(Protocol):
    """A shared-memory unsigned integer (``multiprocessing.RawValue("Q")``)."""

    value: int


# Set in each worker process by ``_init_worker``: the parent's current job number.
_job_counter: _Counter | None = None


def _init_worker(counter: _Counter) -> None:
    global _job_counter
    _job_counter = counter


def scan_chunk(
    prefix76: bytes, target: int, start: int, count: int, job: int
) -> tuple[int | None, int]:
    """Worker entry point: (nonce found or None, hashes done).

    Scans in slices and gives up once the parent's job counter has moved past ``job``, so
    a worker does not keep hashing stale work that the parent has already abandoned.
    """
    counter = _job_counter
    end = start + count
    done = 0
    for s in range(start, end, _ABORT_CHECK):
        if counter is not None and counter.value != job:
            break
        n = min(_ABORT_CHECK, end - s)
        nonce = scan_nonces(prefix76, target, s, n)
        if nonce is not None:
            return nonce, done + nonce - s + 1
        done += n
    return None, done


def _warm_up() -> None:
    """A no-op task: submitting it makes the pool launch a worker."""


def _pool_context() -> multiprocessing.context.BaseContext:
    """forkserver where available (no fork of a process that runs threads and an event
    loop), else spawn."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


class PowSolver:
    """Finds a nonce (and extranonce) for a template, in this process or in a worker pool.

    Lifecycle: ``start()`` allows the pool, ``await stop()`` (or ``close()``) aborts the
    workers' current chunks and shuts it down; ``async with`` does both. The worker
    processes are launched by the first solve that needs them, from a thread so the event
    loop never waits for the fork server: a regtest node, whose targets are all trivial and
    solved in-process, never starts any. One ``solve`` runs at a time.
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        chunk_size: int = CHUNK_SIZE,
        nonce_space: int = NONCE_SPACE,
        inprocess_max_hashes: int = INPROCESS_MAX_HASHES,
        poll_interval: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
        hashrate_window: float = 60.0,
    ) -> None:
        """``nonce_space`` below 2**32 is a test hook that forces extranonce rolls."""
        if workers < 1 or chunk_size < 1 or not 1 <= nonce_space <= NONCE_SPACE:
            raise ValueError("workers, chunk_size and nonce_space must be positive")
        self.workers = workers
        self.chunk_size = chunk_size
        self.nonce_space = nonce_space
        self.inprocess_max_hashes = inprocess_max_hashes
        self.poll_interval = poll_interval
        self.hashes_done = 0
        self._clock = clock
        self._window = hashrate_window
        self._created = clock()
        self._samples: deque[tuple[float, int]] = deque()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._pool_guard = threading.Lock()  # launch (in a thread) vs close
        self._started = False
        self._job_counter: _Counter | None = None
        self._job = 0
        self._lock = asyncio.Lock()

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._started = True

    def _launch_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        """The pool, with its workers launched (blocking: run in a thread)."""
        with self._pool_guard:
            if not self._started:
                raise RuntimeError("PowSolver.start() must be called before solving real targets")
            if self._pool is None:
                ctx = _pool_context()
                self._job_counter = ctx.Value("Q", self._job, lock=False)
                pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers,
                    mp_context=ctx,
                    initializer=_init_worker,
                    initargs=(self._job_counter,),
                )
                for _ in range(self.workers):  # each submit launches a worker now
                    pool.submit(_warm_up)
                self._pool = pool
            return self._pool

    def close(self) -> None:
        """Abort running chunks and wait for the workers to exit (blocks briefly)."""
        with self._pool_guard:
            self._started = False
            pool, self._pool = self._pool, None
        if pool is not None:
            self._next_job()
            pool.shutdown(wait=True, cancel_futures=True)

    async def stop(self) -> None:
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> PowSolver:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- hash rate --------------------------------------------------------------------

    def _count(self, hashes: int) -> None:
        self.hashes_done += hashes
        self._samples.append((self._clock(), hashes))

    def hashrate(self) -> float:
        """Hashes per second over the last ``hashrate_window`` seconds (0.0 when idle)."""
        now = self._clock()
        samples = self._samples
        while samples and samples[0][0] < now - self._window:
            samples.popleft()
        span = min(self._window, now - self._created)
        return sum(n for _, n in samples) / span if span > 0 else 0.0

    # --- search -----------------------------------------------------------------------

    def _work(self, template: BlockTemplate, extranonce: int) -> Iterator[tuple[int, bytes, int]]:
        """(extranonce, header prefix, first nonce) of each chunk, rolling the extranonce
        when its nonce space is used up."""
        for ext in range(extranonce, 1 << (8 * EXTRANONCE_SIZE)):
            prefix = template.header_prefix(ext)
            for start in range(0, self.nonce_space, self.chunk_size):
                yield ext, prefix, start

    def _next_job(self) -> int:
        self._job += 1
        if self._job_counter is not None:
            self._job_counter.value = self._job
        return self._job

    async def solve(
        self, template: BlockTemplate, is_stale: Callable[[], bool], *, extranonce: int = 0
    ) -> Block | None:
        """A block meeting the template's target, or None once ``is_stale()`` turns true."""
        target = template.target
        async with self._lock:
            if (1 << 256) // (target + 1) < self.inprocess_max_hashes:
                return await self._solve_here(template, target, is_stale, extranonce)
            return await self._solve_in_pool(template, target, is_stale, extranonce)

    async def _solve_here(
        self,
        template: BlockTemplate,
        target: int,
        is_stale: Callable[[], bool],
        extranonce: int,
    ) -> Block | None:
        """In slices, yielding to the event loop between them so the node stays responsive."""
        for ext, prefix, start in self._work(template, extranonce):
            end = min(start + self.chunk_size, self.nonce_space)
            for s in range(start, end, _SLICE):
                if is_stale():
                    return None
                n = min(_SLICE, end - s)
                nonce = scan_nonces(prefix, target, s, n)
                if nonce is not None:
                    self._count(nonce - s + 1)
                    return template.block(ext, nonce)
                self._count(n)
                await asyncio.sleep(0)
        return None

    async def _solve_in_pool(
        self,
        template: BlockTemplate,
        target: int,
        is_stale: Callable[[], bool],
        extranonce: int,
    ) -> Block | None:
        """Keep one chunk queued beyond the busy workers so none idles between polls; poll
        the futures (no callbacks into the loop from the pool's thread) and ``is_stale``."""
        pool = self._pool
        if pool is None:
            pool = await asyncio.to_thread(self._launch_pool)
        job = self._next_job()
        work = self._work(template, extranonce)
        pending: dict[concurrent.futures.Future[tuple[int | None, int]], int] = {}
        try:
            while not is_stale():
                while len(pending) <= self.workers:
                    ext, prefix, start = next(work)
                    count = min(self.chunk_size, self.nonce_space - start)
                    future = pool.submit(scan_chunk, prefix, target, start, count, job)
                    pending[future] = ext
                await asyncio.sleep(self.poll_interval)
                for future in [f for f in pending if f.done()]:
                    ext = pending.pop(future)
                    nonce, hashes = future.result()
                    self._count(hashes)
                    if nonce is not None:
                        return template.block(ext, nonce)
            return None
        finally:
            self._next_job()  # running chunks of this job stop at their next check
            for future in pending:
                future.cancel()
