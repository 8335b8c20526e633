"""Address queries answered from the address index alone, in the chain thread.

Each costs what it returns: the running totals are one read, a history page reads its own
rows (newest first, from a cursor), and the mempool's part comes from a snapshot of its
entries taken on the event loop (entries are immutable, so the chain thread may read
them), checked against the index one spent outpoint at a time. No block is decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus.primitives import outpoint_key

from ..mempool.pool import MempoolEntry
from .manager import Chain
from .storage import AddressTotals, ChainDB

MAX_HISTORY_PAGE = 500  # rows: a page stays a few milliseconds whatever the address


class CursorNotFound(Exception):
    """The ``last_seen_txid`` of a history page is not a confirmed tx of the active chain."""


@dataclass(frozen=True, slots=True)
class Balance:
    totals: AddressTotals
    incoming: int  # outputs of mempool txs to the lock that no mempool tx spends
    outgoing: int  # confirmed coins of the lock that a mempool tx spends


@dataclass(frozen=True, slots=True)
class HistoryItem:
    txid: bytes
    height: int | None  # None: in the mempool
    block_hash: bytes | None
    time: int | None
    received: int
    sent: int


def balance(db: ChainDB, entries: Sequence[MempoolEntry], lock: bytes) -> Balance:
    in_mempool = {e.txid for e in entries}
    spent = {key for e in entries for key in e.spends}
    incoming = sum(
        out.value
        for e in entries
        for n, out in enumerate(e.tx.outputs)
        if out.lock == lock and outpoint_key(e.txid, n) not in spent
    )
    outgoing = 0
    for key in spent:
        if key[:32] not in in_mempool:
            coin = db.address_coin(lock, key)
            outgoing += 0 if coin is None else coin.value
    return Balance(db.address_totals(lock), incoming, outgoing)


def mempool_history(
    db: ChainDB, entries: Sequence[MempoolEntry], lock: bytes, count: int
) -> list[HistoryItem]:
    """Up to ``count`` mempool txs touching ``lock``, newest first."""
    by_txid = {e.txid: e.tx for e in entries}
    items: list[HistoryItem] = []
    for e in reversed(entries):
        if len(items) == count:
            break
        received = sum(o.value for o in e.tx.outputs if o.lock == lock)
        sent = 0
        for inp in e.tx.inputs:
            parent = by_txid.get(inp.prev_txid)
            if parent is not None:
                out = (
                    parent.outputs[inp.prev_index] if inp.prev_index < len(parent.outputs) else None
                )
                sent += out.value if out is not None and out.lock == lock else 0
            else:
                coin = db.address_coin(lock, inp.outpoint_key)
                sent += 0 if coin is None else coin.value
        if received or sent or any(o.lock == lock for o in e.tx.outputs):
            items.append(HistoryItem(e.txid, None, None, None, received, sent))
    return items


def chain_history(
    chain: Chain, lock: bytes, count: int, last_seen: bytes | None
) -> list[HistoryItem]:
    """Up to ``count`` confirmed txs touching ``lock``, newest first, older than the
    confirmed tx ``last_seen`` when given (CursorNotFound if it is not one)."""
    before = None
    if last_seen is not None:
        found = chain.db.tx_location(last_seen)
        entry = None if found is None else chain.index.get(found[0])
        if found is None or entry is None or not chain.contains(entry):
            raise CursorNotFound(last_seen.hex())
        before = (entry.height, found[1])
    items = []
    for row in chain.db.address_history_page(lock, before, count):
        entry = chain.at_height(row.height)
        if entry is None:  # a block disconnected since the page was read
            continue
        items.append(
            HistoryItem(row.txid, row.height, entry.hash, entry.header.time, row.received, row.sent)
        )
    return items
