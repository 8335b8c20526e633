"""``/events``: the node's event bus over a WebSocket, one JSON text message per event.

Every event the node publishes goes out as it happens: ``block_connected`` {hash, height,
txs}, ``block_disconnected`` {hash, height}, ``reorg`` {depth, tip, old_tip, fork_hash,
fork_height}, ``tx_accepted`` {txid, and ``source`` "reorg" or "orphan" for a tx that a
disconnected block returned or a new parent completed}, ``tx_rejected`` {txid, reason: the
reject code}, ``tx_replaced`` {txid, replaced_by}, and the peer events the p2p layer publishes
(``peer_connected``, ``peer_disconnected`` {reason: why, an eviction included},
``peer_banned``), and ``campaign_updated`` {id, state, pledged} when a campaign's
pledges or state change. Each carries ``type`` and ``time``.
``?types=a,b`` narrows the stream to those types.

A subscriber is registered before the handshake completes, so a client that has its
socket open sees every later event. A slow client loses its oldest events (the bus's
bounded queue) instead of growing the node's memory. Pings every ``heartbeat`` seconds
drop dead connections; the node closes every socket when it stops.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import WSCloseCode, web

from p2p.tasks import cancel_and_wait

from ..events import EventBus
from ..rpc.jsonfmt import dumps

log = logging.getLogger("obol.web")

HEARTBEAT = 20.0
MAX_CLIENT_MESSAGE = 4096  # clients have nothing to say; a big frame is abuse


class EventStream:
    def __init__(self, bus: EventBus, heartbeat: float = HEARTBEAT) -> None:
        self._bus = bus
        self._heartbeat = heartbeat
        self._sockets: set[web.WebSocketResponse] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=self._heartbeat, max_msg_size=MAX_CLIENT_MESSAGE)
        if not ws.can_prepare(request).ok:
            return web.json_response(
                {"error": "/events is a WebSocket: connect with a WebSocket client"}, status=400
            )
        wanted = {t for t in request.query.get("types", "").split(",") if t}
        queue = self._bus.subscribe()
        sender: asyncio.Task[None] | None = None
        try:
            await ws.prepare(request)
            self._sockets.add(ws)
            sender = asyncio.create_task(self._send(ws, queue, wanted))
            async for _ in ws:  # nothing to read; the loop ends when the client goes
                pass
        finally:
            self._bus.unsubscribe(queue)
            self._sockets.discard(ws)
            if sender is not None:
                await cancel_and_wait([sender], log)
        return ws

    async def _send(
        self, ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any]], wanted: set[str]
    ) -> None:
        while not ws.closed:
            event = await queue.get()
            if wanted and event["type"] not in wanted:
                continue
            try:
                text = dumps(event).decode("ascii")
            except (TypeError, ValueError) as exc:  # a publisher's bug must not end the stream
                log.warning("event %s not sent: %s", event["type"], exc)
                continue
            await ws.send_str(text)

    async def close_all(self, app: web.Application | None = None) -> None:
        """Close every socket (an ``on_shutdown`` hook: the server would otherwise wait
        for these endless handlers until its shutdown timeout)."""
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"node stopping")
