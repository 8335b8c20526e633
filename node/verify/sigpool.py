"""Signature checks of large blocks, spread over worker processes.

A block of a few thousand txs is mostly signature verification, and one Python process
verifies on one core. ``SigPool`` owns worker processes (forkserver, else spawn: never a
fork of a process running threads and an event loop), launched the first time a block
needs them, and hands out ``PoolBatch`` objects: the ``consensus.validation.SigBatch``
that ``connect_block`` feeds as it checks each tx. The workers verify the first txs'
signatures while this process goes on checking the later txs' inputs and then prepares
the block's database batch, instead of one side waiting for the other.

The pool is two pipes, not a ``concurrent.futures`` executor: chunks go into one pipe
that every idle worker reads from (so a worker slowed down by the rest of the machine
simply takes fewer chunks), results come back through the other, and the validation
thread writes and reads them itself. An executor moves every task and result through two
helper threads of this process, which contend for the GIL with validation at each chunk;
measured with validation-like work in between, a block's checks took 15% longer that way
(bench/NOTES.md). The task pipe is widened so that a whole block's chunks fit in it and
sending never waits.

The verdict is exactly ``verify_sig_checks``'s: chunks are sent in order, each result
names the first failure in its chunk, and ``finish`` reads the chunks' results in order,
so the first failing check of the block is the one reported. The signature cache is
asked first: cached checks are skipped, and txs whose checks all passed in the mempool are
skipped whole (``known_valid``); a block's checks are not stored in it (``SigCache``
says why). Blocks with few checks left never touch the pool. If a worker dies, the chunks
not yet answered are verified here and a fresh pool is launched for the next block.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import threading
from collections.abc import Sequence
from multiprocessing.context import ForkServerContext, SpawnContext
from typing import Any

from consensus.errors import RejectCode, RuleError
from consensus.primitives import Tx
from consensus.signatures import REGISTRY
from consensus.validation import SigCheck

from .sigcache import SigCache

log = logging.getLogger("obol.sigpool")

# A chunk is about 128 Ed25519 verifications of work (each scheme's ``verify_cost``):
# some 8 ms and 18 kB on the pipe, small enough that verification starts early in a block
# and the workers finish close together, large enough that the per-chunk cost (a pickle,
# two pipe writes) stays near 1%. A secp256k1 chunk is thus five checks.
DEFAULT_CHUNK = 128
# Checks left at the end of a block are sent, split among the workers, when they are worth
# at least this many Ed25519 verifications (half a millisecond, several times the trip);
# fewer are verified here.
MIN_SEND_COST = 8
# Workers run below the node's priority. The validation thread is a block's critical
# path (it decodes, looks up coins, feeds the workers, prepares and writes the batch) and
# the event loop answers RPC and peers; with as many busy workers as cores, each would
# otherwise get a fraction of a core while the workers' backlog waits for nothing. The
# workers lose no throughput (they take the cores the node leaves idle); measured on 2
# cores, cold 2,000-tx blocks were 0-20% faster, within the machine's noise. LevelDB's
# compaction thread runs at the same niceness (node/chain/storage.py), so that the two
# share what the node leaves instead of compaction taking it first.
WORKER_NICENESS = 10
_PIPE_BYTES = 1 << 20  # Linux's default maximum: a full block's chunks
_POLL_SECONDS = 1.0  # how often a wait for results checks that the workers live

_Failure = tuple[int, str, str]  # (position in the chunk, reject code, message)
_SKIPPED = "skipped"  # the chunk belonged to a batch cancelled before it was verified


def verify_chunk(checks: Sequence[SigCheck]) -> _Failure | None:
    """The first failing check of ``checks``, or None if all pass."""
    for n, (key_type, pubkey, sig, msg) in enumerate(checks):
        try:
            REGISTRY[key_type].verify(pubkey, sig, msg)
        except RuleError as err:
            return n, err.code.value, err.message
    return None


def _worker_main(
    tasks: multiprocessing.connection.Connection,
    task_lock: Any,
    results: multiprocessing.connection.Connection,
    result_lock: Any,
    cancelled: Any,
) -> None:
    """A worker: take the next chunk, verify it, answer; until told to stop (None) or the
    node is gone (the pipe closed)."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    while True:
        try:
            with task_lock:
                data = tasks.recv_bytes()
        except (EOFError, OSError):
            return
        message = pickle.loads(data)
        if message is None:
            return
        batch, chunk_id, checks = message
        outcome = _SKIPPED if batch == cancelled.value else verify_chunk(checks)
        reply = pickle.dumps((chunk_id, outcome), pickle.HIGHEST_PROTOCOL)
        try:
            with result_lock:
                results.send_bytes(reply)
        except OSError:
            return


def _pool_context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def default_workers() -> int:
    """One worker per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class PoolBroken(Exception):
    """A worker died: the chunks it may have held are unanswered."""


class _Workers:
    """The processes and pipes of one launch of the pool."""

    def __init__(self, count: int) -> None:
        ctx = _pool_context()
        self.tasks_out, self._tasks_in = ctx.Pipe(duplex=False)[::-1]
        self.results_in, self._results_out = ctx.Pipe(duplex=False)
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self.tasks_out.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        self.cancelled = ctx.Value("q", -1, lock=False)
        # Kept for the pool's life: a worker opens the named semaphores by name.
        self._locks = (ctx.Lock(), ctx.Lock())
        self.procs = [
            ctx.Process(
                target=_worker_main,
                args=(
                    self._tasks_in,
                    self._locks[0],
                    self._results_out,
                    self._locks[1],
                    self.cancelled,
                ),
                name=f"obol-sigworker-{n}",
                daemon=True,
            )
            for n in range(count)
        ]
        for proc in self.procs:
            proc.start()
        # The workers hold their own copies now. Without ours, a pool whose workers all
        # died fails a send (EPIPE) instead of blocking on a full pipe nobody reads.
        self._tasks_in.close()
        self._results_out.close()

    def send(self, message: object) -> None:
        self.tasks_out.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

    def receive(self) -> tuple[int, _Failure | str | None]:
        """The next result; PoolBroken if a worker died while none was pending."""
        sentinels = [p.sentinel for p in self.procs]
        while True:
            ready = multiprocessing.connection.wait(
                [self.results_in, *sentinels], timeout=_POLL_SECONDS
            )
            if self.results_in in ready:
                return pickle.loads(self.results_in.recv_bytes())
            if ready or not all(p.is_alive() for p in self.procs):
                raise PoolBroken

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(OSError):
            for _ in self.procs:
                self.send(None)
        for proc in self.procs:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.tasks_out.close()
        self.results_in.close()


class SigPool:
    """The worker processes and the signature cache in front of them.

    Lifecycle: ``start()`` allows the workers; the first batch that sends a chunk launches
    them (from the chain thread, never the event loop); ``await stop()`` or ``close()``
    stops them. Before ``start`` or after ``close`` every batch verifies in-process. One
    thread at a time uses the pool (the node's chain thread).
    """

    def __init__(
        self, cache: SigCache, workers: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.cache = cache
        self.workers = default_workers() if workers is None else workers
        self.chunk_size = chunk_size
        self.chunks_sent = 0
        self.chunks_answered = 0  # by a worker (not verified here after a failure)
        self._workers: _Workers | None = None
        self._guard = threading.Lock()  # start/close against a launch
        self._started = False
        self._batch_seq = 0
        self._chunk_seq = 0
        self._results: dict[int, _Failure | str | None] = {}
        self._waiting: set[int] = set()  # chunks sent and not yet answered

    def start(self) -> None:
        self._started = self.workers > 0

    def close(self) -> None:
        with self._guard:
            self._started = False
            workers, self._workers = self._workers, None
        if workers is not None:
            workers.close()

    async def stop(self) -> None:
        await asyncio.to_thread(self.close)

    def batch(self) -> PoolBatch:
        self._batch_seq += 1
        return PoolBatch(self, self._batch_seq)

    def _launched(self) -> _Workers | None:
        with self._guard:
            if self._started and self._workers is None:
                self._workers = _Workers(self.workers)
                log.info("signature workers started: %d", self.workers)
            return self._workers

    def send(self, batch: int, checks: list[SigCheck]) -> int | None:
        """Queue a chunk; its id, or None when there are no workers to verify it."""
        workers = self._launched()
        if workers is None:
            return None
        self._chunk_seq += 1
        try:
            workers.send((batch, self._chunk_seq, checks))
        except OSError:
            self._broken(workers)
            return None
        self._waiting.add(self._chunk_seq)
        self.chunks_sent += 1
        return self._chunk_seq

    def result(self, chunk_id: int) -> _Failure | None:
        """Wait for a chunk's verdict. PoolBroken if it will never come."""
        while chunk_id not in self._results:
            workers = self._workers
            if workers is None or chunk_id not in self._waiting:
                raise PoolBroken
            try:
                answered, outcome = workers.receive()
            except PoolBroken:
                self._broken(workers)
                raise
            if answered in self._waiting:
                self._waiting.discard(answered)
                self._results[answered] = outcome
                self.chunks_answered += 1
        outcome = self._results.pop(chunk_id)
        if outcome == _SKIPPED:
            raise PoolBroken  # cannot happen for a batch still being settled
        return outcome  # type: ignore[return-value]

    def cancel(self, batch: int, chunk_ids: list[int]) -> None:
        """Workers skip the batch's chunks still queued; their answers are dropped."""
        workers = self._workers
        if workers is not None:
            workers.cancelled.value = batch
        for chunk_id in chunk_ids:
            self._waiting.discard(chunk_id)
            self._results.pop(chunk_id, None)

    def _broken(self, workers: _Workers) -> None:
        log.warning("a signature worker died; verifying here, new workers for the next block")
        with self._guard:
            if self._workers is workers:
                self._workers = None
        self._waiting.clear()
        self._results.clear()
        workers.close(timeout=0.5)


class PoolBatch:
    """One block's signature checks (a ``SigBatch``), settled by ``finish`` or given up by
    ``cancel`` (also on leaving it as a context manager): chunks still queued are then
    skipped by the workers. Several may be open at once (a block's checks are queued
    while the block before is settled); they must be settled in the order opened."""

    def __init__(self, pool: SigPool, seq: int) -> None:
        self._pool = pool
        self._seq = seq
        self._cache = pool.cache
        self._pending: list[SigCheck] = []
        self._pending_cost = 0
        self._sent: list[tuple[int, list[SigCheck]]] = []
        self._no_pool = False
        self._settled = False

    def __enter__(self) -> PoolBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Give up on these checks unless settled: queued chunks are skipped."""
        if not self._settled and self._sent:
            self._pool.cancel(self._seq, [chunk_id for chunk_id, _ in self._sent])
        self._settled = True

    def known_valid(self, tx: Tx) -> bool:
        return self._cache.has_tx(tx.wtxid)

    def add(self, checks: Sequence[SigCheck]) -> None:
        cache = self._cache
        key, cached = cache.key, cache.has_key
        pending = self._pending
        cost = 0
        for check in checks:
            if cached(key(check)):
                cache.hits += 1
            else:
                pending.append(check)
                cost += REGISTRY[check[0]].verify_cost
        self._pending_cost += cost
        if self._pending_cost >= self._pool.chunk_size and not self._no_pool:
            self._send()

    def _send(self) -> None:
        chunk_id = self._pool.send(self._seq, self._pending)
        if chunk_id is None:
            self._no_pool = True  # verified here at the end
            return
        self._sent.append((chunk_id, self._pending))
        self._pending, self._pending_cost = [], 0

    def send_rest(self) -> None:
        """Send the checks not sent yet, split among the workers, unless too few to be
        worth the trip. Called once every check is added, before the caller's own last
        work (preparing the block's writes), which the workers then overlap."""
        if self._no_pool or self._pending_cost < MIN_SEND_COST:
            return
        pending = self._pending
        parts = min(self._pool.workers, self._pending_cost // MIN_SEND_COST)
        size = -(-len(pending) // parts)
        for start in range(0, len(pending), size):
            chunk = pending[start : start + size]
            chunk_id = self._pool.send(self._seq, chunk)
            if chunk_id is None:
                self._no_pool = True
                self._pending = pending[start:]
                return
            self._sent.append((chunk_id, chunk))
        self._pending, self._pending_cost = [], 0

    def finish(self) -> None:
        """Verify what is left here (less than a chunk, or everything without workers)
        while the workers finish theirs; then settle the chunks in order, then the rest."""
        self._settled = True
        rest = self._pending
        self._cache.misses += len(rest) + sum(len(chunk) for _, chunk in self._sent)
        rest_failure = verify_chunk(rest)
        for n, (chunk_id, chunk) in enumerate(self._sent):
            try:
                failure = self._pool.result(chunk_id)
            except PoolBroken:
                failure = verify_chunk(chunk)
            if failure is not None:
                self._pool.cancel(self._seq, [c for c, _ in self._sent[n + 1 :]])
                _raise(failure)
        if rest_failure is not None:
            _raise(rest_failure)


def _raise(failure: _Failure) -> None:
    _, code, message = failure
    raise RuleError(RejectCode(code), message)
