"""The node's sense of time: the wall clock, or a mock time set over RPC (regtest)."""

from __future__ import annotations

import time


class Clock:
    """``now()`` is the wall clock unless ``setmocktime`` fixed it (0 returns to real time)."""

    def __init__(self) -> None:
        self.mocktime = 0

    def now(self) -> int:
        return self.mocktime or int(time.time())

    def set_mocktime(self, timestamp: int) -> None:
        if timestamp < 0:
            raise ValueError("mocktime cannot be negative")
        self.mocktime = timestamp
