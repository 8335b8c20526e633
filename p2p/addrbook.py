"""Peer addresses learned from gossip, persisted in ``<datadir>/<network>/peers.json``, and the
token bucket that rate-limits how many a peer may feed us.

The book is bounded: when full, the address seen longest ago makes room. It answers
``getaddr`` and ``getnodeaddresses``. (Bitcoin Core also dials addresses from its book to
keep eight outbound peers; obol connects only where it is told to: ``--connect``,
``addnode`` and the anchors of the last run.)
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

from .jsonfile import read_json, write_json
from .messages import NetAddress

log = logging.getLogger("obol.p2p.addr")

MAX_ADDRESSES = 4096
# Core's MAX_ADDR_RATE_PER_SECOND and MAX_ADDR_PROCESSING_TOKEN_BUCKET.
ADDR_RATE_PER_SECOND = 0.1
ADDR_BUCKET_MAX = 1000.0


class AddrBook:
    """Known addresses by (host, port), each with the last time it was seen."""

    def __init__(self, path: Path, capacity: int = MAX_ADDRESSES) -> None:
        self.path = path
        self.capacity = capacity
        self._entries: dict[tuple[str, int], int] = {}
        self._rng = random.SystemRandom()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def add(self, addr: NetAddress) -> bool:
        """Record ``addr``; True if it was new. A newer sighting refreshes the time."""
        key = (addr.host, addr.port)
        known = self._entries.get(key)
        if known is not None:
            self._entries[key] = max(known, addr.time)
            return False
        if len(self._entries) >= self.capacity:
            oldest = min(self._entries, key=self._entries.__getitem__)
            del self._entries[oldest]
        self._entries[key] = addr.time
        return True

    def sample(self, count: int) -> list[NetAddress]:
        """Up to ``count`` addresses in random order (a peer learns no ordering from us)."""
        keys = list(self._entries)
        picked = self._rng.sample(keys, min(count, len(keys)))
        return [NetAddress(self._entries[k], k[0], k[1]) for k in picked]

    def load(self) -> None:
        data = read_json(self.path)
        items = data.get("addresses", []) if isinstance(data, dict) else []
        for item in items[: self.capacity]:
            try:
                self.add(NetAddress(int(item["time"]), item["host"], int(item["port"])))
            except (KeyError, TypeError, ValueError):
                continue

    def save(self) -> None:
        data = {
            "version": 1,
            "addresses": [
                {"host": host, "port": port, "time": t} for (host, port), t in self._entries.items()
            ],
        }
        write_json(self.path, data)


@dataclass(slots=True)
class TokenBucket:
    """Tokens accrue at ``rate`` per second up to ``capacity``; each address costs one.

    As in Core, a peer starts with one token (it may announce itself), and our own
    ``getaddr`` grants a full bucket for the answer we asked for.
    """

    rate: float = ADDR_RATE_PER_SECOND
    capacity: float = ADDR_BUCKET_MAX
    tokens: float = 1.0
    updated: float = 0.0

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def grant(self, amount: float) -> None:
        self.tokens = min(self.capacity, self.tokens + amount)

    def take(self, now: float) -> bool:
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
