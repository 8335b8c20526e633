"""An aiohttp listening site that connections cannot starve: the node's P2P and RPC ports.

aiohttp applies its limits (the inbound peer cap, the handshake and work-queue limits)
only once it has read a whole request, so a client that opens connections and never
finishes its request line holds a descriptor each, for ever: 1,100 such connections took
every descriptor of a node at the common 1,024 limit, and RPC stopped answering. Here the
transport is guarded before aiohttp sees it:

- a header timeout: a connection that has not sent the end of its first request's header
  (``\\r\\n\\r\\n``) within ``header_timeout`` seconds is closed (later requests on a
  kept-alive connection are bounded by aiohttp's keep-alive timeout and by the cap);
- a cap on open connections: at the cap, a new connection takes the place of the oldest
  one still waiting for its header (a real client sends its header at once, so a flood of
  half-open connections cannot lock it out); only when none waits is it closed at once.

When descriptors do run out, asyncio's accept loop already backs off for a second; the
node's log filter keeps its repeated complaint from filling the disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from aiohttp import web

log = logging.getLogger("obol.listener")

_HEADER_END = b"\r\n\r\n"


class ConnectionGuard:
    """Counts the open connections of one listener and closes those over its limits."""

    def __init__(self, name: str, max_connections: int, header_timeout: float) -> None:
        if max_connections < 1 or header_timeout <= 0:
            raise ValueError("a listener needs at least one connection and a timeout")
        self.name = name
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.open = 0
        self.refused = 0  # closed at once: the cap was reached and none was waiting
        self.evicted = 0  # closed to make room: the oldest still waiting for its header
        self.timed_out = 0  # closed: no complete request header in time
        # Connections without a complete header yet, oldest first (dicts keep order).
        self.waiting: dict[_GuardedProtocol, None] = {}

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _GuardedProtocol(factory(), self)


class _GuardedProtocol(asyncio.Protocol):
    """Passes everything to aiohttp's protocol, after the guard's checks."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._counted = False
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""  # the last bytes seen, for a header end split across reads

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)  # what a server gives a stream protocol
        guard = self._guard
        if guard.open >= guard.max_connections and guard.waiting:
            guard.evicted += 1
            next(iter(guard.waiting)).close_waiting()
        if guard.open >= guard.max_connections:
            guard.refused += 1
            if guard.refused in (1, 100) or guard.refused % 10_000 == 0:
                log.warning(
                    "%s: %d connections open, the limit: refusing new ones (%d so far)",
                    guard.name,
                    guard.open,
                    guard.refused,
                )
            stream.abort()
            return
        guard.open += 1
        self._counted = True
        self._transport = stream
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(guard.header_timeout, self._header_timeout)
        guard.waiting[self] = None
        self._inner.connection_made(transport)

    def _header_timeout(self) -> None:
        self._guard.timed_out += 1
        self.close_waiting()

    def close_waiting(self) -> None:
        """Close a connection still waiting for its header; it stops counting at once
        (the transport reports the loss later)."""
        self._stop_waiting()
        self._release()
        assert self._transport is not None  # waiting: connection_made set it
        self._transport.abort()

    def _stop_waiting(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._guard.waiting.pop(self, None)

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            self._guard.open -= 1

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            seen = self._tail + data
            if _HEADER_END in seen:
                self._stop_waiting()
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._transport is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return  # refused at once: aiohttp never saw it
        self._stop_waiting()
        self._release()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedSite(web.TCPSite):
    """``web.TCPSite`` whose connections pass through ``guard`` first."""

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard
    ) -> None:
        super().__init__(runner, host, port)
        self.guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.guard.wrap(server), self._host, self._port, backlog=self._backlog
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]
