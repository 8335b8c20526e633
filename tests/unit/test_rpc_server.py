"""The JSON-RPC protocol layer against Bitcoin Core's documented behaviour, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bitcoinrpc.authproxy import AuthServiceProxy, JSONRPCException

from consensus.params import MAX_MONEY
from node.rpc.auth import Authenticator, read_cookie
from node.rpc.errors import (
    RPC_IN_WARMUP,
    RPC_INTERNAL_ERROR,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_PARSE_ERROR,
    RPC_TYPE_ERROR,
    RpcError,
)
from node.rpc.jsonfmt import Amount, dumps, format_amount, loads, parse_amount
from node.rpc.registry import RpcRegistry, RpcRequest
from node.rpc.server import RpcServer

MiB = 1024 * 1024


class Gate:
    """Holds ``block`` calls until the test opens it, counting how many are waiting."""

    def __init__(self) -> None:
        self.entered = 0
        self.event = asyncio.Event()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def calls() -> list[Any]:
    return []


@pytest.fixture
def registry(gate: Gate, calls: list[Any]) -> RpcRegistry:
    reg = RpcRegistry()

    @reg.method(category="test")
    async def echo(value: Any = None) -> Any:
        """Return the argument."""
        return value

    @reg.method(category="test")
    def add(a: int, b: int = 0) -> int:
        """Add two numbers."""
        return a + b

    @reg.method(category="test")
    def record(value: Any) -> None:
        calls.append(value)

    @reg.method(category="test")
    def fail() -> None:
        raise RpcError(RPC_INVALID_PARAMETER, "bad thing")

    @reg.method(category="test")
    def crash() -> None:
        raise ValueError("boom\nTraceback-looking second line")

    @reg.method(category="test")
    def unserializable() -> object:
        return object()

    @reg.method(category="test")
    async def block(request: RpcRequest) -> str | None:
        gate.entered += 1
        await gate.event.wait()
        return request.wallet_name

    @reg.method(category="wallet")
    def whichwallet(request: RpcRequest) -> str | None:
        return request.wallet_name

    @reg.method(category="wallet")
    def getbalance() -> Amount:
        return Amount(12_5000_0000)

    return reg


ServerFactory = Callable[..., Awaitable[RpcServer]]


@pytest.fixture
async def make_server(tmp_path: Path, registry: RpcRegistry) -> AsyncIterator[ServerFactory]:
    servers: list[RpcServer] = []

    async def make(**kwargs: Any) -> RpcServer:
        kwargs.setdefault("auth", Authenticator.with_cookie(tmp_path / ".cookie"))
        kwargs.setdefault("failed_login_delay", 0.05)
        server = RpcServer(registry, **kwargs)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        await server.stop()


@pytest.fixture
async def server(make_server: ServerFactory) -> RpcServer:
    return await make_server()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def cookie_auth(server: RpcServer) -> str:
    creds = server.auth.cookie_credentials
    assert creds is not None
    return basic(*creds)


async def post(
    session: aiohttp.ClientSession,
    server: RpcServer,
    payload: Any = None,
    *,
    raw: bytes | None = None,
    path: str = "/",
    authorization: str | None = "cookie",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, bytes, aiohttp.ClientResponse]:
    """(status, parsed JSON body or None, raw body, response)."""
    hdrs = dict(headers or {})
    if authorization == "cookie":
        hdrs["Authorization"] = cookie_auth(server)
    elif authorization is not None:
        hdrs["Authorization"] = authorization
    data = raw if raw is not None else json.dumps(payload).encode()
    url = f"http://127.0.0.1:{server.port}{path}"
    async with session.post(url, data=data, headers=hdrs) as resp:
        body = await resp.read()
        parsed = loads(body) if resp.content_type == "application/json" and body else None
        return resp.status, parsed, body, resp


# ---- JSON-RPC 1.x (legacy) -------------------------------------------------------------------


async def test_legacy_success_has_result_error_and_id(server, session):
    status, _, body, resp = await post(
        session, server, {"version": "1.1", "method": "echo", "params": ["hi"], "id": 7}
    )
    assert status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert body == b'{"result":"hi","error":null,"id":7}\n'


async def test_legacy_without_id_is_answered_without_id(server, session):
    status, reply, _, _ = await post(session, server, {"method": "add", "params": [1, 2]})
    assert status == 200
    assert reply == {"result": 3, "error": None}


@pytest.mark.parametrize(
    ("request_obj", "http_status", "code", "message"),
    [
        ({"method": "nosuch", "id": 1}, 404, RPC_METHOD_NOT_FOUND, "Method not found"),
        ({"method": "fail", "id": 1}, 500, RPC_INVALID_PARAMETER, "bad thing"),
        ({"method": "crash", "id": 1}, 500, RPC_MISC_ERROR, "boom"),
        ({"id": 1}, 400, RPC_INVALID_REQUEST, "Missing method"),
        ({"method": 5, "id": 1}, 400, RPC_INVALID_REQUEST, "Method must be a string"),
        ({"method": "echo", "params": 5, "id": 1}, 400, RPC_INVALID_REQUEST, None),
        ({"jsonrpc": 2, "method": "echo", "id": 1}, 400, RPC_INVALID_REQUEST, None),
        ({"jsonrpc": "3.0", "method": "echo", "id": 1}, 400, RPC_INVALID_REQUEST, None),
        ({"method": "unserializable", "id": 1}, 500, RPC_INTERNAL_ERROR, None),
    ],
)
async def test_legacy_errors_map_to_http_status(
    server, session, request_obj, http_status, code, message
):
    status, reply, _, resp = await post(session, server, request_obj)
    assert status == http_status
    assert resp.headers["Content-Type"] == "application/json"
    assert list(reply) == ["result", "error", "id"]
    assert reply["result"] is None and reply["id"] == 1
    assert reply["error"]["code"] == code
    if message is not None:
        assert reply["error"]["message"] == message


async def test_jsonrpc_1_0_marker_is_legacy(server, session):
    status, reply, _, _ = await post(
        session, server, {"jsonrpc": "1.0", "method": "nosuch", "id": "x"}
    )
    assert status == 404
    assert reply == {
        "result": None,
        "error": {"code": RPC_METHOD_NOT_FOUND, "message": "Method not found"},
        "id": "x",
    }


# ---- JSON-RPC 2.0 ----------------------------------------------------------------------------


async def test_v2_success_has_only_result(server, session):
    status, _, body, _ = await post(
        session, server, {"jsonrpc": "2.0", "method": "add", "params": [2, 3], "id": "a"}
    )
    assert status == 200
    assert body == b'{"jsonrpc":"2.0","result":5,"id":"a"}\n'


@pytest.mark.parametrize(
    ("method", "code"),
    [("nosuch", RPC_METHOD_NOT_FOUND), ("fail", RPC_INVALID_PARAMETER), ("crash", -1)],
)
async def test_v2_errors_are_http_200_with_only_error(server, session, method, code):
    status, reply, _, _ = await post(session, server, {"jsonrpc": "2.0", "method": method, "id": 3})
    assert status == 200
    assert list(reply) == ["jsonrpc", "error", "id"]
    assert reply["error"]["code"] == code


async def test_v2_notification_runs_and_answers_204(server, session, calls):
    status, _, body, _ = await post(
        session, server, {"jsonrpc": "2.0", "method": "record", "params": ["n1"]}
    )
    assert (status, body) == (204, b"")
    assert calls == ["n1"]
    # even a failing notification gets no reply
    status, _, body, _ = await post(session, server, {"jsonrpc": "2.0", "method": "nosuch"})
    assert (status, body) == (204, b"")


async def test_v2_null_id_is_not_a_notification(server, session):
    status, reply, _, _ = await post(
        session, server, {"jsonrpc": "2.0", "method": "echo", "params": [1], "id": None}
    )
    assert status == 200
    assert reply == {"jsonrpc": "2.0", "result": 1, "id": None}


# ---- batches ---------------------------------------------------------------------------------


async def test_batch_mixed_versions_in_order(server, session, calls):
    batch = [
        {"method": "echo", "params": ["legacy"], "id": 1},
        {"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 2}, "id": 2},
        {"jsonrpc": "2.0", "method": "record", "params": ["note"]},  # notification
        {"jsonrpc": "2.0", "method": "nosuch", "id": 3},
        5,
        {"jsonrpc": "2.0", "id": 4},
        {"method": "fail", "id": 5},
    ]
    status, reply, _, _ = await post(session, server, batch)
    assert status == 200
    assert calls == ["note"]
    assert reply == [
        {"result": "legacy", "error": None, "id": 1},
        {"jsonrpc": "2.0", "result": 3, "id": 2},
        {
            "jsonrpc": "2.0",
            "error": {"code": RPC_METHOD_NOT_FOUND, "message": "Method not found"},
            "id": 3,
        },
        {
            "result": None,
            "error": {"code": RPC_INVALID_REQUEST, "message": "Invalid Request object"},
            "id": None,
        },
        {
            "jsonrpc": "2.0",
            "error": {"code": RPC_INVALID_REQUEST, "message": "Missing method"},
            "id": 4,
        },
        {"result": None, "error": {"code": RPC_INVALID_PARAMETER, "message": "bad thing"}, "id": 5},
    ]


async def test_batch_empty_and_all_notifications(server, session, calls):
    status, _, body, _ = await post(session, server, [])
    assert (status, body) == (200, b"[]\n")  # Core keeps [] for an empty batch
    notes = [{"jsonrpc": "2.0", "method": "record", "params": [i]} for i in range(3)]
    status, _, body, _ = await post(session, server, notes)
    assert (status, body) == (204, b"")
    assert calls == [0, 1, 2]


async def test_batch_compat_shape_for_python_bitcoinrpc_only(server, session):
    batch = [{"jsonrpc": "2.0", "method": "echo", "params": [1], "id": 1}]
    _, reply, _, _ = await post(session, server, batch)
    assert reply == [{"jsonrpc": "2.0", "result": 1, "id": 1}]
    _, reply, _, _ = await post(
        session, server, batch, headers={"User-Agent": "AuthServiceProxy/0.1"}
    )
    assert reply == [{"jsonrpc": "2.0", "result": 1, "error": None, "id": 1}]


# ---- params ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "result"),
    [
        ({"a": 2, "b": 3}, 5),
        ({"b": 3, "a": 2}, 5),
        ({"a": 2}, 2),
        ({"a": 2, "b": None}, 2),  # null means "use the default", as in Core
        ([4, None], 4),
        ([4], 4),
    ],
)
async def test_params_named_and_positional(server, session, params, result):
    status, reply, _, _ = await post(session, server, {"method": "add", "params": params, "id": 1})
    assert (status, reply["result"]) == (200, result)


@pytest.mark.parametrize(
    ("params", "code", "message_start"),
    [
        ([1, 2, 3], RPC_MISC_ERROR, "add a ( b )"),  # too many: Core answers with the help
        ([], RPC_MISC_ERROR, "add a ( b )"),  # missing required
        ({"b": 1}, RPC_MISC_ERROR, "add a ( b )"),
        ({"a": 1, "c": 2}, RPC_INVALID_PARAMETER, "Unknown named parameter c"),
        ({"a": 1, "request": 2}, RPC_INVALID_PARAMETER, "Unknown named parameter request"),
    ],
)
async def test_params_errors(server, session, params, code, message_start):
    status, reply, _, _ = await post(session, server, {"method": "add", "params": params, "id": 1})
    assert status == 500
    assert reply["error"]["code"] == code
    assert reply["error"]["message"].startswith(message_start)


async def test_params_absent_or_null(server, session):
    for obj in ({"method": "echo", "id": 1}, {"method": "echo", "params": None, "id": 1}):
        status, reply, _, _ = await post(session, server, obj)
        assert (status, reply["result"]) == (200, None)


async def test_request_context_carries_wallet_name(server, session):
    _, reply, _, _ = await post(session, server, {"method": "whichwallet", "id": 1})
    assert reply["result"] is None
    _, reply, _, _ = await post(
        session, server, {"method": "whichwallet", "id": 1}, path="/wallet/my%20wallet"
    )
    assert reply["result"] == "my wallet"


async def test_help_lists_categories_and_methods(server, session):
    _, reply, _, _ = await post(session, server, {"method": "help", "id": 1})
    text = reply["result"]
    assert text.startswith('== Control ==\nhelp ( "command" )\n\n== Test ==\nadd a ( b )\n')
    assert "== Wallet ==\ngetbalance\nwhichwallet" in text
    _, reply, _, _ = await post(session, server, {"method": "help", "params": ["add"], "id": 1})
    assert reply["result"] == "add a ( b )\n\nAdd two numbers."
    _, reply, _, _ = await post(session, server, {"method": "help", "params": ["zz"], "id": 1})
    assert reply["result"] == "help: unknown command: zz"


async def test_warmup_answers_minus_28(server, session):
    server.warmup = "Loading block index..."
    status, reply, _, _ = await post(session, server, {"method": "echo", "id": 1})
    assert status == 500
    assert reply["error"] == {"code": RPC_IN_WARMUP, "message": "Loading block index..."}
    server.warmup = None
    status, _, _, _ = await post(session, server, {"method": "echo", "id": 1})
    assert status == 200


# ---- parse errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "Parse error"),
        (b"{not json", "Parse error"),
        (b'{"method": "echo", "params": [NaN], "id": 1}', "Parse error"),
        (b"\xff\xfe", "Parse error"),
        (b"[" * 100_000, "Parse error"),
        (b'"a string"', "Top-level object parse error"),
        (b"42", "Top-level object parse error"),
    ],
)
async def test_parse_errors(server, session, raw, message):
    status, reply, _, _ = await post(session, server, raw=raw)
    assert status == 500
    assert reply == {
        "result": None,
        "error": {"code": RPC_PARSE_ERROR, "message": message},
        "id": None,
    }


# ---- HTTP: auth, methods, limits -------------------------------------------------------------


async def test_401_without_credentials(server, session):
    status, _, body, resp = await post(session, server, {"method": "echo"}, authorization=None)
    assert status == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"'
    assert body == b""


@pytest.mark.parametrize(
    "authorization",
    [
        basic("__cookie__", "wrong"),
        basic("someone", "else"),
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
        "Basic",
    ],
)
async def test_401_with_bad_credentials_after_delay(make_server, session, authorization):
    server = await make_server(failed_login_delay=0.2)
    started = time.monotonic()
    status, _, _, resp = await post(
        session, server, {"method": "echo"}, authorization=authorization
    )
    assert status == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"'
    assert time.monotonic() - started >= 0.2


async def test_user_password_auth(make_server, session):
    auth = Authenticator.with_password("alice", "s3cret")
    server = await make_server(auth=auth)
    status, _, _, _ = await post(
        session, server, {"method": "echo", "id": 1}, authorization=basic("alice", "s3cret")
    )
    assert status == 200
    status, _, _, _ = await post(
        session, server, {"method": "echo", "id": 1}, authorization=basic("alice", "s3cre")
    )
    assert status == 401


def test_authorization_header_parsing(tmp_path):
    auth = Authenticator.with_password("u", "p:with:colons")
    assert auth.check(basic("u", "p:with:colons")) == "u"
    assert auth.check("basic " + base64.b64encode(b"u:p:with:colons").decode()) == "u"
    assert auth.check("  Basic   " + base64.b64encode(b"u:p:with:colons").decode() + " ") == "u"
    assert auth.check(None) is None
    assert auth.check(basic("u", "p")) is None
    assert auth.check("Basic " + base64.b64encode(b"u:\xff").decode()) is None
    assert auth.check("Basic " + "A" * 10_000) is None


@pytest.mark.parametrize("path", ["/", "/wallet/w1"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_405_for_other_http_methods(server, session, path, method):
    headers = {"Authorization": cookie_auth(server)}
    async with session.request(
        method, f"http://127.0.0.1:{server.port}{path}", headers=headers
    ) as resp:
        assert resp.status == 405
        assert "POST" in resp.headers["Allow"]


async def raw_status_line(server: RpcServer, extra_headers: bytes) -> bytes:
    """Send only the headers of a 40 MB POST and return the first line of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + b"Content-Length: %d\r\n" % (40 * MiB)
            + extra_headers
            + b"\r\n"
        )
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("expect", [b"", b"Expect: 100-continue\r\n"])
async def test_413_declared_length_answered_before_the_body(server, expect):
    """A 40 MB Content-Length is refused from the headers alone: no body byte is sent, and a
    client asking ``Expect: 100-continue`` is told 413 instead of being invited to upload."""
    auth = b"Authorization: " + cookie_auth(server).encode() + b"\r\n"
    assert (await raw_status_line(server, auth + expect)).startswith(b"HTTP/1.1 413")


async def test_expect_continue_refuses_bad_credentials_before_upload(server):
    line = await raw_status_line(server, b"Expect: 100-continue\r\n")
    assert line.startswith(b"HTTP/1.1 413")  # size is judged first, as libevent does
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 401")
    finally:
        writer.close()
        await writer.wait_closed()


async def test_expect_continue_accepted_with_credentials(server, session):
    status, reply, _, _ = await post(
        session,
        server,
        {"method": "echo", "params": [1], "id": 1},
        headers={"Expect": "100-continue"},
    )
    assert (status, reply["result"]) == (200, 1)


async def test_413_chunked_body_is_cut_off(make_server, session):
    """A chunked 40 MB stream (no Content-Length) is refused once it passes the cap."""
    # aiohttp keeps draining a refused body for up to 10 s ("lingering close", so the client
    # is not sent a TCP reset before it reads the 413), even after the client has gone; stop()
    # waits for that up to shutdown_timeout, which only needs to be short here.
    server = await make_server(shutdown_timeout=0.2)
    chunk = b" " * MiB

    async def forty_megabytes() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield chunk

    started = time.monotonic()
    async with session.post(
        f"http://127.0.0.1:{server.port}/",
        data=forty_megabytes(),
        headers={"Authorization": cookie_auth(server)},
    ) as resp:
        assert resp.status == 413
        assert "Content-Length" not in resp.request_info.headers
    assert time.monotonic() - started < 10


async def test_413_small_cap(make_server, session):
    server = await make_server(max_body=100)
    status, _, _, _ = await post(session, server, {"method": "echo", "params": ["x" * 200]})
    assert status == 413
    status, _, _, _ = await post(session, server, {"method": "echo", "id": 1})
    assert status == 200


async def test_503_when_work_queue_is_full(make_server, session, gate):
    server = await make_server(work_queue=2)
    busy = [
        asyncio.create_task(post(session, server, {"method": "block", "id": i})) for i in range(2)
    ]
    for _ in range(500):
        if gate.entered == 2:
            break
        await asyncio.sleep(0.01)
    assert gate.entered == 2 and server.inflight == 2
    status, _, body, _ = await post(session, server, {"method": "echo", "id": 9})
    assert (status, body) == (503, b"Work queue depth exceeded")
    gate.event.set()
    results = await asyncio.gather(*busy)
    assert [r[0] for r in results] == [200, 200]
    status, _, _, _ = await post(session, server, {"method": "echo", "id": 9})
    assert status == 200


# ---- cookie lifecycle ------------------------------------------------------------------------


async def test_cookie_file_mode_and_removal(tmp_path, registry):
    path = tmp_path / ".cookie"
    path.write_text("__cookie__:stale")  # left over by a killed node
    (tmp_path / ".cookie.tmp").write_text("junk")
    server = RpcServer(registry, auth=Authenticator.with_cookie(path))
    with pytest.raises(RuntimeError):
        _ = server.port
    await server.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        user, password = read_cookie(path)
        assert user == "__cookie__"
        assert len(password) == 64 and int(password, 16) >= 0
        assert server.auth.cookie_credentials == (user, password)
        assert not (tmp_path / ".cookie.tmp").exists()
        assert server.url == f"http://127.0.0.1:{server.port}/"
    finally:
        await server.stop()
    assert not path.exists()
    assert server.auth.check(basic(user, password)) is None


# ---- amounts ---------------------------------------------------------------------------------


async def test_amount_written_with_eight_decimals(server, session):
    _, _, body, _ = await post(session, server, {"method": "getbalance", "id": 1})
    assert body == b'{"result":12.50000000,"error":null,"id":1}\n'


def test_dumps_formats():
    assert dumps([Amount(0), Amount(1), Amount(-10_000), Amount(MAX_MONEY)]) == (
        b"[0.00000000,0.00000001,-0.00010000,21000000.00000000]"
    )
    assert dumps({"d": Decimal("1.50"), "f": 0.25, "t": (True, False, None), "s": "é"}) == (
        b'{"d":1.50,"f":0.25,"t":[true,false,null],"s":"\\u00e9"}'
    )
    assert format_amount(-1) == "-0.00000001"
    for bad in (b"bytes", {1: 2}, object(), {1.5}):
        with pytest.raises(TypeError):
            dumps(bad)
    for bad in (float("nan"), Decimal("Infinity")):
        with pytest.raises(ValueError):
            dumps(bad)


@pytest.mark.parametrize(
    ("value", "units"),
    [
        (1, 100_000_000),
        (0, 0),
        (Decimal("0.00000001"), 1),
        (Decimal("12.34567890"), 1_234_567_890),
        (Decimal("1.000000000000"), 100_000_000),
        (Decimal("21000000"), MAX_MONEY),
        ("0.5", 50_000_000),
        ("1e-8", 1),
        (0.1, 10_000_000),
    ],
)
def test_parse_amount_ok(value, units):
    assert parse_amount(value) == units


TOO_PRECISE = "Invalid amount: at most 8 decimals (1 base unit = 0.00000001)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Decimal("1e-9"), TOO_PRECISE),
        (Decimal("0.000000001"), TOO_PRECISE),
        ("1e-9", TOO_PRECISE),
        ("abc", "Invalid amount"),
        (" 1", "Invalid amount"),
        ("1_000", "Invalid amount"),
        ("NaN", "Invalid amount"),
        (Decimal("NaN"), "Invalid amount"),
        (float("inf"), "Invalid amount"),
        (-1, "Amount out of range"),
        (Decimal("-0.00000001"), "Amount out of range"),
        (Decimal("21000000.00000001"), "Amount out of range"),
        (21_000_001, "Amount out of range"),
        (Decimal("1e100"), "Amount out of range"),
        (True, "Amount is not a number or string"),
        (None, "Amount is not a number or string"),
        ([1], "Amount is not a number or string"),
    ],
)
def test_parse_amount_rejects(value, message):
    with pytest.raises(RpcError) as info:
        parse_amount(value)
    assert (info.value.code, info.value.message) == (RPC_TYPE_ERROR, message)


def test_parse_amount_zero_when_not_allowed():
    with pytest.raises(RpcError) as info:
        parse_amount(Decimal("0.00000000"), allow_zero=False)
    assert info.value.code == RPC_TYPE_ERROR
    assert parse_amount("0.00000001", allow_zero=False) == 1


def test_registry_rejects_bad_registrations():
    reg = RpcRegistry()
    with pytest.raises(ValueError):
        reg.add(lambda: None, "help", category="x")
    with pytest.raises(TypeError):
        reg.add(lambda *args: None, "varargs", category="x")


# ---- an unmodified Bitcoin client ------------------------------------------------------------


async def test_python_bitcoinrpc_authserviceproxy(server):
    user, password = read_cookie(server.auth.cookie_path)
    url = f"http://{user}:{password}@127.0.0.1:{server.port}/"

    def use_client() -> tuple[Any, ...]:
        proxy = AuthServiceProxy(url, timeout=10)
        try:
            echoed = proxy.echo("hello")
            balance = proxy.getbalance()
            total = proxy.add(2, 3)
            try:
                proxy.fail()
                code = None
            except JSONRPCException as exc:
                code = exc.code
            batch = proxy.batch_([["echo", "x"], ["add", 4, 5], ["getbalance"]])
            return echoed, balance, total, code, batch
        finally:
            proxy._AuthServiceProxy__conn.close()  # the library never closes its connection

    echoed, balance, total, code, batch = await asyncio.to_thread(use_client)
    assert echoed == "hello"
    assert balance == Decimal("12.50000000")
    assert total == 5
    assert code == RPC_INVALID_PARAMETER
    assert batch == ["x", 9, Decimal("12.50000000")]


async def test_on_call_reports_method_and_outcome(make_server, session):
    seen: list[tuple[str, bool]] = []
    server = await make_server(on_call=lambda method, ok: seen.append((method, ok)))
    batch = [
        {"method": "echo", "params": [1], "id": 1},
        {"method": "fail", "id": 2},
        {"method": "crash", "id": 3},
        {"method": "no-such-method-" + "x" * 50, "id": 4},
        {"id": 5},  # invalid request: no method was executed
    ]
    status, _, _, _ = await post(session, server, batch)
    assert status == 200
    assert seen == [("echo", True), ("fail", False), ("crash", False), ("unknown", False)]
