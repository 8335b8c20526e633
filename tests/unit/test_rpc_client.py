"""The one JSON-RPC client against a stub HTTP server, and the launcher's test ports."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from node.cli import launcher
from node.rpc.client import RpcClient, RpcFailure, RpcHttpError


class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the node's server
    seen: list[tuple[str, dict]] = []

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, request))
        status, body = {
            "ok": (200, {"result": 1.5, "error": None, "id": 1}),
            "fail": (500, {"result": None, "error": {"code": -8, "message": "bad"}, "id": 1}),
            "html": (502, "<html>bad gateway</html>"),
            "noauth": (401, ""),
            "bye": (200, {"result": "closing", "error": None, "id": 1}),
        }[request["method"]]
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        if request["method"] == "bye":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Stub.seen = []
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def url(httpd: ThreadingHTTPServer, path: str = "/") -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def test_results_errors_and_paths(server):
    with RpcClient(url(server), "u", "p") as client:
        assert client.call("ok", [Decimal("0.1")]) == Decimal("1.5")
        with pytest.raises(RpcFailure) as failure:
            client.call("fail")
        assert (type(failure.value), failure.value.code, failure.value.message) == (
            RpcFailure,
            -8,
            "bad",
        )
        with pytest.raises(RpcHttpError) as http_error:
            client.call("html")
        assert (http_error.value.code, http_error.value.message) == (
            502,
            "<html>bad gateway</html>",
        )
        with pytest.raises(RpcHttpError) as unauthorized:
            client.call("noauth")
        assert unauthorized.value.code == 401
        client.call("ok", {"named": 1}, path="wallet/w%201")
    paths = [path for path, _ in Stub.seen]
    assert paths == ["/", "/", "/", "/", "/wallet/w%201"]
    assert Stub.seen[0][1]["params"] == ["0.1"]
    assert Stub.seen[-1][1]["params"] == {"named": 1}


def test_a_wallet_url_and_a_closed_connection(server):
    with RpcClient(url(server, "/wallet/w"), "u", "p") as client:
        assert client.call("bye") == "closing"  # the server closes: a new connection next
        assert client.call("ok") == Decimal("1.5")
    assert [path for path, _ in Stub.seen] == ["/wallet/w", "/wallet/w"]


def test_nothing_listening_is_connection_refused():
    port = launcher.free_port()
    with (
        RpcClient(f"http://127.0.0.1:{port}/", "u", "p") as client,
        pytest.raises(ConnectionRefusedError),
    ):
        client.call("ok")


def test_test_ports_come_from_the_workers_own_range(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    low = launcher.PORT_MIN + 3 * launcher.PORT_RANGE
    ports = [launcher.free_port() for _ in range(5)]
    assert all(low <= p < low + launcher.PORT_RANGE for p in ports)
    assert len(set(ports)) == 5
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw4")
    assert launcher.free_port() >= low + launcher.PORT_RANGE
    taken = launcher.free_port()
    assert launcher.free_port(taken) == taken  # a wanted port that is free
