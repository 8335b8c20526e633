"""Transaction relay: batched ``inv`` announcements, requests, orphans' parents.

New mempool txs (from RPC, the wallet, or peers) are queued per peer and announced in
batches every ``tx_trickle_interval`` (100 ms), never to a peer known to have them.

An announced tx we lack is requested with ``getdata`` from the first peer that announced
it, at most ``max_txs_in_flight`` (100) per peer. Other announcers are remembered (up to 8
per tx, 5,000 per peer, as Core's tx request tracker); when a request ends without the tx
(``notfound``, the peer leaves, ``tx_request_timeout`` passes) the tx waits in a queue and
the next announcer with a free slot is asked. Each tick looks at a bounded slice of that
queue, so a peer announcing junk costs every tick the same small amount of work.

A tx that arrives as an orphan makes us ask the same peer for its missing parents (it must
have them to have accepted the tx). A tx nobody asked this peer for is misbehaviour
(unrequested data); so is a consensus-invalid tx, unless another chain state
could make it valid.

Rejected txids are remembered until the tip moves (Core's recentRejects), except when the
rejection may be a mutated signature: signatures are not part of the txid, so the honest
version of the same txid must still be fetchable. Recently confirmed txids are remembered
until a block is disconnected, so that a confirmed tx announced late is not fetched.

What each peer knows, the rejects and the confirmed txids are rolling filters
(``p2p/rolling.py``), as Core's: their memory is fixed when they are made, about 0.6 MB for
each peer's 50,000 txids however busy the network.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice

from consensus.errors import RejectCode, RuleError
from consensus.primitives import Tx

from .config import ChainChange, PeerManagerConfig
from .messages import INV_TX, GetData, Inv, InvItem, TxMsg
from .peer import Misbehaving, Peer
from .rolling import RollingFilter
from .tasks import cancel_and_wait, start_supervised

log = logging.getLogger("obol.p2p.relay")

MAX_KNOWN_PER_PEER = 50_000
MAX_PENDING_PER_PEER = 50_000
MAX_EXPIRED_PER_PEER = 1000
MAX_ANNOUNCED_PER_PEER = 5000  # Core's MAX_PEER_TX_ANNOUNCEMENTS
MAX_ANNOUNCERS = 8  # peers remembered per tx besides the one asked
MAX_RETRY_PER_TICK = 1000
MAX_REJECTS = 120_000  # Core's recentRejects
MAX_CONFIRMED = 48_000  # Core's m_recent_confirmed_transactions
# Rejections that say nothing bad about the peer: another chain state may accept the tx.
_NOT_PUNISHED = frozenset(
    {
        RejectCode.TX_MISSING_OR_SPENT,
        RejectCode.TX_PREMATURE_COINBASE_SPEND,
        RejectCode.TX_NONFINAL,
    }
)
# Rejections a third party can cause by changing a signature, which the txid does not cover.
_MALLEABLE = frozenset({RejectCode.TX_BAD_SIGNATURE, RejectCode.TX_HIGH_S})


class LruSet:
    """A set that forgets its oldest members beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[bytes, None] = OrderedDict()

    def add(self, item: bytes) -> None:
        self._items[item] = None
        self._items.move_to_end(item)
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)


@dataclass(slots=True, eq=False)
class PeerTxs:
    known: RollingFilter = field(default_factory=lambda: RollingFilter(MAX_KNOWN_PER_PEER))
    pending: dict[bytes, None] = field(default_factory=dict)  # to announce, in order
    requested: dict[bytes, float] = field(default_factory=dict)  # txid -> deadline
    # Requests past their deadline: asked elsewhere now, but a late answer is still welcome.
    expired: LruSet = field(default_factory=lambda: LruSet(MAX_EXPIRED_PER_PEER))
    announced: set[bytes] = field(default_factory=set)  # txids we may ask it for later
    last_tx_time: int = 0


class TxRelay:
    def __init__(
        self,
        config: PeerManagerConfig,
        peers: Mapping[int, Peer],
        misbehave: Callable[[Peer, int, str], None],
    ) -> None:
        self.config = config
        self.settings = config.settings
        self._peers = peers
        self._misbehave = misbehave
        self._state: dict[int, PeerTxs] = {}
        self._in_flight: dict[bytes, int] = {}  # txid -> the peer asked
        self._announcers: dict[bytes, list[int]] = {}  # txid -> other peers that have it
        self._waiting: dict[bytes, None] = {}  # not in flight, announcers left: to ask
        self._rejects = RollingFilter(MAX_REJECTS)
        self._confirmed = RollingFilter(MAX_CONFIRMED)
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._task = start_supervised("p2p-tx-trickle", self._trickle_loop, log)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task], log)
            self._task = None

    def add_peer(self, peer: Peer) -> None:
        """A new peer is told of the whole mempool (bounded), in the usual batches."""
        st = self._state[peer.id] = PeerTxs()
        st.pending.update(dict.fromkeys(islice(self.config.mempool_txids(), MAX_PENDING_PER_PEER)))

    def remove_peer(self, peer: Peer) -> None:
        st = self._state.pop(peer.id, None)
        if st is None:
            return
        for txid in st.requested:
            if self._in_flight.get(txid) == peer.id:
                del self._in_flight[txid]
                if txid in self._announcers:
                    self._waiting[txid] = None
        for txid in st.announced:
            peers = self._announcers.get(txid)
            if peers is not None and peer.id in peers:
                peers.remove(peer.id)
                if not peers:
                    del self._announcers[txid]
                    self._waiting.pop(txid, None)

    def peer_state(self, peer_id: int) -> PeerTxs | None:
        return self._state.get(peer_id)

    # --- announcing our txs ------------------------------------------------------------------

    def relay(self, txs: Iterable[Tx]) -> None:
        """Queue new mempool txs for announcement to every peer that may lack them."""
        txids = [tx.txid for tx in txs]
        for st in self._state.values():
            for txid in txids:
                if txid not in st.known and len(st.pending) < MAX_PENDING_PER_PEER:
                    st.pending[txid] = None

    def _flush(self) -> None:
        for peer_id, st in self._state.items():
            if not st.pending:
                continue
            peer = self._peers.get(peer_id)
            batch: list[InvItem] = []
            while st.pending and len(batch) < self.settings.max_inv_per_flush:
                txid = next(iter(st.pending))
                del st.pending[txid]
                if txid in st.known or self.config.mempool_tx(txid) is None:
                    continue
                st.known.add(txid)
                batch.append(InvItem(INV_TX, txid))
            if batch and peer is not None and not peer.closing:
                peer.send_nowait(Inv(tuple(batch)))

    # --- fetching theirs ---------------------------------------------------------------------

    def expects_tx(self, peer: Peer) -> bool:
        st = self._state.get(peer.id)
        return st is not None and (bool(st.requested) or bool(st.expired))

    def _have(self, txid: bytes) -> bool:
        return self.config.have_tx(txid) or txid in self._rejects or txid in self._confirmed

    def on_tx_inv(self, peer: Peer, txids: list[bytes]) -> None:
        st = self._state.get(peer.id)
        if st is None:
            return
        now = asyncio.get_running_loop().time()
        want = []
        for txid in txids:
            st.known.add(txid)
            if self._have(txid) or txid in st.requested:
                continue
            if txid in self._in_flight or len(st.requested) >= self.settings.max_txs_in_flight:
                self._add_announcer(peer.id, st, txid)
                continue
            self._request(peer, st, txid, now)
            want.append(txid)
        if want:
            peer.send_nowait(GetData(tuple(InvItem(INV_TX, t) for t in want)))

    def _add_announcer(self, peer_id: int, st: PeerTxs, txid: bytes) -> None:
        if len(st.announced) >= MAX_ANNOUNCED_PER_PEER:
            return
        peers = self._announcers.setdefault(txid, [])
        if peer_id in peers or len(peers) >= MAX_ANNOUNCERS:
            return
        peers.append(peer_id)
        st.announced.add(txid)
        if txid not in self._in_flight:
            self._waiting[txid] = None

    def _forget(self, txid: bytes) -> None:
        """We have the tx (or it is settled): nobody needs to be asked for it."""
        for peer_id in self._announcers.pop(txid, ()):
            st = self._state.get(peer_id)
            if st is not None:
                st.announced.discard(txid)
        self._waiting.pop(txid, None)

    def _request(self, peer: Peer, st: PeerTxs, txid: bytes, now: float) -> None:
        st.requested[txid] = now + self.settings.tx_request_timeout
        self._in_flight[txid] = peer.id

    def _end_request(self, peer_id: int, st: PeerTxs, txid: bytes) -> None:
        """A request ended without the tx: the next announcer may be asked."""
        st.requested.pop(txid, None)
        if self._in_flight.get(txid) == peer_id:
            del self._in_flight[txid]
            if txid in self._announcers:
                self._waiting[txid] = None

    async def on_tx(self, peer: Peer, msg: TxMsg) -> None:
        tx = msg.tx
        txid = tx.txid
        st = self._state[peer.id]
        if txid not in st.requested and txid not in st.expired:
            raise Misbehaving(100, f"unrequested tx {tx.txid_hex}")
        st.requested.pop(txid, None)
        if self._in_flight.get(txid) == peer.id:
            del self._in_flight[txid]
        self._forget(txid)
        st.known.add(txid)
        st.last_tx_time = int(self.config.clock())
        if self._have(txid):
            return
        try:
            await self.config.submit_tx(tx)
        except RuleError as err:
            if err.code not in _MALLEABLE:
                self._rejects.add(txid)
            if err.code not in _NOT_PUNISHED:
                raise Misbehaving(100, f"invalid tx {tx.txid_hex}: {err.code.value}") from err
        except self.config.policy_error as err:
            parents = tuple(getattr(err, "missing_parents", ()))
            if parents:
                self._fetch_parents(peer, st, parents)
            else:
                self._rejects.add(txid)

    def _fetch_parents(self, peer: Peer, st: PeerTxs, parents: tuple[bytes, ...]) -> None:
        """An orphan's parents come from the peer that sent the orphan."""
        now = asyncio.get_running_loop().time()
        want = [p for p in parents if not self._have(p) and p not in self._in_flight]
        for txid in want:
            self._request(peer, st, txid, now)
        if want:
            peer.send_nowait(GetData(tuple(InvItem(INV_TX, t) for t in want)))

    def on_tx_notfound(self, peer: Peer, txids: list[bytes]) -> None:
        st = self._state.get(peer.id)
        if st is None:
            return
        for txid in txids:
            if txid in st.requested:
                self._end_request(peer.id, st, txid)

    def _retry(self, now: float) -> None:
        """End requests past their deadline; ask other announcers for what is missing."""
        for peer_id, st in self._state.items():
            for txid in [t for t, deadline in st.requested.items() if deadline <= now]:
                st.expired.add(txid)
                self._end_request(peer_id, st, txid)
        batches: dict[int, list[bytes]] = {}
        cap = self.settings.max_txs_in_flight
        for txid in list(islice(self._waiting, MAX_RETRY_PER_TICK)):
            del self._waiting[txid]
            if txid in self._in_flight:
                continue
            if self._have(txid):
                self._forget(txid)
                continue
            peers = self._announcers.get(txid, [])
            chosen = next(
                (
                    pid
                    for pid in peers
                    if pid in self._state
                    and len(self._state[pid].requested) < cap
                    and not self._peers[pid].closing
                ),
                None,
            )
            if chosen is None:
                if peers:
                    self._waiting[txid] = None  # to the back: the others get their turn
                continue
            peers.remove(chosen)
            st = self._state[chosen]
            st.announced.discard(txid)
            if not peers:
                del self._announcers[txid]
            self._request(self._peers[chosen], st, txid, now)
            batches.setdefault(chosen, []).append(txid)
        for peer_id, txids in batches.items():
            self._peers[peer_id].send_nowait(GetData(tuple(InvItem(INV_TX, t) for t in txids)))

    async def _trickle_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.tx_trickle_interval)
            self._flush()
            self._retry(loop.time())

    # --- chain changes ---------------------------------------------------------------------

    def on_chain_update(self, update: ChainChange) -> None:
        """Confirmed txs need no fetching; a new tip may make rejected txs valid, and
        txs of disconnected blocks are unconfirmed again."""
        if update.connected or update.disconnected:
            self._rejects.clear()
        if update.disconnected:
            self._confirmed.clear()  # a filter cannot forget one item; Core resets it too
        announcers, waiting = self._announcers, self._waiting
        for block in update.connected:
            txids = [tx.txid for tx in block.txs]
            self._confirmed.update(txids)
            if announcers or waiting:  # else nobody is to be asked for anything
                for txid in txids:
                    if txid in announcers or txid in waiting:
                        self._forget(txid)
