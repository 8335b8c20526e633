"""JSON-RPC over HTTP with Bitcoin Core's semantics (doc/JSON-RPC-interface.md, httprpc.cpp).

Existing Bitcoin clients must work unchanged, so the rules are Core's, not our own taste:

- ``POST /`` and ``POST /wallet/<name>``; any other HTTP method there is 405 (with ``Allow``).
- HTTP Basic auth: no header is 401 at once; wrong credentials are 401 after a short delay,
  served one at a time, which caps password guessing whatever the number of connections.
- A body above ``max_body`` is 413, decided from Content-Length before reading, or while
  streaming a chunked body, so it is never buffered whole. More than ``work_queue`` requests
  in progress is 503, as Core's -rpcworkqueue.
- Legacy (1.0/1.1) requests get ``{"result", "error", "id"}`` with one of the first two null and
  HTTP 200, or on error 400 (-32600), 404 (-32601) or 500 (anything else).
- ``"jsonrpc": "2.0"`` requests get only one of ``result``/``error`` plus ``"jsonrpc": "2.0"``,
  always HTTP 200; one without ``id`` is a notification: executed, answered 204 with no body.
- A batch (JSON array) runs in order, each element with its own version, and answers 200 with
  the non-notification replies; an all-notification batch is 204, an empty batch is ``[]``
  (Core keeps that for old clients, though JSON-RPC 2.0 would ask for an error).
- Parse errors are -32700 (HTTP 500). An exception escaping a method is logged with its
  traceback and answered -1 with a one-line message; a result JSON cannot hold is -32603.

One deliberate deviation, see ``compat_user_agents``: python-bitcoinrpc 1.0 sends its batches as
JSON-RPC 2.0 but reads ``reply["error"]`` unconditionally (it breaks against Core 28 too), so
2.0 replies to its User-Agent also carry the null member.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from node.rpc.auth import WWW_AUTHENTICATE, Authenticator
from node.rpc.errors import (
    RPC_IN_WARMUP,
    RPC_INTERNAL_ERROR,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_PARSE_ERROR,
    RpcError,
)
from node.rpc.jsonfmt import dumps, loads
from node.rpc.registry import RpcRegistry, RpcRequest
from p2p.listener import ConnectionGuard, GuardedSite

__all__ = ["DEFAULT_MAX_BODY", "RpcServer"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 32 * 1024 * 1024  # Core's HTTP body limit (MAX_SIZE, 0x02000000)
DEFAULT_WORK_QUEUE = 16  # Core's -rpcworkqueue default
COMPAT_USER_AGENTS = ("AuthServiceProxy/",)  # python-bitcoinrpc, see the module docstring
_READ_CHUNK = 64 * 1024
_NO_ID = object()  # the request had no "id" member (distinct from "id": null)


@dataclass(slots=True)
class _Call:
    """How to shape the reply to one request object."""

    id: Any = _NO_ID
    v2: bool = False
    compat: bool = False  # a client that needs the legacy shape even for 2.0

    @property
    def both_members(self) -> bool:
        """Whether the reply carries both result and error, one of them null."""
        return not self.v2 or self.compat


class RpcServer:
    """The node's HTTP server: JSON-RPC routes plus whatever the node adds to ``app``.

    Lifecycle: construct, add extra routes to ``app`` (/metrics, /rest, /events, /p2p, the
    dashboard at ``GET /``), ``await start()``, ``await stop()``. ``start`` writes the auth
    cookie before listening; ``stop`` closes the listener and removes the cookie.
    """

    def __init__(
        self,
        registry: RpcRegistry,
        *,
        auth: Authenticator,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body: int = DEFAULT_MAX_BODY,
        work_queue: int = DEFAULT_WORK_QUEUE,
        failed_login_delay: float = 0.25,
        shutdown_timeout: float = 5.0,
        compat_user_agents: tuple[str, ...] = COMPAT_USER_AGENTS,
        on_call: Callable[[str, bool], None] | None = None,
        max_connections: int = 256,
        header_timeout: float = 10.0,
    ) -> None:
        """``on_call(method, ok)`` is told the outcome of every executed call (metrics);
        methods not in the registry are reported as "unknown", so a client cannot grow
        the set of names."""
        self.registry = registry
        self.auth = auth
        self.warmup: str | None = None  # while set, every call answers -28 with this text
        self._host = host
        self._port = port
        self._max_body = max_body
        self._work_queue = work_queue
        self._failed_login_delay = failed_login_delay
        self._shutdown_timeout = shutdown_timeout
        self._compat_user_agents = compat_user_agents
        self._on_call = on_call
        self.guard = ConnectionGuard("rpc", max_connections, header_timeout)
        self._inflight = 0
        self._failed_login_lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        # client_max_size also caps request.read() in routes the node adds.
        self._app = web.Application(client_max_size=max_body)
        for path in ("/", "/wallet/{name}"):
            self._app.router.add_post(path, self._handle, expect_handler=self._expect)

    @property
    def app(self) -> web.Application:
        """The aiohttp application; add routes to it before ``start()``."""
        return self._app

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._bound_port is None:
            raise RuntimeError("RPC server is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/"

    @property
    def inflight(self) -> int:
        """Requests being handled now (what ``work_queue`` limits)."""
        return self._inflight

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("RPC server already started")
        self.auth.open()
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=self._shutdown_timeout)
        try:
            await runner.setup()
            await GuardedSite(runner, self._host, self._port, self.guard).start()
        except BaseException:
            await runner.cleanup()
            self.auth.close()
            raise
        self._runner = runner
        self._bound_port = runner.addresses[0][1]
        logger.info("RPC server listening on %s", self.url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        try:
            await runner.cleanup()
        finally:
            self.auth.close()
            self._bound_port = None

    async def _admit(self, request: web.Request) -> str | web.Response:
        """The authenticated user name, or the 413/401 response refusing the request."""
        if request.content_length is not None and request.content_length > self._max_body:
            return _too_large()
        user = self.auth.check(request.headers.get(hdrs.AUTHORIZATION))
        if user is not None:
            return user
        if hdrs.AUTHORIZATION in request.headers:
            logger.warning("RPC: incorrect password attempt from %s", request.remote)
            async with self._failed_login_lock:  # one failure at a time deters brute force
                await asyncio.sleep(self._failed_login_delay)
        return web.Response(status=401, headers={hdrs.WWW_AUTHENTICATE: WWW_AUTHENTICATE})

    async def _expect(self, request: web.Request) -> web.Response | None:
        """``Expect: 100-continue``: refuse before the client uploads, not after."""
        admitted = await self._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        if request.headers.get(hdrs.EXPECT, "").lower() != "100-continue":
            return web.Response(status=417, text="Unknown Expect header")
        if request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the interim reply is not part of the response
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        user = await self._admit(request)
        if isinstance(user, web.Response):
            return user
        if self._inflight >= self._work_queue:
            logger.warning("RPC request rejected: work queue depth %d exceeded", self._work_queue)
            return web.Response(status=503, text="Work queue depth exceeded")
        self._inflight += 1
        try:
            body = await self._read_body(request)
            if body is None:
                return _too_large()
            context = RpcRequest(wallet_name=request.match_info.get("name"), auth_user=user)
            agent = request.headers.get(hdrs.USER_AGENT, "")
            status, payload = await self._process(
                body, context, agent.startswith(self._compat_user_agents)
            )
        finally:
            self._inflight -= 1
        if payload is None:
            return web.Response(status=204)
        return web.Response(status=status, body=payload + b"\n", content_type="application/json")

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The body, or None as soon as it passes ``max_body`` (chunked bodies have no length)."""
        if request.content_length is not None:  # already checked against max_body
            return await request.read()
        body = bytearray()
        async for chunk in request.content.iter_chunked(_READ_CHUNK):
            body += chunk
            if len(body) > self._max_body:
                return None
        return bytes(body)

    async def _process(
        self, body: bytes, context: RpcRequest, compat: bool
    ) -> tuple[int, bytes | None]:
        """(HTTP status, reply body or None for 204) for one HTTP request body."""
        try:
            data = loads(body)
        except (ValueError, RecursionError):
            error = RpcError(RPC_PARSE_ERROR, "Parse error")
            return 500, _reply(_Call(id=None), error=error)
        if isinstance(data, dict):
            reply, status = await self._execute(data, context, compat)
            return (204, None) if reply is None else (status, reply)
        if isinstance(data, list):
            replies: list[bytes] = []
            for item in data:
                reply, _ = await self._execute(item, context, compat)
                if reply is not None:
                    replies.append(reply)
                await asyncio.sleep(0)  # a long batch of sync methods must not starve the loop
            if data and not replies:
                return 204, None
            return 200, b"[" + b",".join(replies) + b"]"
        error = RpcError(RPC_PARSE_ERROR, "Top-level object parse error")
        return 500, _reply(_Call(id=None), error=error)

    async def _execute(
        self, obj: Any, context: RpcRequest, compat: bool
    ) -> tuple[bytes | None, int]:
        """(reply or None for a notification, legacy HTTP status) for one request object."""
        call = _Call(compat=compat)
        try:
            method, params = _parse_request(obj, call)
        except RpcError as exc:
            return _reply(call, error=exc), _http_status(call, exc)
        error: RpcError | None = None
        result = b"null"
        try:
            value = await self._call(method, params, context)
        except RpcError as exc:
            error = exc
        except Exception as exc:
            logger.exception("RPC method %s raised", method)
            error = RpcError(RPC_MISC_ERROR, _one_line(exc))
        else:
            try:
                result = dumps(value)
            except (TypeError, ValueError) as exc:
                logger.error("RPC method %s returned a value JSON cannot hold: %s", method, exc)
                error = RpcError(RPC_INTERNAL_ERROR, "Internal error: result not serializable")
        if self._on_call is not None:
            self._on_call(method if method in self.registry else "unknown", error is None)
        if call.v2 and call.id is _NO_ID:
            return None, 204
        return _reply(call, result=result, error=error), _http_status(call, error)

    async def _call(self, method: str, params: Any, context: RpcRequest) -> Any:
        if self.warmup is not None:
            raise RpcError(RPC_IN_WARMUP, self.warmup)
        logger.debug("RPC method=%s user=%s", method, context.auth_user)
        return await self.registry.call(method, params, context)


def _parse_request(obj: Any, call: _Call) -> tuple[str, list[Any] | dict[str, Any] | None]:
    """Validate a request object as Core's JSONRPCRequest::parse, filling in id and version
    first so that an invalid request's error still carries them."""
    if not isinstance(obj, dict):
        call.id = None  # an id that cannot be read is null, in either version
        raise RpcError(RPC_INVALID_REQUEST, "Invalid Request object")
    if "id" in obj:
        call.id = obj["id"]
    version = obj.get("jsonrpc")
    if version is not None:
        if not isinstance(version, str):
            raise RpcError(RPC_INVALID_REQUEST, "jsonrpc field must be a string")
        if version == "2.0":
            call.v2 = True
        elif version != "1.0":  # old docs showed "1.0" in requests; Core accepts it as legacy
            raise RpcError(RPC_INVALID_REQUEST, "JSON-RPC version not supported")
    method = obj.get("method")
    if method is None:
        raise RpcError(RPC_INVALID_REQUEST, "Missing method")
    if not isinstance(method, str):
        raise RpcError(RPC_INVALID_REQUEST, "Method must be a string")
    params = obj.get("params")
    if params is not None and not isinstance(params, list | dict):
        raise RpcError(RPC_INVALID_REQUEST, "Params must be an array or object")
    return method, params


def _reply(call: _Call, *, result: bytes = b"null", error: RpcError | None = None) -> bytes:
    """Core's JSONRPCReplyObj as JSON text, members in its order: jsonrpc, result, error, id.

    ``result`` is already JSON. Joined as text, not written from a dict: every call's reply
    passes here, and the dict walk cost more than the method of a cheap call."""
    parts = [b'{"jsonrpc":"2.0",' if call.v2 else b"{"]
    if error is None:
        parts += (b'"result":', result, b',"error":null' if call.both_members else b"")
    else:
        parts += (b'"result":null,' if call.both_members else b"", b'"error":')
        parts.append(dumps(error.to_json()))
    if call.id is not _NO_ID:
        parts += (b',"id":', dumps(call.id))
    elif call.v2:
        parts.append(b',"id":null')  # JSON-RPC 2.0: null when the id could not be determined
    parts.append(b"}")
    return b"".join(parts)


def _http_status(call: _Call, error: RpcError | None) -> int:
    """Legacy requests report errors in the HTTP status too; 2.0 requests never do."""
    if error is None or call.v2:
        return 200
    return {RPC_INVALID_REQUEST: 400, RPC_METHOD_NOT_FOUND: 404}.get(error.code, 500)


def _one_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _too_large() -> web.Response:
    return web.Response(status=413, text="Request body too large")
