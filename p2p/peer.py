"""One connection: framing, the handshake, pings, a bounded send queue and a clean close.

A ``Peer`` wraps one WebSocket (server or client side alike) and owns three tasks, all
started and cancelled by ``run()``: the reader (handshake, then one message at a time), the
writer (drains the send queue) and the pinger. Whatever ends the connection — the remote
side, a protocol error, a ``disconnect()`` from the manager, a timeout — ends ``run()`` with
one logged reason.

The reader refuses junk before doing work for it: a frame's magic, command and size are
read from its prefix (see ``messages.read_envelope``); a block or tx nobody asked this peer
for is refused before it is decoded; large payloads are decoded off the event loop. The
messages that concern only this connection (version, verack, ping, pong) are handled here;
every other one goes to the handler (the peer manager). A handler raises ``Misbehaving``
to report the peer; the handler's ``on_misbehaving`` decides on bans and disconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType

from consensus.errors import DecodeError

from .config import P2PSettings
from .identity import NodeKey, verify_proof
from .messages import (
    MIN_PROTOCOL_VERSION,
    Message,
    Ping,
    Pong,
    Verack,
    Version,
    decode_payload,
    encode_frame,
    read_envelope,
)
from .tasks import cancel_and_wait

log = logging.getLogger("obol.p2p.peer")

OTHER = "*other*"  # Core's name for the byte counters of unknown commands


class PeerClosed(Exception):
    """The connection ends; ``reason`` is what the log says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Misbehaving(Exception):
    """The peer broke a rule worth ``score`` points (100 = ban, as Core's old scores)."""

    def __init__(self, score: int, reason: str) -> None:
        super().__init__(f"{reason} (+{score})")
        self.score = score
        self.reason = reason


class Transport(Protocol):
    """What a Peer uses of aiohttp's server and client WebSocket classes."""

    async def receive(self) -> WSMessage: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self) -> bool: ...


class PeerHandler(Protocol):
    """The peer manager, as a Peer sees it."""

    def our_version(self, peer: Peer, nonce: int) -> Version: ...

    def on_version(self, peer: Peer, msg: Version) -> None:
        """Raise PeerClosed to refuse the peer (self-connection, banned node id...)."""

    def on_handshake(self, peer: Peer) -> None:
        """The peer proved its node id; raise PeerClosed to drop it (duplicate)."""

    def expects(self, peer: Peer, kind: type[Message]) -> bool:
        """Whether the peer has an outstanding request of ours for a ``kind`` message."""

    async def on_message(self, peer: Peer, msg: Message) -> None: ...

    def on_misbehaving(self, peer: Peer, score: int, reason: str) -> None: ...


class Peer:
    """One connection, either direction; its attributes are what getpeerinfo reports."""

    def __init__(
        self,
        transport: Transport,
        handler: PeerHandler,
        *,
        peer_id: int,
        inbound: bool,
        host: str,
        port: int,
        addrbind: str,
        connection_type: str,
        magic: bytes,
        network: str,
        node_key: NodeKey,
        settings: P2PSettings,
        target: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.ws = transport
        self.handler = handler
        self.id = peer_id
        self.inbound = inbound
        self.outbound = not inbound
        self.host = host
        self.port = port
        self.addr = target or format_hostport(host, port)
        self.addrbind = addrbind
        self.connection_type = connection_type
        self.target = target  # the address we dialed (outbound only)
        self.magic = magic
        self.network = network
        self.node_key = node_key
        self.settings = settings
        self._clock = wall_clock
        self.conntime = int(wall_clock())
        # Handshake.
        self.version: Version | None = None
        self.local_nonce = 0
        self.node_id: bytes | None = None  # set once proved
        self.handshake_complete = False
        self._handshake_done = asyncio.Event()
        # Accounting, for getpeerinfo.
        self.misbehavior = 0
        self.bytes_sent = 0
        self.bytes_recv = 0
        self.sent_per_msg: dict[str, int] = {}
        self.recv_per_msg: dict[str, int] = {}
        self.last_send = 0
        self.last_recv = 0
        self.ping_time: float | None = None
        self.min_ping: float | None = None
        self._ping_nonce: int | None = None
        self._ping_started = 0.0
        # Sending.
        self._queue: deque[tuple[bytes, str]] = deque()
        self._queued_bytes = 0
        self._has_data = asyncio.Event()
        self._space = asyncio.Event()
        # Closing.
        self._close_requested = asyncio.Event()
        self.closing = False
        self.close_reason: str | None = None

    def __repr__(self) -> str:
        return f"peer={self.id} {self.addr} ({self.connection_type})"

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> str:
        """Serve the connection until it ends; returns the reason. Never raises but
        CancelledError, after cleaning up."""
        tasks = (
            asyncio.create_task(self._read_loop(), name=f"peer{self.id}-read"),
            asyncio.create_task(self._write_loop(), name=f"peer{self.id}-write"),
            asyncio.create_task(self._ping_loop(), name=f"peer{self.id}-ping"),
            asyncio.create_task(self._close_requested.wait(), name=f"peer{self.id}-close"),
        )
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks[:3]:
                if task.done() and not task.cancelled():
                    exc = task.exception()
                    if isinstance(exc, PeerClosed):
                        self._set_reason(exc.reason)
                    elif exc is not None:
                        log.error("%r: internal error", self, exc_info=exc)
                        self._set_reason(f"internal error: {exc!r}")
        finally:
            self.closing = True
            await cancel_and_wait(reversed(tasks), log, expected=(PeerClosed,))
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.close_timeout):
                    await self.ws.close()
            self._set_reason("connection closed")
        assert self.close_reason is not None
        return self.close_reason

    def disconnect(self, reason: str) -> None:
        """End the connection soon (from any task); the first reason given is the one logged."""
        self._set_reason(reason)
        self.closing = True
        self._close_requested.set()

    def _set_reason(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason

    # --- sending ---------------------------------------------------------------------------

    async def send(self, msg: Message) -> None:
        """Queue a reply, waiting while the queue is above the soft limit: a peer that asks
        for data faster than it reads only slows down its own requests."""
        await self.send_frame(encode_frame(self.magic, msg), msg.command)

    async def send_frame(self, frame: bytes, command: str) -> None:
        """``send`` for a frame already encoded (a block served from the database)."""
        while self._queued_bytes > self.settings.send_buffer_soft and not self.closing:
            self._space.clear()
            await self._space.wait()
        self._enqueue(frame, command)

    def send_nowait(self, msg: Message) -> None:
        """Queue an announcement or ping at once; a peer whose queue would pass the hard
        limit is not reading, and is dropped."""
        frame = encode_frame(self.magic, msg)
        if self._queued_bytes + len(frame) > self.settings.send_buffer_hard:
            self.disconnect("send buffer full: the peer is not reading")
            return
        self._enqueue(frame, msg.command)

    def _enqueue(self, frame: bytes, command: str) -> None:
        if self.closing:
            return
        self._queue.append((frame, command))
        self._queued_bytes += len(frame)
        self._has_data.set()

    async def _write_loop(self) -> None:
        while True:
            await self._has_data.wait()
            while self._queue:
                frame, command = self._queue.popleft()
                self._queued_bytes -= len(frame)
                try:
                    await self.ws.send_bytes(frame)
                except ConnectionError as exc:
                    raise PeerClosed(f"connection lost while sending: {exc}") from exc
                self.bytes_sent += len(frame)
                self.sent_per_msg[command] = self.sent_per_msg.get(command, 0) + len(frame)
                self.last_send = int(self._clock())
                if self._queued_bytes <= self.settings.send_buffer_soft:
                    self._space.set()
            self._has_data.clear()

    # --- receiving -------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        timeout = self.settings.handshake_timeout
        try:
            async with asyncio.timeout(timeout):
                await self._handshake()
        except TimeoutError as exc:
            raise PeerClosed(f"no handshake within {timeout:g} s") from exc
        except Misbehaving as exc:
            self.handler.on_misbehaving(self, exc.score, exc.reason)
            raise PeerClosed(f"misbehaving during the handshake: {exc.reason}") from exc
        while not self.closing:
            try:
                msg = await self._receive()
                if msg is not None:
                    await self._dispatch(msg)
            except Misbehaving as exc:
                self.handler.on_misbehaving(self, exc.score, exc.reason)
            # Let the other peers run between two messages of a peer that floods us.
            await asyncio.sleep(0)

    async def _handshake(self) -> None:
        if self.outbound:
            self._send_version()
        msg = await self._receive()
        if not isinstance(msg, Version):
            raise PeerClosed(f"expected version first, got {_name(msg)}")
        if msg.network != self.network:
            raise PeerClosed(f"wrong network: peer is on {msg.network!r}")
        if msg.protocol_version < MIN_PROTOCOL_VERSION:
            raise PeerClosed(f"protocol version {msg.protocol_version} is too old")
        self.version = msg
        self.handler.on_version(self, msg)
        if self.inbound:
            self._send_version()
        self.send_nowait(Verack(self.node_key.prove(self.magic, msg.nonce)))
        ack = await self._receive()
        if not isinstance(ack, Verack):
            raise PeerClosed(f"expected verack, got {_name(ack)}")
        if not verify_proof(self.magic, self.local_nonce, msg.node_id, ack.signature):
            raise PeerClosed("verack does not prove the node id of the version")
        self.node_id = msg.node_id
        self.handshake_complete = True
        self.handler.on_handshake(self)
        self._handshake_done.set()

    def _send_version(self) -> None:
        self.local_nonce = secrets.randbits(64)
        self.send_nowait(self.handler.our_version(self, self.local_nonce))

    async def _receive(self) -> Message | None:
        """The next message, or None for a command we do not know (ignored, as in Core)."""
        wsmsg = await self.ws.receive()
        if wsmsg.type is WSMsgType.BINARY:
            frame = bytes(wsmsg.data)
        elif wsmsg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise PeerClosed("closed by the peer")
        elif wsmsg.type is WSMsgType.ERROR:
            exc = wsmsg.data
            if isinstance(exc, WebSocketError) and exc.code == WSCloseCode.MESSAGE_TOO_BIG:
                raise Misbehaving(100, "frame above the size limit")
            raise PeerClosed(f"connection error: {exc}")
        else:
            raise Misbehaving(100, f"{wsmsg.type.name.lower()} frame instead of binary")
        self.bytes_recv += len(frame)
        self.last_recv = int(self._clock())
        try:
            env = read_envelope(frame)
        except DecodeError as exc:
            self._count_recv(OTHER, len(frame))
            raise Misbehaving(100, f"malformed frame: {exc.message}") from exc
        if env.magic != self.magic:
            raise PeerClosed(f"wrong network magic {env.magic!r}")
        kind = env.kind
        self._count_recv(env.command if kind is not None else OTHER, len(frame))
        if kind is None:
            log.debug("%r: ignoring unknown command %r", self, env.command)
            return None
        if kind.solicited and not self.handler.expects(self, kind):
            raise Misbehaving(100, f"unrequested {kind.command}")
        try:
            if len(env.payload) > self.settings.thread_decode_size:
                return await asyncio.to_thread(decode_payload, kind, env.payload)
            return decode_payload(kind, env.payload)
        except DecodeError as exc:
            raise Misbehaving(100, f"malformed {kind.command}: {exc.message}") from exc

    def _count_recv(self, command: str, size: int) -> None:
        self.recv_per_msg[command] = self.recv_per_msg.get(command, 0) + size

    async def _dispatch(self, msg: Message) -> None:
        if isinstance(msg, Ping):
            await self.send(Pong(msg.nonce))
        elif isinstance(msg, Pong):
            self._on_pong(msg)
        elif isinstance(msg, Version | Verack):
            raise Misbehaving(1, f"repeated {msg.command}")
        else:
            await self.handler.on_message(self, msg)

    # --- pings -----------------------------------------------------------------------------

    async def _ping_loop(self) -> None:
        await self._handshake_done.wait()
        loop = asyncio.get_running_loop()
        interval, timeout = self.settings.ping_interval, self.settings.ping_timeout
        next_ping = loop.time()
        while True:
            now = loop.time()
            if self._ping_nonce is not None:
                if now - self._ping_started > timeout:
                    raise PeerClosed(f"ping timeout: no pong within {timeout:g} s")
            elif now >= next_ping:
                self._ping_nonce = secrets.randbits(64)
                self._ping_started = now
                self.send_nowait(Ping(self._ping_nonce))
                next_ping = now + interval
            await asyncio.sleep(min(1.0, interval, timeout / 4))

    def _on_pong(self, msg: Pong) -> None:
        if self._ping_nonce is None or msg.nonce != self._ping_nonce:
            return  # unsolicited or stale: Core ignores these too
        rtt = asyncio.get_running_loop().time() - self._ping_started
        self._ping_nonce = None
        self.ping_time = rtt
        self.min_ping = rtt if self.min_ping is None else min(self.min_ping, rtt)

    @property
    def ping_wait(self) -> float | None:
        """Seconds the outstanding ping has waited, if one is outstanding."""
        if self._ping_nonce is None:
            return None
        return asyncio.get_running_loop().time() - self._ping_started


def _name(msg: Message | None) -> str:
    return "an unknown command" if msg is None else msg.command


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
