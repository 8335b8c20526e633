"""Public campaign routes: ``GET /rest/campaign/<id>.json``, ``POST
/rest/campaign/<id>/pledge`` and the page ``GET /campaign/<id>``.

Unauthenticated, since pledges prove themselves (``node.crowdfund.checks``). The POST is
bounded three ways: its body (``MAX_PLEDGE_BODY``; a pledge is well under 1 KB), a token
bucket per client address (a burst beyond it is answered 429 at once, before any
decoding), and the campaign's own pledge cap. A refused pledge is ``400`` with
``{"error", "code"}`` (the stable code of ``PledgeCode``; ``remaining`` too when it was
above the goal). The views show the campaign and its pledges, never wallet data.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..crowdfund.checks import PledgeError
from ..crowdfund.store import Campaign
from ..crowdfund.view import campaign_view, coin_text
from ..rpc.jsonfmt import Amount
from .rest import json_response

if TYPE_CHECKING:
    from ..crowdfund.campaigns import Campaigns
    from ..node import Node

MAX_PLEDGE_BODY = 16 * 1024
# Each client address gets a burst of 20 posts, then 10 a second. Checking a pledge costs
# one signature verification and a coin lookup; this keeps one client's flood to a few
# percent of a core, and a flooding client does not lock out the others.
BUCKET_SIZE = 20.0
BUCKET_RATE = 10.0
MAX_CLIENTS = 4096  # buckets kept; the least recently seen client's is forgotten first


class TokenBucket:
    def __init__(self, size: float, rate: float, clock: Any = time.monotonic) -> None:
        self.size = size
        self.rate = rate
        self._clock = clock
        self._tokens = size
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.size, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class ClientBuckets:
    """One ``TokenBucket`` per client address, at most ``MAX_CLIENTS`` of them."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, client: str) -> bool:
        bucket = self._buckets.pop(client, None)
        if bucket is None:
            bucket = TokenBucket(BUCKET_SIZE, BUCKET_RATE, self._clock)
            if len(self._buckets) >= MAX_CLIENTS:
                self._buckets.popitem(last=False)
        self._buckets[client] = bucket
        return bucket.take()


class CampaignRoutes:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.buckets = ClientBuckets()

    @property
    def campaigns(self) -> Campaigns:
        return self.node.campaigns

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/rest/campaign/{id}.json", self.get_json)
        router.add_post("/rest/campaign/{id}/pledge", self.post_pledge)

    def _campaign(self, request: web.Request) -> Campaign | None:
        return self.campaigns.campaigns.get(request.match_info["id"])

    async def get_json(self, request: web.Request) -> web.Response:
        c = self._campaign(request)
        if c is None:
            return _not_found()
        return json_response(campaign_view(self.node, self.campaigns, c))

    async def post_pledge(self, request: web.Request) -> web.Response:
        if not self.buckets.take(request.remote or ""):
            return json_response(
                {"error": "too many pledges posted; try again shortly", "code": "rate-limited"},
                429,
            )
        if (request.content_length or 0) > MAX_PLEDGE_BODY:
            return _too_large()
        body = await request.content.read(MAX_PLEDGE_BODY + 1)
        if len(body) > MAX_PLEDGE_BODY:
            return _too_large()
        c = self._campaign(request)
        if c is None:
            return _not_found()
        text = body.decode("ascii", "replace").strip()
        try:
            entry = await self.campaigns.add_pledge(c.id, text)
        except PledgeError as exc:
            answer: dict[str, Any] = {"error": exc.message, "code": exc.code.value}
            if exc.remaining is not None:
                answer["remaining"] = Amount(exc.remaining)
            return json_response(answer, 400)
        return json_response(
            {"pledge": entry.id, "coin": coin_text(entry.coin), "amount": Amount(entry.amount)}
        )


def _not_found() -> web.Response:
    return json_response({"error": "no such campaign", "code": "campaign-not-found"}, 404)


def _too_large() -> web.Response:
    return json_response(
        {"error": f"a pledge is at most {MAX_PLEDGE_BODY} bytes", "code": "body-too-large"}, 413
    )
