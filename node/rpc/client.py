"""The one JSON-RPC client: what ``obol rpc``/``obol wallet``/``obol localnet``, the
functional tests and the benchmarks use to call a node.

Synchronous, over one kept-alive HTTP connection (the benchmarks call thousands of times;
a new connection per call would measure the handshake). A JSON-RPC error from the node
raises ``RpcFailure`` with Core's code and message; a reply that is not JSON-RPC at all
(401 for wrong credentials, a proxy's HTML) raises its subclass ``RpcHttpError``; a node
that cannot be reached raises the ``OSError`` the socket gave (``ConnectionRefusedError``
when nothing listens on the port).
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.parse
from decimal import Decimal
from typing import Any

DEFAULT_TIMEOUT = 600.0


class RpcFailure(Exception):
    """The node answered with a JSON-RPC error: ``code`` and ``message`` are Core's."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RpcHttpError(RpcFailure):
    """An HTTP error without a JSON-RPC error in it; ``code`` is the HTTP status."""


class RpcClient:
    """``RpcClient("http://127.0.0.1:18443/", user, password).call("getblockcount")``.

    ``path`` (``"wallet/w1"``) is relative to the URL's own path. A kept-alive connection
    the node closed while idle is reopened once; a refused or timed-out call is not retried.
    """

    def __init__(
        self, url: str, user: str, password: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        self.url = url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self.credentials = (user, password)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def call(
        self, method: str, params: list[Any] | dict[str, Any] | None = None, path: str = ""
    ) -> Any:
        body = json.dumps(
            {"jsonrpc": "1.0", "id": 1, "method": method, "params": params or []}, default=str
        )
        if path:
            path = self.path.rstrip("/") + "/" + path.lstrip("/")
        status, payload = self._post(path or self.path, body.encode())
        try:
            reply = json.loads(payload, parse_float=Decimal)
        except ValueError:
            raise RpcHttpError(status, payload.decode(errors="replace")) from None
        error = reply.get("error") if isinstance(reply, dict) else None
        if error:
            raise RpcFailure(error.get("code"), error.get("message"))
        if status != 200 or not isinstance(reply, dict):
            raise RpcHttpError(status, str(reply))
        return reply.get("result")

    def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._conn is not None:
            try:
                return self._exchange(path, body)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                pass  # the node closed the idle connection: once more, on a new one
        return self._exchange(path, body)

    def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self._timeout)
        try:
            self._conn.request("POST", path, body, self._headers)
            resp = self._conn.getresponse()
            payload = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, payload

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
