"""``/rest/...``: read-only chain data as JSON, without authentication.

Modelled on Bitcoin Core's REST interface (``/rest/chaininfo.json``, ``/rest/block/<hash>.json``,
``/rest/headers/<count>/<hash>.json``, ``/rest/blockhashbyheight/<height>.json``,
``/rest/tx/<txid>.json``, ``/rest/mempool/info.json``, ``/rest/mempool/contents.json``,
``/rest/block/notxdetails/<hash>.json``, ``/rest/getutxos[/checkmempool]/<txid>-<n>/...json``),
JSON only, plus what the explorer needs: recent blocks, addresses, search, peers, mining and the
difficulty and hash-rate series. Where Core's REST reuses an RPC (chain info, mempool), so
does this, so both always agree.

Only public chain data is served here: no wallet, no key, no node control. Unknown things
are 404 and malformed input 400, each with ``{"error": message}``, except on Core's own paths
(chaininfo, headers, blockhashbyheight, mempool info and contents, block/notxdetails,
getutxos), which have Core's shapes and answer errors as Core does: text/plain);
an unexpected failure is logged with its traceback and answered 500 with a one-line
message, never the traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from consensus.address import AddressError, decode_address
from consensus.primitives import outpoint_key
from p2p.config import USER_AGENT

from ..mining.hashrate import network_hashps
from ..rpc.errors import RpcError
from ..rpc.jsonfmt import Amount, dumps
from ..rpc.views import difficulty, header_json, lock_json
from . import explorer

if TYPE_CHECKING:
    from ..chain.index import BlockIndex
    from ..node import Node

log = logging.getLogger("obol.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_HEADERS = 2000  # Core's MAX_REST_HEADERS_RESULTS
MAX_GETUTXOS_OUTPOINTS = 15  # Core's limit per request
MAX_RECENT = 100
MAX_SERIES = 2000
MAX_HISTORY = 500
NETWORK_HASHPS_BLOCKS = 120  # getmininginfo's window


def _outpoint(text: str) -> bytes:
    txid, sep, index = text.partition("-")
    h = explorer.parse_hash(txid)
    if not sep or h is None or not (index.isascii() and index.isdigit()) or len(index) > 10:
        raise RestError(400, "Parse error")
    return outpoint_key(h, int(index))


class RestError(Exception):
    """An answer other than 200: the HTTP status and a message for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(obj: Any, status: int = 200) -> web.Response:
    """JSON with amounts as exact 8-decimal numbers (``jsonfmt.dumps``); never cached,
    since the chain moves under every answer."""
    return web.Response(
        body=dumps(obj) + b"\n",
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _guarded(handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RestError as exc:
            return json_response({"error": exc.message}, exc.status)
        except Exception as exc:
            log.exception("REST %s failed", request.path)
            return json_response({"error": f"internal error: {type(exc).__name__}"}, 500)

    return run


def _core_guarded(handler: Handler) -> Handler:
    """For the routes added in Core's exact shapes: errors as Core's REST answers them,
    text/plain with the status (``RESTERR``: the message and CRLF)."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RestError as exc:
            return web.Response(text=exc.message + "\r\n", status=exc.status)
        except Exception as exc:
            log.exception("REST %s failed", request.path)
            return web.Response(text=f"internal error: {type(exc).__name__}\r\n", status=500)

    return run


def _hash(text: str, what: str) -> bytes:
    h = explorer.parse_hash(text)
    if h is None:
        raise RestError(400, f"{what} must be 64 hex digits")
    return h


def _int(text: str, what: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise RestError(400, f"{what} must be a whole number")
    value = int(text)
    if not low <= value <= high:
        raise RestError(400, f"{what} must be between {low} and {high}")
    return value


def _query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    return default if text is None else _int(text, name, low, high)


class RestApi:
    """The ``/rest`` routes over one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def add_routes(self, router: web.UrlDispatcher) -> None:
        routes: list[tuple[str, Handler]] = [
            ("/rest/status.json", self.status),
            ("/rest/block/{hash}.json", self.block),
            ("/rest/blocks/recent.json", self.recent_blocks),
            ("/rest/tx/{txid}.json", self.tx),
            ("/rest/address/{address}.json", self.address),
            ("/rest/search", self.search),
            ("/rest/peers.json", self.peers),
            ("/rest/banned.json", self.banned),
            ("/rest/mining.json", self.mining),
            ("/rest/stats/difficulty.json", self.difficulty_series),
            ("/rest/stats/hashrate.json", self.hashrate_series),
            ("/rest/stats/analytics.json", self.analytics_series),
            ("/rest/{tail:.*}", self.unknown),  # last: JSON 404 for everything else
        ]
        core: list[tuple[str, Handler]] = [
            ("/rest/chaininfo.json", self.chaininfo),
            ("/rest/headers/{count}/{hash}.json", self.headers),
            ("/rest/blockhashbyheight/{height}.json", self.blockhash_by_height),
            ("/rest/mempool/info.json", self.mempool_info),
            ("/rest/mempool/contents.json", self.mempool_contents),
            ("/rest/block/notxdetails/{hash}.json", self.block_notxdetails),
            ("/rest/getutxos/{tail:.*}.json", self.getutxos),
        ]
        for path, handler in core:
            router.add_get(path, _core_guarded(handler))
        for path, handler in routes:
            router.add_get(path, _guarded(handler))

    # --- helpers ---------------------------------------------------------------------

    async def _rpc(self, method: str, *params: Any) -> Any:
        """A read-only RPC's result, as Core's REST reuses its RPCs."""
        try:
            return await self.node.registry.call(method, list(params))
        except RpcError as exc:
            raise RestError(500, exc.message) from exc

    async def _peer_rpc(self, method: str, default: Any) -> Any:
        """A peer RPC's result, or ``default`` while the node runs without p2p (the RPC's
        only error, -31 "Peer-to-peer functionality missing or disabled")."""
        try:
            return await self.node.registry.call(method, [])
        except RpcError:
            return default

    async def peer_count(self) -> int:
        return int(await self._peer_rpc("getconnectioncount", 0))

    def _entry(self, text: str) -> BlockIndex:
        entry = self.node.chain.index.get(_hash(text, "block hash"))
        if entry is None:
            raise RestError(404, "block not found")
        return entry

    # --- Core's endpoints --------------------------------------------------------------

    async def chaininfo(self, request: web.Request) -> web.Response:
        return json_response(await self._rpc("getblockchaininfo"))

    async def block(self, request: web.Request) -> web.Response:
        chain = self.node.chain
        entry = self._entry(request.match_info["hash"])
        block = chain.get_block(entry.hash)
        if block is None:
            raise RestError(404, "block not available (header only)")
        return json_response(explorer.block_view(chain, entry, block))

    async def headers(self, request: web.Request) -> web.Response:
        count = _int(request.match_info["count"], "count", 1, MAX_HEADERS)
        chain = self.node.chain
        entry = self._entry(request.match_info["hash"])
        entries = explorer.headers_from(chain, entry, count)
        return json_response([header_json(chain, e) for e in entries])

    async def blockhash_by_height(self, request: web.Request) -> web.Response:
        height = _int(request.match_info["height"], "height", 0, 0xFFFFFFFF)
        entry = self.node.chain.at_height(height)
        if entry is None:
            raise RestError(404, "block height out of range")
        return json_response({"blockhash": entry.header.hash_hex})

    async def tx(self, request: web.Request) -> web.Response:
        txid = _hash(request.match_info["txid"], "txid")
        node = self.node
        found = explorer.find_tx(node.chain, node.mempool, txid)
        if found is None:
            raise RestError(404, "no such mempool or blockchain transaction")
        return json_response(explorer.tx_page(node.chain, node.mempool, found))

    async def block_notxdetails(self, request: web.Request) -> web.Response:
        """Core's shape: getblock verbosity 1."""
        text = request.match_info["hash"]
        if explorer.parse_hash(text) is None:
            raise RestError(400, f"Invalid hash: {text}")
        try:
            return json_response(await self.node.registry.call("getblock", [text, 1]))
        except RpcError as exc:
            raise RestError(404, f"{text} not found") from exc

    async def getutxos(self, request: web.Request) -> web.Response:
        """Core's ``/rest/getutxos[/checkmempool]/<txid>-<n>/...json``: which outpoints are
        unspent (bitmap) and their coins; with checkmempool, as the mempool sees them."""
        parts = request.match_info["tail"].split("/")
        check_mempool = parts[0] == "checkmempool"
        keys = [_outpoint(p) for p in parts[int(check_mempool) :]]
        if not keys:
            raise RestError(400, "Error: empty request")
        if len(keys) > MAX_GETUTXOS_OUTPOINTS:
            raise RestError(
                400,
                f"Error: max outpoints exceeded (max: {MAX_GETUTXOS_OUTPOINTS}, "
                f"tried: {len(keys)})",
            )
        node = self.node
        view = node.mempool.get_coin if check_mempool else node.chain.coins.get_coin
        coins = [view(key) for key in keys]
        bits = "".join("1" if c is not None else "0" for c in coins)
        return json_response(
            {
                "chainHeight": node.chain.height,
                "chaintipHash": node.chain.tip.header.hash_hex,
                "bitmap": bits,
                "utxos": [
                    {
                        "height": c.height,
                        "value": Amount(c.value),
                        "scriptPubKey": lock_json(c.lock, node.params),
                    }
                    for c in coins
                    if c is not None
                ],
            }
        )

    async def mempool_info(self, request: web.Request) -> web.Response:
        return json_response(await self._rpc("getmempoolinfo"))

    async def mempool_contents(self, request: web.Request) -> web.Response:
        return json_response(await self._rpc("getrawmempool", True))

    # --- explorer extras ---------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        """Everything the dashboard's header shows, in one request."""
        node = self.node
        tip = node.chain.tip
        return json_response(
            {
                "chain": node.params.name,
                "blocks": tip.height,
                "bestblockhash": tip.header.hash_hex,
                "time": tip.header.time,
                "difficulty": difficulty(tip.header.bits),
                "chainwork": f"{tip.chainwork:064x}",
                "mempool": {"size": len(node.mempool), "bytes": node.mempool.total_bytes},
                "peers": await self.peer_count(),
                "networkhashps": network_hashps(node.chain, NETWORK_HASHPS_BLOCKS),
                "localhashps": node.solver.hashrate(),
                # --mine, --auto-mine and setgenerate all run the one miner task.
                "mining": node.mining,
                # The node's clock (setmocktime moves it): the page counts ages against it.
                "now": node.clock.now(),
                "subversion": USER_AGENT,
            }
        )

    async def recent_blocks(self, request: web.Request) -> web.Response:
        count = _query_int(request, "count", 10, 1, MAX_RECENT)
        before = request.query.get("before")
        below = None if before is None else _int(before, "before", 0, 0xFFFFFFFF)
        return json_response(explorer.recent_blocks(self.node.chain, count, below))

    async def address(self, request: web.Request) -> web.Response:
        node = self.node
        text = request.match_info["address"]
        try:
            lock = decode_address(text, node.params)
        except AddressError as exc:
            raise RestError(400, f"invalid {node.params.name} address: {exc}") from exc
        limit = _query_int(request, "limit", 50, 1, MAX_HISTORY)
        confirmed = await node.in_chain_thread(
            explorer.address_confirmed,
            node.chain,
            node.mempool.entries(),
            lock,
            limit,
            MAX_HISTORY,
        )
        page = explorer.address_page(node.params, node.mempool, lock, confirmed)
        return json_response(page)

    async def search(self, request: web.Request) -> web.Response:
        node = self.node
        try:
            found = explorer.search(node.chain, node.mempool, request.query.get("q", ""))
        except ValueError as exc:
            raise RestError(400, str(exc)) from exc
        if found is None:
            raise RestError(404, "nothing found: no block, transaction or address matches")
        kind, ident = found
        return json_response({"type": kind, "id": ident})

    async def peers(self, request: web.Request) -> web.Response:
        return json_response(await self._peer_rpc("getpeerinfo", []))

    async def banned(self, request: web.Request) -> web.Response:
        return json_response(await self._peer_rpc("listbanned", []))

    async def mining(self, request: web.Request) -> web.Response:
        return json_response(await self._rpc("getmininginfo"))

    async def difficulty_series(self, request: web.Request) -> web.Response:
        count = _query_int(request, "blocks", 200, 1, MAX_SERIES)
        return json_response(explorer.difficulty_series(self.node.chain, count))

    async def hashrate_series(self, request: web.Request) -> web.Response:
        count = _query_int(request, "blocks", 200, 1, MAX_SERIES)
        window = _query_int(request, "window", 20, 1, MAX_SERIES)
        return json_response(explorer.hashrate_series(self.node.chain, count, window))

    async def analytics_series(self, request: web.Request) -> web.Response:
        from ..analytics.charts import chart_series

        return json_response(await chart_series(self.node.export_dir))

    async def unknown(self, request: web.Request) -> web.Response:
        raise RestError(404, f"no REST endpoint {request.path}")
