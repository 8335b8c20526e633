"""In-process publish/subscribe for node events (blocks, txs, reorgs, peers).

Subscribers get bounded queues: a slow subscriber loses its oldest events rather than
holding the node's memory hostage. ``/events`` and the dashboard read from here.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

MAX_QUEUE = 1000


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.counts: dict[str, int] = {}

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        event = {"type": kind, "time": time.time(), **data}
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
