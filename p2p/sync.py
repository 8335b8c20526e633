"""Headers-first block sync, block announcements, and serving headers and blocks.

How a node catches up (Bitcoin Core's net_processing, simplified):

1. On every new connection, and whenever a peer's headers do not connect, we send
   ``getheaders`` with a locator from our best header. The peer answers with up to 2,000
   headers; each is checked (PoW first, on the event loop: cheap, and a peer sending junk
   is stopped before it costs the chain thread anything), then indexed by
   ``chain.accept_header``. A full answer means there is more: we ask again from its end.
2. The best header a peer has shown us is its ``best_known``. A planner (one task, one
   chain-thread call per round, so two rounds never hand out the same block) walks each
   peer's best chain from where it forks from ours and assigns missing bodies: at most
   16 in flight per peer, none more than 1,024 blocks past the fork, each to one peer. So
   bodies come from every peer that has them, in parallel.
3. Bodies go to ``submit_block`` as they arrive, in any order: the chain stores them and
   connects each once its parent is connected, so blocks connect in order.
4. A peer with requests out that sends no block for ``block_stall_timeout`` is stalling
   the download: it is disconnected, and its blocks go to the others.

New blocks are announced as ``headers`` (Core's sendheaders behaviour): up to 8 at once,
else just the tip and the peer asks for the rest. Invalid blocks and headers cost the peer
that sent them a ban; a block whose body does not match its header (a mutated block) too,
but its hash is not blacklisted (the chain knows those codes) and the real block is then
fetched from another peer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from consensus.errors import RejectCode, RuleError
from consensus.hashing import ZERO_HASH, hash_to_hex
from consensus.pow import block_work
from consensus.primitives import Block, BlockHeader
from consensus.validation import check_header

from .config import BlockVerdict, ChainChange, ChainView, IndexEntry, PeerManagerConfig
from .messages import (
    INV_BLOCK,
    MAX_HEADERS,
    MAX_LOCATOR,
    BlockMsg,
    GetData,
    GetHeaders,
    Headers,
    InvItem,
)
from .peer import Misbehaving, Peer
from .tasks import cancel_and_wait, start_supervised

log = logging.getLogger("obol.p2p.sync")

MAX_BLOCK_SOURCES = 4096
# A header or block "from the future" may be valid later: Core does not punish it.
_NOT_PUNISHED = frozenset({RejectCode.BLOCK_TIME_TOO_NEW})


@dataclass(slots=True, eq=False)
class PeerBlocks:
    """What we know of one peer's chain and what we asked it for."""

    best_known: IndexEntry | None = None
    common_height: int = -1  # last block its best chain shares with ours
    in_flight: dict[bytes, float] = field(default_factory=dict)  # block hash -> asked at
    last_progress: float = 0.0  # loop time of its last block, or of the first request
    validating: int = 0  # its blocks received and handed to the node, not yet judged
    unconnecting: int = 0
    low_work: int = 0  # headers of branches with no more work than our tip, stored
    blocks_received: int = 0
    last_block_time: int = 0


# --- chain-thread jobs (they read the active chain, so they run where it changes) ----------


def best_valid_header(chain: ChainView) -> IndexEntry:
    tip = chain.tip
    best = max((e for e in chain.index.values() if not e.failed), key=lambda e: e.chainwork)
    return best if best.chainwork > tip.chainwork else tip


def accept_headers(
    chain: ChainView, headers: Sequence[BlockHeader]
) -> tuple[IndexEntry | None, RuleError | None]:
    """Index consecutive headers; the last accepted, and the error that stopped us if any."""
    last = None
    for header in headers:
        try:
            last = chain.accept_header(header)
        except RuleError as err:
            return last, err
    return last, None


def headers_after(
    chain: ChainView, locator: Sequence[bytes], stop: bytes, limit: int
) -> tuple[list[BlockHeader], IndexEntry | None]:
    """The headers a getheaders asks for (after the first locator hash on our active chain,
    genesis if none), and the first locator hash we know at all: the peer has that one."""
    start = None
    claimed = None
    for block_hash in locator:
        entry = chain.index.get(block_hash)
        if entry is None:
            continue
        if claimed is None:
            claimed = entry
        if chain.contains(entry):
            start = entry
            break
    height = start.height + 1 if start is not None else 1
    headers: list[BlockHeader] = []
    while len(headers) < limit:
        entry = chain.at_height(height)
        if entry is None:
            break
        headers.append(entry.header)
        if entry.hash == stop:
            break
        height += 1
    return headers, claimed


def plan_downloads(
    chain: ChainView,
    requests: Sequence[tuple[int, IndexEntry, int]],
    in_flight: frozenset[bytes],
    window: int,
) -> list[tuple[int, int, list[bytes]]]:
    """For each (peer id, its best known header, free slots): the fork height with our
    chain and the next missing bodies on its chain, lowest first, none already in flight,
    none beyond ``window`` past the fork. Every hash goes to at most one peer."""
    tip = chain.tip
    taken = set(in_flight)
    plan = []
    for peer_id, best, free in requests:
        fork = chain.find_fork(best)
        chosen: list[bytes] = []
        if not best.failed and best.chainwork > tip.chainwork:
            end = min(best.height, fork.height + window)
            for entry in _ascending(best, fork.height + 1, end):
                if entry.failed:
                    break
                if entry.have_data or entry.hash in taken:
                    continue
                chosen.append(entry.hash)
                taken.add(entry.hash)
                if len(chosen) >= free:
                    break
        plan.append((peer_id, fork.height, chosen))
    return plan


def _ascending(best: IndexEntry, start: int, end: int, step: int = 64) -> Iterator[IndexEntry]:
    """``best``'s ancestors from height ``start`` to ``end``, lowest first, fetched ``step``
    at a time: a planner that stops after the first few missing bodies walks a few blocks,
    not the whole download window (it runs each time a block arrives)."""
    while start <= end:
        top = min(start + step - 1, end)
        node = best.ancestor(top)
        part = []
        while node is not None and node.height >= start:
            part.append(node)
            node = node.parent
        yield from reversed(part)
        start = top + 1


class BlockSync:
    def __init__(
        self,
        config: PeerManagerConfig,
        peers: Mapping[int, Peer],
        misbehave: Callable[[Peer, int, str], None],
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.chain = config.chain
        self._peers = peers
        self._misbehave = misbehave
        self._state: dict[int, PeerBlocks] = {}
        self._in_flight: dict[bytes, int] = {}  # block hash -> the peer asked
        self._sources: OrderedDict[bytes, int] = OrderedDict()  # block hash -> sender
        self._validating: set[bytes] = set()  # received, handed to the node, not yet stored
        # Blocks handed to the node and getheaders being prepared: finished, not abandoned.
        self._background: set[asyncio.Future[Any]] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.best_header: IndexEntry = config.chain.tip
        self._low_work = 0  # low-work headers stored from every peer since start

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self.best_header = await self.config.run_chain(best_valid_header, self.chain)
        self._tasks = [
            start_supervised("p2p-block-planner", self._plan_loop, log),
            start_supervised("p2p-block-stall", self._stall_loop, log),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(reversed(self._tasks), log)
        self._tasks = []
        # Blocks handed to the node finish validating: the chain and mempool stay in step.
        if self._background:
            await asyncio.wait(self._background)

    def add_peer(self, peer: Peer) -> None:
        st = self._state[peer.id] = PeerBlocks()
        version = peer.version
        if version is not None:
            announced = self.chain.index.get(version.best_hash)
            if announced is not None:
                self._saw(st, announced)
        self._spawn_getheaders(peer)

    def remove_peer(self, peer: Peer) -> None:
        st = self._state.pop(peer.id, None)
        if st is None:
            return
        for block_hash in st.in_flight:
            if self._in_flight.get(block_hash) == peer.id:
                del self._in_flight[block_hash]
        if st.in_flight:
            self._wake.set()

    def peer_state(self, peer_id: int) -> PeerBlocks | None:
        return self._state.get(peer_id)

    def expects_block(self, peer: Peer) -> bool:
        st = self._state.get(peer.id)
        return st is not None and bool(st.in_flight)

    # --- headers ---------------------------------------------------------------------------

    def _locator_base(self) -> IndexEntry:
        best, tip = self.best_header, self.chain.tip
        return best if not best.failed and best.chainwork > tip.chainwork else tip

    async def _send_getheaders(self, peer: Peer, base: IndexEntry | None = None) -> None:
        locator = await self.config.run_chain(self.chain.locator, base or self._locator_base())
        if not peer.closing:
            peer.send_nowait(GetHeaders(tuple(locator[:MAX_LOCATOR]), ZERO_HASH))

    def _spawn_getheaders(self, peer: Peer) -> None:
        task = asyncio.ensure_future(self._send_getheaders(peer))
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _saw(self, st: PeerBlocks, entry: IndexEntry) -> None:
        """The peer has ``entry``'s header: raise its best known, and replan (there may be
        blocks to fetch from it, and its fork point with us moved)."""
        if st.best_known is None or entry.chainwork > st.best_known.chainwork:
            st.best_known = entry
            self._wake.set()

    async def on_headers(self, peer: Peer, msg: Headers) -> None:
        headers = msg.headers
        if not headers:
            return
        st = self._state[peer.id]
        for prev, header in pairwise(headers):
            if header.prev_hash != prev.hash:
                raise Misbehaving(20, "non-continuous headers sequence")
        for header in headers:
            try:
                check_header(header, self.config.params)
            except RuleError as err:
                raise Misbehaving(
                    100, f"invalid header {header.hash_hex}: {err.code.value}"
                ) from err
        if headers[0].prev_hash not in self.chain.index:
            st.unconnecting += 1
            await self._send_getheaders(peer)
            if st.unconnecting % self.settings.max_unconnecting_headers == 0:
                raise Misbehaving(20, f"{st.unconnecting} headers messages that do not connect")
            return
        st.unconnecting = 0
        self._check_low_work(st, headers)
        last, refused = await self.config.run_chain(accept_headers, self.chain, headers)
        if last is not None:
            self._saw(st, last)
            if last.chainwork > self.best_header.chainwork:
                self.best_header = last
        if refused is not None:
            if refused.code not in _NOT_PUNISHED:
                raise Misbehaving(100, f"invalid header: {refused.code.value}")
            return
        if len(headers) == MAX_HEADERS and last is not None:
            await self._send_getheaders(peer, last)

    def _check_low_work(self, st: PeerBlocks, headers: Sequence[BlockHeader]) -> None:
        """Count the new headers of a branch that ends with no more work than our tip;
        past the budget (per peer, and in all) they are refused and the peer scored, as
        Core refuses to store a low-work chain (its headers pre-sync)."""
        index = self.chain.index
        new = sum(h.hash not in index for h in headers)
        if not new:
            return
        work = index[headers[0].prev_hash].chainwork + sum(block_work(h.bits) for h in headers)
        if work > self.chain.tip.chainwork:
            return
        settings = self.settings
        if (
            st.low_work + new > settings.max_low_work_headers_per_peer
            or self._low_work + new > settings.max_low_work_headers
        ):
            raise Misbehaving(20, f"{new} more headers of a branch with less work than ours")
        st.low_work += new
        self._low_work += new

    async def on_getheaders(self, peer: Peer, msg: GetHeaders) -> None:
        headers, claimed = await self.config.run_chain(
            headers_after, self.chain, msg.locator, msg.stop, MAX_HEADERS
        )
        st = self._state[peer.id]
        if claimed is not None:
            self._saw(st, claimed)
        await peer.send(Headers(tuple(headers)))

    async def on_block_inv(self, peer: Peer, hashes: list[bytes]) -> None:
        """Blocks announced by inv (Core's fallback): learn the known, ask for the rest."""
        st = self._state[peer.id]
        unknown = False
        for block_hash in hashes:
            entry = self.chain.index.get(block_hash)
            if entry is None:
                unknown = True
            else:
                self._saw(st, entry)
        if unknown:
            await self._send_getheaders(peer)

    # --- bodies ----------------------------------------------------------------------------

    async def on_block(self, peer: Peer, msg: BlockMsg) -> None:
        block = msg.block
        block_hash = block.hash
        st = self._state[peer.id]
        if st.in_flight.pop(block_hash, None) is None:
            raise Misbehaving(100, f"unrequested block {block.hash_hex}")
        if self._in_flight.get(block_hash) == peer.id:
            del self._in_flight[block_hash]
        st.last_progress = asyncio.get_running_loop().time()
        st.blocks_received += 1
        st.last_block_time = int(self.config.clock())
        self._sources[block_hash] = peer.id
        while len(self._sources) > MAX_BLOCK_SOURCES:
            self._sources.popitem(last=False)
        self._wake.set()
        # The read loop goes on at once: while the node validates this block, the next
        # ones are received and decoded. The node's lock keeps them in arrival order.
        st.validating += 1
        self._validating.add(block_hash)
        task = asyncio.ensure_future(self._submit(st, block))
        self._background.add(task)
        task.add_done_callback(self._finished)

    async def _submit(self, st: PeerBlocks, block: Block) -> None:
        """Hand a block to the node and judge the verdict. A task of its own, never
        cancelled (``stop`` waits for it): a half-applied chain update must not be
        abandoned, even if the peer that sent the block is gone."""
        try:
            verdict = await self.config.submit_block(block)
        finally:
            st.validating -= 1
            self._validating.discard(block.hash)
            self._wake.set()
        self._judge(block.hash, verdict)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("p2p background task failed", exc_info=task.exception())

    def _judge(self, block_hash: bytes, verdict: BlockVerdict) -> None:
        """Punish whoever sent a block found invalid (this one, or one it let connect)."""
        failures = dict(verdict.update.invalid)
        if verdict.status == "invalid" and verdict.error is not None:
            failures.setdefault(block_hash, verdict.error)
        for bad_hash, err in failures.items():
            source = self._sources.get(bad_hash)
            peer = self._peers.get(source) if source is not None else None
            if peer is None or err.code in _NOT_PUNISHED:
                continue
            self._misbehave(peer, 100, f"invalid block {hash_to_hex(bad_hash)}: {err.code.value}")

    def on_block_notfound(self, peer: Peer, hashes: list[bytes]) -> None:
        st = self._state.get(peer.id)
        if st is None:
            return
        for block_hash in hashes:
            if st.in_flight.pop(block_hash, None) is not None:
                if self._in_flight.get(block_hash) == peer.id:
                    del self._in_flight[block_hash]
                self._wake.set()

    async def serve_blocks(self, peer: Peer, hashes: Sequence[bytes]) -> list[bytes | None]:
        """The stored encodings of the blocks we have and consider valid (None for the
        others), read off the event loop in one trip. A peer asking for a block has its
        header: that is what we know of its chain."""
        st = self._state.get(peer.id)
        wanted: list[bytes | None] = []
        for block_hash in hashes:
            entry = self.chain.index.get(block_hash)
            if entry is None or not entry.have_data or entry.failed:
                wanted.append(None)
                continue
            if st is not None:
                self._saw(st, entry)
            wanted.append(block_hash)
        get_raw = self.chain.get_block_raw
        return await asyncio.to_thread(lambda: [None if h is None else get_raw(h) for h in wanted])

    async def _plan_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._plan_once()

    async def _plan_once(self) -> None:
        cap = self.settings.max_blocks_in_flight
        requests = []
        for peer in self._peers.values():
            st = self._state.get(peer.id)
            if st is None or peer.closing or st.best_known is None:
                continue
            # Up to ``cap`` blocks on the wire, and as many again received and waiting for
            # the node: enough to keep validation busy, and a bound on what is held.
            free = min(cap - len(st.in_flight), 2 * cap - len(st.in_flight) - st.validating)
            if free > 0:
                requests.append((peer.id, st.best_known, free))
        if not requests:
            return
        plan = await self.config.run_chain(
            plan_downloads,
            self.chain,
            requests,
            frozenset(self._in_flight.keys() | self._validating),
            self.settings.block_download_window,
        )
        now = asyncio.get_running_loop().time()
        for peer_id, common_height, hashes in plan:
            target = self._peers.get(peer_id)
            st = self._state.get(peer_id)
            if target is None or st is None or target.closing:
                continue
            st.common_height = common_height
            fresh = [h for h in hashes if h not in self._in_flight and h not in self._validating]
            fresh = fresh[: cap - len(st.in_flight)]
            if not fresh:
                continue
            if not st.in_flight:
                st.last_progress = now
            for block_hash in fresh:
                st.in_flight[block_hash] = now
                self._in_flight[block_hash] = peer_id
            target.send_nowait(GetData(tuple(InvItem(INV_BLOCK, h) for h in fresh)))

    async def _stall_loop(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.settings.block_stall_timeout
        while True:
            await asyncio.sleep(self.settings.tick_interval)
            now = loop.time()
            for peer in list(self._peers.values()):
                st = self._state.get(peer.id)
                if st is not None and st.in_flight and now - st.last_progress > timeout:
                    peer.disconnect(
                        f"stalled block download: {len(st.in_flight)} blocks asked, "
                        f"none received in {timeout:g} s"
                    )

    # --- announcing ------------------------------------------------------------------------

    def on_chain_update(self, update: ChainChange) -> None:
        """Announce newly connected blocks to peers that may not have them; replan (the
        download window moved, or a reorg needs other bodies)."""
        self._wake.set()
        if not update.connected:
            return
        tip = self.chain.tip
        if tip.chainwork > self.best_header.chainwork:
            self.best_header = tip
        entries = [
            e for e in (self.chain.index.get(b.hash) for b in update.connected) if e is not None
        ]
        for peer in self._peers.values():
            st = self._state.get(peer.id)
            if st is None or peer.closing:
                continue
            best = st.best_known
            if best is not None and best.chainwork >= tip.chainwork:
                continue  # it has this chain, or one we would not make it leave
            new = [e for e in entries if not _has(best, e)]
            if not new:
                continue
            if len(new) > self.settings.max_blocks_to_announce:
                new = new[-1:]
            peer.send_nowait(Headers(tuple(e.header for e in new)))


def _has(best: IndexEntry | None, entry: IndexEntry) -> bool:
    return best is not None and best.height >= entry.height and best.ancestor(entry.height) is entry
