"""The node's public web face, on the RPC server's HTTP port.

Unauthenticated and read-only, next to the authenticated JSON-RPC at ``POST /``:

- ``GET /``, ``/static/<file>``: the dashboard and explorer (``dashboard``);
- ``GET /fraud``: the fraud signals of the last export (``analytics.fraud``);
- ``GET /rest/...``: chain data as JSON (``rest``);
- ``GET /events``: the node's events over a WebSocket (``stream``);
- ``GET /metrics``: Prometheus text (``node.metrics``);
- ``GET /campaign/<id>``, ``GET /rest/campaign/<id>.json`` and the one write,
  ``POST /rest/campaign/<id>/pledge``: crowdfunding campaigns (``campaign``), open to
  anyone since pledges prove themselves.

Nothing here reads or serves wallet data. ``install`` is called once by the node, before
the server starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import hdrs, web

from ..metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .campaign import CampaignRoutes
from .dashboard import Dashboard
from .rest import RestApi
from .stream import EventStream

if TYPE_CHECKING:
    from ..node import Node

__all__ = ["install"]


def install(app: web.Application, node: Node) -> None:
    """Add the web routes to ``app`` and close the event sockets when it shuts down."""
    rest = RestApi(node)
    stream = EventStream(node.events)
    dashboard = Dashboard()

    async def metrics(request: web.Request) -> web.Response:
        """Gauges of state owned elsewhere are read now; counters are kept as things happen."""
        m = node.metrics
        m.block_height.set(node.chain.height)
        m.peers.set(await rest.peer_count())
        m.mempool_transactions.set(len(node.mempool))
        m.mempool_bytes.set(node.mempool.total_bytes)
        return web.Response(
            body=m.render().encode(), headers={hdrs.CONTENT_TYPE: METRICS_CONTENT_TYPE}
        )

    app.router.add_get("/", dashboard.index)
    app.router.add_get("/static/{name}", dashboard.static)
    app.router.add_get("/events", stream.handle)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/campaign/{id}", dashboard.campaign)
    app.router.add_get("/fraud", dashboard.fraud)
    CampaignRoutes(node).add_routes(app.router)  # before /rest's catch-all
    rest.add_routes(app.router)
    app.on_shutdown.append(stream.close_all)
