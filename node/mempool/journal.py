"""The mempool journal: every tx acknowledged to a caller is on disk before the answer.

A tx used to be written in a synced LevelDB batch of its own, on the event loop: some
0.2 ms of fsync per accepted tx, during which nothing else ran. The journal commits in
groups instead. Puts and deletes are queued as the mempool changes; one writer at a time
takes everything queued and writes it in one synced batch off the event loop; txs accepted
meanwhile share the next batch. A caller that must not answer before its tx is stored (an
RPC ``sendrawtransaction``) awaits ``flushed()``, which completes when the batch holding
everything queued so far is written. The last operation on a txid wins, and each batch is
atomic, so the journal on disk is always what the mempool was at some moment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from consensus.primitives import Tx

from ..chain.storage import ChainDB, StorageError

log = logging.getLogger("obol.mempool")


class MempoolJournal:
    def __init__(self, db: ChainDB) -> None:
        self._db = db
        self._queued: dict[bytes, Tx | None] = {}  # txid -> the tx to store, or None: delete
        self._waiters: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self.txids: set[bytes] = set()  # in the journal once what is queued is written

    def load(self) -> list[Tx]:
        """The txs stored by an earlier run (acknowledged before a crash or shutdown)."""
        saved = list(self._db.mempool_txs())
        self.txids = {tx.txid for tx in saved}
        return saved

    def put(self, txs: Iterable[Tx]) -> None:
        for tx in txs:
            self._queued[tx.txid] = tx
            self.txids.add(tx.txid)
        self._start()

    def delete(self, txids: Iterable[bytes]) -> None:
        for txid in txids:
            self._queued[txid] = None
            self.txids.discard(txid)
        self._start()

    def flushed(self) -> asyncio.Future[None]:
        """Done when everything queued so far is written; the StorageError if it cannot be."""
        done = asyncio.get_running_loop().create_future()
        if self._writer is None:
            done.set_result(None)
        else:
            self._waiters.append(done)
        return done

    def _start(self) -> None:
        if self._queued and self._writer is None:
            self._writer = asyncio.create_task(self._write_all(), name="mempool-journal")

    async def _write_all(self) -> None:
        failure: BaseException | None = None
        try:
            while self._queued and failure is None:
                queued, self._queued = self._queued, {}
                waiters, self._waiters = self._waiters, []
                try:
                    await asyncio.to_thread(self._write, queued)
                except Exception as exc:
                    failure = exc
                    if not isinstance(exc, StorageError):  # a StorageError is reported
                        log.error("cannot write the mempool journal", exc_info=exc)
                _settle(waiters, failure)
        except asyncio.CancelledError as exc:
            failure = exc
            raise
        finally:
            self._writer = None
            waiters, self._waiters = self._waiters, []
            _settle(waiters, failure)

    def _write(self, queued: dict[bytes, Tx | None]) -> None:
        with self._db.batch() as batch:
            for txid, tx in queued.items():
                if tx is None:
                    batch.delete_mempool_tx(txid)
                else:
                    batch.put_mempool_tx(tx)


def _settle(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for waiter in waiters:
        if waiter.done():
            continue
        if error is None:
            waiter.set_result(None)
        elif isinstance(error, asyncio.CancelledError):
            waiter.cancel()
        else:
            waiter.set_exception(error)
