"""The peer manager: who we are connected to, and what every connection may do.

- Listens on ``ws://<bind>:<port>/p2p`` (its own aiohttp server, apart from RPC). Inbound
  connections are refused before the WebSocket upgrade when the IP is banned, networking is
  off, or ``max_inbound`` is reached.
- Dials out to ``--connect`` targets and ``addnode add`` nodes, keeping them connected with
  exponential backoff (1 s doubling to 60 s); ``addnode onetry`` dials once; the outbound
  peers of the last run (``anchors.json``) are redialed at start, so a restarted node
  finds its network again.
- Handshake policy: a node id equal to ours is a self-connection; a banned node id is
  refused; two connections to one node (say both dialed each other) are resolved the same
  way on both ends: the one whose initiator has the smaller (node id, nonce) stays.
- Misbehaviour adds up per peer; at 100 the peer is disconnected and banned (see
  ``banlist`` for what is banned: the IP, or the node id of a loopback peer).
- Addresses: outbound peers are asked ``getaddr`` once; inbound peers that listen are
  remembered and their address relayed to two other peers; ``addr`` from a peer is
  rate-limited by a token bucket (Core's 0.1 per second, burst 1,000).
- Messages go to ``on_<command>`` handlers here and in ``sync`` (blocks) and ``relay``
  (txs) through one table keyed by message class.

Lifecycle: ``start()`` then ``stop()``, which closes every connection, waits for blocks
being validated, and saves the ban list, address book and anchors.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from consensus.primitives import Tx

from .addrbook import AddrBook, TokenBucket
from .banlist import Ban, BanList, ip_subject, node_subject, parse_subject
from .config import ChainChange, PeerManagerConfig
from .identity import NodeKey
from .jsonfile import read_json, write_json
from .listener import ConnectionGuard, GuardedSite
from .messages import (
    INV_BLOCK,
    INV_TX,
    MAX_ADDR,
    PROTOCOL_VERSION,
    Addr,
    BlockMsg,
    GetAddr,
    GetData,
    GetHeaders,
    Headers,
    Inv,
    InvItem,
    Message,
    NetAddress,
    NotFound,
    TxMsg,
    Version,
    block_frame,
)
from .peer import Peer, PeerClosed, format_hostport
from .relay import TxRelay
from .rolling import RollingFilter
from .sync import BlockSync
from .tasks import cancel_and_wait, log_crash, supervised

log = logging.getLogger("obol.p2p")
_log_crash = log_crash(log)

ADDR_RELAY_FANOUT = 2  # Core relays a fresh address to two peers
MAX_KNOWN_ADDRS = 5000  # per peer, as Core's m_addr_known
MAX_ADDR_TO_RELAY = 10  # only small addr messages are relayed (Core's rule)
ADDR_FRESH_SECONDS = 10 * 60
MAX_TRACKED_HOSTS = 10_000  # inbound hosts whose node ids are remembered, oldest dropped
# Blocks of one getdata read from the database per trip off the event loop: a sync asks
# for up to 16 at a time (max_blocks_in_flight).
SERVE_GROUP = 16


class NetworkError(Exception):
    """A peer-management request that cannot be done; network RPCs map it to Core's codes."""


class AlreadyAdded(NetworkError):
    pass


class NotAdded(NetworkError):
    pass


class AlreadyBanned(NetworkError):
    pass


class NotBanned(NetworkError):
    pass


@dataclass(slots=True, eq=False)
class PeerAddrs:
    bucket: TokenBucket
    processed: int = 0
    rate_limited: int = 0
    answered_getaddr: bool = False
    # Addresses sent to or heard from the peer: never sent to it again (Core's m_addr_known).
    known: RollingFilter = field(default_factory=lambda: RollingFilter(MAX_KNOWN_ADDRS))


def parse_target(text: str, default_port: int) -> tuple[str, int]:
    """``host:port``, ``[v6]:port``, or a bare host or IP (the network's port)."""
    text = text.strip()
    if not text:
        raise ValueError("empty address")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"bad address {text!r}")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad address {text!r}")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"bad address {text!r}")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) <= 0xFFFF:
            raise ValueError(f"bad port in {text!r}")
        port = int(port_text)
    return host, port


def network_name(host: str) -> str:
    """Core's getpeerinfo "network": ipv4, ipv6, or not_publicly_routable."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "not_publicly_routable"
    if not ip.is_global:
        return "not_publicly_routable"
    return "ipv4" if ip.version == 4 else "ipv6"


class PeerManager:
    def __init__(self, config: PeerManagerConfig) -> None:
        self.config = config
        self.params = config.params
        self.settings = config.settings
        self.chain = config.chain
        datadir = config.datadir
        self.bans = BanList(datadir / "banlist.json", config.clock)
        self.addrbook = AddrBook(datadir / "peers.json")
        self._anchors_path = datadir / "anchors.json"
        self.node_key: NodeKey | None = None
        self.peers: dict[int, Peer] = {}
        self.sync = BlockSync(config, self.peers, self.on_misbehaving)
        self.relay = TxRelay(config, self.peers, self.on_misbehaving)
        self._handlers: dict[type[Message], Callable[[Any, Any], Awaitable[None]]] = {
            GetAddr: self.on_getaddr,
            Addr: self.on_addr,
            Inv: self.on_inv,
            GetData: self.on_getdata,
            NotFound: self.on_notfound,
            TxMsg: self.relay.on_tx,
            BlockMsg: self.sync.on_block,
            GetHeaders: self.sync.on_getheaders,
            Headers: self.sync.on_headers,
        }
        self._addrs: dict[int, PeerAddrs] = {}
        self._next_id = 0
        # addnode/--connect targets and the task keeping each connected (None before start)
        self._added: dict[str, asyncio.Task[Any] | None] = {}
        self._target_ids: dict[str, bytes] = {}  # target -> node id it led to
        # inbound host -> node id -> when last seen (the ids each host has shown lately)
        self._node_ids_by_host: dict[str, dict[bytes, float]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()  # keepers, onetry and anchor dials
        self._no_peers = asyncio.Event()
        self._no_peers.set()
        self._reconnect_now = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._rng = random.SystemRandom()
        self.network_active = True
        self.listen_port = 0
        self._started = False
        self._stopping = False

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        cfg.datadir.mkdir(parents=True, exist_ok=True)
        self.node_key = NodeKey.load_or_create(cfg.datadir / "nodekey")
        self.bans.load()
        self.addrbook.load()
        self._session = aiohttp.ClientSession()
        if cfg.listen:
            app = web.Application()
            app.router.add_get("/p2p", self._accept)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            try:
                guard = ConnectionGuard(
                    "p2p", self.settings.max_connections, self.settings.header_timeout
                )
                await GuardedSite(runner, cfg.bind, cfg.port, guard).start()
            except OSError:
                await runner.cleanup()
                await self._session.close()
                raise
            self._runner = runner
            self.listen_port = runner.addresses[0][1]
            log.info("listening for peers on %s", self.url)
        await self.sync.start()
        self.relay.start()
        self._started = True
        for target in cfg.connect:
            with contextlib.suppress(AlreadyAdded, ValueError):
                self.add_node(target, "add")
        for target in list(self._added):
            if self._added[target] is None:
                self._added[target] = self._spawn_keeper(target)
        for target in self._load_anchors():
            if target not in self._added:
                self._spawn(self._dial_anchor(target), f"p2p-anchor-{target}")

    async def stop(self) -> None:
        """Close every connection and persist what we learned; safe to call twice."""
        if not self._started or self._stopping:
            return
        self._stopping = True
        self._save_anchors()
        tasks = list(self._tasks)
        for peer in list(self.peers.values()):
            peer.disconnect("shutting down")
        await cancel_and_wait(tasks, log)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.close_timeout + 1):
                await self._no_peers.wait()
        await self.relay.stop()
        await self.sync.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.addrbook.save()

    @property
    def url(self) -> str:
        return f"ws://{format_hostport(self.config.bind, self.listen_port)}/p2p"

    @property
    def node_id(self) -> bytes:
        assert self.node_key is not None, "start() loads the node key"
        return self.node_key.node_id

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_crash)
        return task

    # --- node hooks ------------------------------------------------------------------------

    def on_chain_update(self, update: ChainChange) -> None:
        """The active chain changed (any source): announce, and move the download window."""
        self.sync.on_chain_update(update)
        self.relay.on_chain_update(update)

    def relay_txs(self, txs: Iterable[Tx]) -> None:
        """Txs entered the mempool (any source): announce them in the next batch."""
        self.relay.relay(txs)

    # --- connections -----------------------------------------------------------------------

    def _new_peer(self, ws: Any, **kwargs: Any) -> Peer:
        assert self.node_key is not None
        self._next_id += 1
        return Peer(
            ws,
            self,
            peer_id=self._next_id,
            magic=self.params.magic,
            network=self.params.name,
            node_key=self.node_key,
            settings=self.settings,
            **kwargs,
        )

    async def _serve(self, peer: Peer) -> None:
        self.peers[peer.id] = peer
        self._no_peers.clear()
        log.debug("%r: connected, handshaking", peer)
        try:
            await peer.run()
        finally:
            del self.peers[peer.id]
            self.sync.remove_peer(peer)
            self.relay.remove_peer(peer)
            self._addrs.pop(peer.id, None)
            if not self.peers:
                self._no_peers.set()
            reason = peer.close_reason or "connection closed"
            log.info("%r disconnected: %s", peer, reason)
            if peer.handshake_complete:
                self.config.publish(
                    "peer_disconnected", {"id": peer.id, "addr": peer.addr, "reason": reason}
                )

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        peername = transport.get_extra_info("peername") if transport is not None else None
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        if not peername or not sockname:
            return web.Response(status=400)
        host, port = peername[0], peername[1]
        if not self.network_active or self._stopping:
            return web.Response(status=503, text="networking is disabled")
        if self.bans.ip_banned(host):
            log.info("refused inbound connection from banned %s", host)
            return web.Response(status=403, text="banned")
        if sum(p.inbound for p in self.peers.values()) >= self.settings.max_inbound:
            log.info("refused inbound connection from %s: inbound slots full", host)
            return web.Response(status=503, text="too many connections")
        ws = web.WebSocketResponse(
            max_msg_size=self.settings.max_frame_size,
            compress=False,
            autoping=True,
            timeout=self.settings.close_timeout,
        )
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, text="obol peer-to-peer endpoint: use a WebSocket")
        await ws.prepare(request)
        peer = self._new_peer(
            ws,
            inbound=True,
            host=host,
            port=port,
            addrbind=format_hostport(sockname[0], sockname[1]),
            connection_type="inbound",
        )
        await self._serve(peer)
        return ws

    async def _dial(self, target: str) -> bool:
        """One outbound connection to ``target``, served until it ends; whether the
        handshake completed."""
        assert self._session is not None
        if not self.network_active or self._stopping:
            return False
        try:
            host, port = parse_target(target, self.params.p2p_port)
        except ValueError as exc:
            log.warning("not connecting to %s: %s", target, exc)
            return False
        if self.bans.ip_banned(host):
            log.info("not connecting to banned %s", target)
            return False
        url = f"ws://{format_hostport(host, port)}/p2p"
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                ws = await self._session.ws_connect(
                    url,
                    max_msg_size=self.settings.max_frame_size,
                    compress=0,
                    autoping=True,
                    timeout=aiohttp.ClientWSTimeout(ws_close=self.settings.close_timeout),
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("cannot connect to %s: %s", target, exc or type(exc).__name__)
            return False
        peername = ws.get_extra_info("peername") or (host, port)
        sockname = ws.get_extra_info("sockname") or ("", 0)
        peer = self._new_peer(
            ws,
            inbound=False,
            host=peername[0],
            port=peername[1],
            addrbind=format_hostport(sockname[0], sockname[1]),
            connection_type="manual",
            target=target,
        )
        await self._serve(peer)
        return peer.handshake_complete

    def _connected_to(self, target: str) -> bool:
        node_id = self._target_ids.get(target)
        return any(
            p.target == target or (node_id is not None and p.node_id == node_id)
            for p in self.peers.values()
        )

    def _spawn_keeper(self, target: str) -> asyncio.Task[Any]:
        name = f"p2p-keep-{target}"
        return self._spawn(supervised(name, lambda: self._keep_connected(target), log), name)

    async def _keep_connected(self, target: str) -> None:
        """Redial ``target`` whenever it is not connected, backing off while it fails,
        for as long as it stays added (a removed node keeps its current connection)."""
        backoff = self.settings.reconnect_min
        while self._added.get(target) is asyncio.current_task():
            if not self._connected_to(target):
                if await self._dial(target):
                    backoff = self.settings.reconnect_min
                else:
                    backoff = min(backoff * 2, self.settings.reconnect_max)
            wake = self._reconnect_now
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await wake.wait()
        log.info("no longer keeping a connection to %s", target)

    async def _dial_anchor(self, target: str) -> None:
        delay = self.settings.reconnect_min
        for _ in range(self.settings.anchor_attempts):
            if self._connected_to(target):
                return
            if await self._dial(target):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.reconnect_max)

    def _load_anchors(self) -> list[str]:
        data = read_json(self._anchors_path)
        return [t for t in data if isinstance(t, str)] if isinstance(data, list) else []

    def _save_anchors(self) -> None:
        targets = sorted(
            {p.target for p in self.peers.values() if p.target and p.handshake_complete}
        )
        write_json(self._anchors_path, targets)

    # --- the handshake (PeerHandler) -------------------------------------------------------

    def our_version(self, peer: Peer, nonce: int) -> Version:
        tip = self.chain.tip
        return Version(
            PROTOCOL_VERSION,
            self.params.name,
            self.node_id,
            nonce,
            tip.height,
            tip.hash,
            self.config.user_agent,
            self.listen_port,
            max(0, int(self.config.clock())),
        )

    def on_version(self, peer: Peer, msg: Version) -> None:
        if msg.node_id == self.node_id or any(
            p.outbound and p.local_nonce == msg.nonce for p in self.peers.values()
        ):
            raise PeerClosed("connected to self")
        if self.bans.node_banned(msg.node_id):
            raise PeerClosed("the node id is banned")
        if peer.inbound:
            self._note_node_id(peer.host, msg.node_id)

    def _note_node_id(self, host: str, node_id: bytes) -> None:
        """Take a node id from an inbound host, unless it has shown too many new ones
        within the window (a banned loopback peer making itself a new key)."""
        now = self._now()
        seen = self._node_ids_by_host.pop(host, {})
        self._node_ids_by_host[host] = seen  # most recent last
        for known, when in list(seen.items()):
            if now - when > self.settings.node_id_window:
                del seen[known]
        if node_id not in seen and len(seen) >= self.settings.max_new_node_ids_per_host:
            raise PeerClosed(
                f"{len(seen)} node ids from {host} within {self.settings.node_id_window:.0f} s: "
                "no new one is taken"
            )
        seen[node_id] = now
        while len(self._node_ids_by_host) > MAX_TRACKED_HOSTS:
            del self._node_ids_by_host[next(iter(self._node_ids_by_host))]

    def on_handshake(self, peer: Peer) -> None:
        assert peer.node_id is not None and peer.version is not None
        for other in list(self.peers.values()):
            if other is peer or not other.handshake_complete or other.node_id != peer.node_id:
                continue
            keep, drop = sorted((peer, other), key=self._connection_rank)
            reason = f"duplicate connection to node {peer.node_id.hex()[:16]}, keeping {keep!r}"
            if drop is peer:
                raise PeerClosed(reason)
            drop.disconnect(reason)
        version = peer.version
        self._addrs[peer.id] = PeerAddrs(TokenBucket(updated=self._now()))
        self.sync.add_peer(peer)
        self.relay.add_peer(peer)
        if peer.target is not None:
            self._target_ids[peer.target] = peer.node_id
            self._addrs[peer.id].bucket.grant(MAX_ADDR)
            peer.send_nowait(GetAddr())
            self._save_anchors()
        elif version.listen_port:
            self._learn_address(peer, version.listen_port)
        log.info(
            "new %s peer: %r node=%s subver=%s height=%d",
            "outbound" if peer.outbound else "inbound",
            peer,
            peer.node_id.hex()[:16],
            version.user_agent,
            version.best_height,
        )
        self.config.publish(
            "peer_connected",
            {
                "id": peer.id,
                "addr": peer.addr,
                "inbound": peer.inbound,
                "subver": version.user_agent,
            },
        )

    def _connection_rank(self, peer: Peer) -> tuple[bytes, int]:
        """(initiator's node id, initiator's nonce): both ends compute the same."""
        assert peer.version is not None and peer.node_id is not None
        if peer.outbound:
            return self.node_id, peer.local_nonce
        return peer.node_id, peer.version.nonce

    def expects(self, peer: Peer, kind: type[Message]) -> bool:
        if not peer.handshake_complete:
            return False
        if kind is BlockMsg:
            return self.sync.expects_block(peer)
        if kind is TxMsg:
            return self.relay.expects_tx(peer)
        return True

    async def on_message(self, peer: Peer, msg: Message) -> None:
        handler = self._handlers.get(type(msg))
        if handler is not None:
            await handler(peer, msg)

    # --- misbehaviour and bans -------------------------------------------------------------

    def on_misbehaving(self, peer: Peer, score: int, reason: str) -> None:
        peer.misbehavior += score
        log.info("%r misbehaving (+%d = %d): %s", peer, score, peer.misbehavior, reason)
        if peer.misbehavior < self.settings.ban_threshold:
            return
        subject = self._ban_subject(peer)
        if subject is not None and not self.bans.is_banned(subject):
            until = int(self.config.clock()) + self.settings.ban_seconds
            self.bans.ban(subject, until)
            log.warning("banned %s (%r) until %d: %s", subject, peer, until, reason)
            self.config.publish(
                "peer_banned",
                {"id": peer.id, "addr": peer.addr, "address": subject, "reason": reason},
            )
        peer.disconnect(f"misbehaving: {reason}")

    def _ban_subject(self, peer: Peer) -> str | None:
        """The peer's IP, or for a loopback peer its proved node id (None before that)."""
        try:
            loopback = ipaddress.ip_address(peer.host).is_loopback
        except ValueError:
            return None
        if loopback:
            return node_subject(peer.node_id) if peer.node_id is not None else None
        return ip_subject(peer.host)

    def _peer_matches(self, peer: Peer, subject: str) -> bool:
        if peer.node_id is not None and subject == node_subject(peer.node_id):
            return True
        try:
            return ipaddress.ip_address(peer.host) in ipaddress.ip_network(subject)
        except ValueError:
            return False

    # --- addresses -------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _learn_address(self, peer: Peer, port: int) -> None:
        try:
            addr = NetAddress(max(0, int(self.config.clock())), peer.host, port)
        except ValueError:
            return
        if self.addrbook.add(addr):
            self._relay_address(addr, exclude=peer)

    def _relay_address(self, addr: NetAddress, exclude: Peer) -> None:
        key = (addr.host, addr.port)
        targets = [
            p
            for p in self.peers.values()
            if p is not exclude
            and p.handshake_complete
            and not p.closing
            and p.id in self._addrs
            and key not in self._addrs[p.id].known
        ]
        for peer in self._rng.sample(targets, min(ADDR_RELAY_FANOUT, len(targets))):
            self._addrs[peer.id].known.add(key)
            peer.send_nowait(Addr((addr,)))

    async def on_getaddr(self, peer: Peer, msg: GetAddr) -> None:
        st = self._addrs[peer.id]
        if peer.outbound or st.answered_getaddr:
            return  # Core answers inbound peers once: a peer cannot scrape the book
        st.answered_getaddr = True
        sample = self.addrbook.sample(MAX_ADDR)
        st.known.update((a.host, a.port) for a in sample)
        await peer.send(Addr(tuple(sample)))

    async def on_addr(self, peer: Peer, msg: Addr) -> None:
        st = self._addrs[peer.id]
        now_loop = self._now()
        now = int(self.config.clock())
        relay = len(msg.addresses) <= MAX_ADDR_TO_RELAY
        for addr in msg.addresses:
            if not st.bucket.take(now_loop):
                st.rate_limited += 1
                continue
            st.processed += 1
            st.known.add((addr.host, addr.port))
            if addr.time > now + ADDR_FRESH_SECONDS:
                addr = NetAddress(max(0, now - 5 * 24 * 3600), addr.host, addr.port)
            if self.addrbook.add(addr) and relay and now - addr.time <= ADDR_FRESH_SECONDS:
                self._relay_address(addr, exclude=peer)

    def addr_stats(self, peer_id: int) -> PeerAddrs | None:
        return self._addrs.get(peer_id)

    # --- inventory -------------------------------------------------------------------------

    async def on_inv(self, peer: Peer, msg: Inv) -> None:
        txids = msg.hashes(INV_TX)
        if txids:
            self.relay.on_tx_inv(peer, txids)
        blocks = msg.hashes(INV_BLOCK)
        if blocks:
            await self.sync.on_block_inv(peer, blocks)

    async def on_getdata(self, peer: Peer, msg: GetData) -> None:
        """Serve in order; what we do not have (or will not serve) comes back in notfound."""
        missing = []
        items = msg.items
        n = 0
        while n < len(items):
            if peer.closing:
                return
            if items[n].type != INV_BLOCK:
                item = items[n]
                n += 1
                tx = self.config.mempool_tx(item.hash)
                if tx is None:
                    missing.append(item)
                else:
                    await peer.send(TxMsg(tx))
                continue
            # Consecutive block requests are read from the database together, in one trip
            # off the event loop, and sent as stored: no decode, no re-encode.
            group: list[InvItem] = []
            while n < len(items) and items[n].type == INV_BLOCK and len(group) < SERVE_GROUP:
                group.append(items[n])
                n += 1
            bodies = await self.sync.serve_blocks(peer, [item.hash for item in group])
            for item, raw in zip(group, bodies, strict=True):
                if raw is None:
                    missing.append(item)
                elif not peer.closing:
                    await peer.send_frame(block_frame(peer.magic, raw), BlockMsg.command)
        if missing:
            await peer.send(NotFound(tuple(missing)))

    async def on_notfound(self, peer: Peer, msg: NotFound) -> None:
        self.sync.on_block_notfound(peer, msg.hashes(INV_BLOCK))
        self.relay.on_tx_notfound(peer, msg.hashes(INV_TX))

    # --- for the network RPCs --------------------------------------------------------------

    def connected_peers(self) -> list[Peer]:
        """Peers past the handshake, by id (getpeerinfo lists these)."""
        return sorted((p for p in self.peers.values() if p.handshake_complete), key=lambda p: p.id)

    def add_node(self, target: str, command: str) -> None:
        """addnode: "add" keeps a node connected, "remove" stops that, "onetry" dials once."""
        parse_target(target, self.params.p2p_port)
        if command == "add":
            if target in self._added:
                raise AlreadyAdded("Error: Node already added")
            self._added[target] = self._spawn_keeper(target) if self._started else None
        elif command == "remove":
            if target not in self._added:
                raise NotAdded(
                    "Error: Node could not be removed. It has not been added previously."
                )
            del self._added[target]
        elif command == "onetry":
            if self._started and not self._stopping:
                self._spawn(self._dial(target), f"p2p-onetry-{target}")
        else:
            raise ValueError(f"unknown addnode command {command!r}")

    def added_nodes(self) -> list[tuple[str, Peer | None]]:
        out = []
        for target in self._added:
            peer = next((p for p in self.peers.values() if p.target == target), None)
            out.append((target, peer))
        return out

    def disconnect_node(self, address: str | None = None, peer_id: int | None = None) -> bool:
        for peer in list(self.peers.values()):
            if (address is not None and peer.addr == address) or peer.id == peer_id:
                peer.disconnect("disconnectnode requested")
                return True
        return False

    def set_ban(self, text: str, seconds: int | None = None, absolute: bool = False) -> Ban:
        subject = parse_subject(text)
        if self.bans.is_banned(subject):
            raise AlreadyBanned("Error: IP/Subnet already banned")
        now = int(self.config.clock())
        if absolute and seconds is not None:
            until = seconds
        else:
            until = now + (seconds if seconds else self.settings.ban_seconds)
        ban = self.bans.ban(subject, until)
        for peer in list(self.peers.values()):
            if self._peer_matches(peer, subject):
                peer.disconnect("banned by setban")
        return ban

    def unban(self, text: str) -> None:
        if not self.bans.unban(parse_subject(text)):
            raise NotBanned(
                "Error: Unban failed. Requested address/subnet was not previously manually banned."
            )

    def set_network_active(self, active: bool) -> None:
        if active == self.network_active:
            return
        self.network_active = active
        log.info("networking %s", "enabled" if active else "disabled")
        if active:
            self._reconnect_now.set()
            self._reconnect_now = asyncio.Event()
            return
        for peer in list(self.peers.values()):
            peer.disconnect("networking disabled (setnetworkactive false)")
