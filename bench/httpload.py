"""An HTTP/1.1 keep-alive load generator on bare asyncio protocols.

A client that spends less time per request than the server is the only way to measure
the server; aiohttp's or urllib's clients cost as much as the handlers under test. Each
connection keeps exactly one request in flight (no pipelining), parses only the status
line and Content-Length, and sends its next request from ``data_received``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


def http_request(path: str, body: bytes, auth: str | None = None) -> bytes:
    headers = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if auth:
        headers.append(f"Authorization: {auth}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: bytes = b""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


class _Client(asyncio.Protocol):
    def __init__(
        self, requests: Iterator[bytes], result: LoadResult, deadline: float, done: asyncio.Future
    ) -> None:
        self._requests = requests
        self._result = result
        self._deadline = deadline
        self._done = done
        self._buf = b""
        self._sent_at = 0.0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._send()

    def _send(self) -> None:
        assert self._transport is not None
        request = next(self._requests, None)
        if request is None or time.perf_counter() >= self._deadline:
            self._transport.close()
            return
        self._sent_at = time.perf_counter()
        self._transport.write(request)

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self._buf = buf
            return
        head = buf[:end]
        at = head.find(b"Content-Length: ")
        length = int(head[at + 16 : head.find(b"\r\n", at)]) if at >= 0 else 0
        if len(buf) < end + 4 + length:
            self._buf = buf
            return
        self._buf = buf[end + 4 + length :]
        result = self._result
        result.latencies.append(time.perf_counter() - self._sent_at)
        result.requests += 1
        if not head.startswith(b"HTTP/1.1 200"):
            result.errors += 1
            if not result.first_error:
                result.first_error = buf[: end + 4 + length]
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(None)


async def run_load(
    port: int, requests: Iterator[bytes], connections: int, seconds: float = 1e9
) -> LoadResult:
    """Send ``requests`` over ``connections`` keep-alive connections until they run out or
    ``seconds`` pass; every request's latency is recorded."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    start = time.perf_counter()
    deadline = start + seconds
    waits = []
    for _ in range(connections):
        done = loop.create_future()
        await loop.create_connection(
            lambda d=done: _Client(requests, result, deadline, d), "127.0.0.1", port
        )
        waits.append(done)
    await asyncio.gather(*waits)
    result.seconds = time.perf_counter() - start
    return result


def repeat(request: bytes) -> Iterator[bytes]:
    while True:
        yield request
