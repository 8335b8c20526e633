"""node.mempool.journal: group commit of the mempool journal. Txs queued while a write is under
way share the next batch; a caller's flushed() completes only when its tx is written; the
last operation on a txid wins; a failed write fails its waiters and keeps nothing."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager

import pytest

from node.chain.storage import StorageError
from node.mempool.journal import MempoolJournal
from tests.chain_helpers import Utxo, key, spend

OWNER = key(1)


def tx(n: int):
    return spend([Utxo(bytes([n]) * 32, 0, 10_000, OWNER)], [(9_000, OWNER.lock)])


class FakeDb:
    """Records each batch as {txid: tx or None}; the first write can be held open."""

    def __init__(self) -> None:
        self.batches: list[dict] = []
        self.hold = threading.Event()
        self.hold.set()
        self.writing = threading.Event()
        self.fail: Exception | None = None

    def mempool_txs(self):
        return iter([tx(9)])

    @contextmanager
    def batch(self):
        ops: dict = {}
        recorder = type(
            "B",
            (),
            {
                "put_mempool_tx": lambda _, t: ops.__setitem__(t.txid, t),
                "delete_mempool_tx": lambda _, txid: ops.__setitem__(txid, None),
            },
        )()
        self.writing.set()
        self.hold.wait(5)
        if self.fail is not None:
            raise self.fail
        yield recorder
        self.batches.append(ops)


async def test_txs_queued_during_a_write_share_the_next_one() -> None:
    db = FakeDb()
    journal = MempoolJournal(db)
    assert journal.load() == [tx(9)] and journal.txids == {tx(9).txid}
    assert journal.flushed().done()  # nothing queued: nothing to wait for
    db.hold.clear()
    journal.put([tx(1)])
    first = journal.flushed()
    await asyncio.to_thread(db.writing.wait, 5)
    journal.put([tx(2)])
    journal.put([tx(3)])
    journal.delete([tx(9).txid])
    second = journal.flushed()
    await asyncio.sleep(0.01)
    assert not first.done() and not second.done()  # not acknowledged before it is stored
    db.hold.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert db.batches == [
        {tx(1).txid: tx(1)},
        {tx(2).txid: tx(2), tx(3).txid: tx(3), tx(9).txid: None},
    ]
    assert journal.txids == {tx(1).txid, tx(2).txid, tx(3).txid}


async def test_the_last_operation_on_a_txid_wins() -> None:
    db = FakeDb()
    journal = MempoolJournal(db)
    journal.put([tx(1), tx(2)])
    journal.delete([tx(1).txid])
    await asyncio.wait_for(journal.flushed(), 5)
    assert db.batches == [{tx(1).txid: None, tx(2).txid: tx(2)}]
    assert journal.txids == {tx(2).txid}


async def test_a_failed_write_fails_its_waiters_and_the_next_write_tries_again() -> None:
    db = FakeDb()
    db.fail = StorageError("cannot write to the database")
    journal = MempoolJournal(db)
    journal.put([tx(1)])
    with pytest.raises(StorageError):
        await asyncio.wait_for(journal.flushed(), 5)
    assert db.batches == []
    db.fail = None
    journal.put([tx(2)])
    await asyncio.wait_for(journal.flushed(), 5)
    assert db.batches == [{tx(2).txid: tx(2)}]
