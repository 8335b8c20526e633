"""RPC security of a real node process: auth, cookie, bind address, body cap, methods."""

from __future__ import annotations

import base64
import http.client
import stat
from pathlib import Path

from bitcoinrpc.authproxy import AuthServiceProxy

from .framework import wait_until


def _request(node, method="POST", body=b"{}", auth=None, headers=None, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", node.rpc_port, timeout=30)
    hdrs = dict(headers or {})
    if auth is not None:
        hdrs["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                found.add(addr)
    return found


def test_auth_cookie_bind_and_limits(start_nodes):
    (node,) = start_nodes(1, [["--no-wallet"]])
    user, password = node.credentials()
    assert user == "__cookie__" and len(password) == 64
    mode = stat.S_IMODE(node.cookie_path.stat().st_mode)
    assert mode == 0o600

    body = b'{"method": "getblockcount", "params": [], "id": 1}'
    assert _request(node, body=body)[0] == 401
    assert _request(node, body=body, auth="__cookie__:wrong")[0] == 401
    assert _request(node, body=body, auth="nobody:" + password)[0] == 401
    status, data = _request(node, body=body, auth=f"{user}:{password}")
    assert status == 200 and b'"result":0' in data.replace(b" ", b"")
    # GET / is the public dashboard; methods other than GET and POST are 405.
    assert _request(node, method="GET", body=None)[0] == 200
    assert _request(node, method="PUT", body=None, auth=f"{user}:{password}")[0] == 405
    wallet_get = _request(node, "GET", None, f"{user}:{password}", path="/wallet/default")
    assert wallet_get[0] == 405

    # 40 MB announced: refused from the header, long before 40 MB could be sent
    conn = http.client.HTTPConnection("127.0.0.1", node.rpc_port, timeout=30)
    conn.putrequest("POST", "/")
    conn.putheader("Content-Length", str(40 * 1024 * 1024))
    conn.putheader(
        "Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    )
    conn.endheaders()
    try:
        conn.send(b"[" * 65536)
    except OSError:
        pass
    assert conn.getresponse().status == 413
    conn.close()

    assert _listening_addresses(node.rpc_port) == {"0100007F"}

    node.stop()
    assert not node.cookie_path.exists()


def test_python_bitcoinrpc_client_works_unchanged(start_nodes):
    (node,) = start_nodes(1, [["--no-wallet"]])
    user, password = node.credentials()
    proxy = AuthServiceProxy(f"http://{user}:{password}@127.0.0.1:{node.rpc_port}")
    assert proxy.getblockcount() == 0
    genesis = proxy.getblockhash(0)
    assert proxy.getbestblockhash() == genesis
    results = proxy.batch_([["getblockcount"], ["getblockhash", 0], ["getblockheader", genesis]])
    assert results[0] == 0
    assert results[1] == genesis
    assert results[2]["hash"] == genesis
    wait_until(lambda: proxy.uptime() >= 0)
    proxy._AuthServiceProxy__conn.close()  # the library never closes its connection
