"""The RPC ceiling: a bare aiohttp handler answering every POST with a constant JSON-RPC
reply. ``python -m bench.bare_rpc PORT``; stopped by the benchmark with SIGTERM."""

from __future__ import annotations

import sys

from aiohttp import web

REPLY = b'{"result":0,"error":null,"id":1}\n'


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=REPLY, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_post("/", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
