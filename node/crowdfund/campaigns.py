"""The creator's side: campaigns on this node, pledges posted to them, and the claim.

Pledges arrive unauthenticated (``POST /rest/campaign/<id>/pledge``): each proves itself
and is checked in full (``checks.check_pledge``) against the coin as the next block would
see it (chain and mempool) before it is kept. After every block and every mempool change
each valid pledge's coin is looked up again; a pledge whose coin was spent (revoked, or
double-spent) is dropped with the reason, and ``campaign_updated`` goes out on the event
bus so the public page redraws. One ``asyncio.Lock`` orders every change: two pledges
posted at once never both take what remains.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING

from consensus.errors import RuleError
from consensus.hashing import hash_to_hex
from consensus.primitives import Tx, TxOut
from p2p.tasks import cancel_and_wait, start_supervised
from wallet.psbt import Psbt, PsbtError, decode_psbt

from ..mempool.policy import PolicyError
from .checks import (
    ClaimError,
    Goal,
    PledgeCode,
    PledgeError,
    check_pledge,
    choose_claim,
    claim_tx,
    pledge_input,
)
from .store import (
    CANCELLED,
    CLAIMED,
    DROPPED,
    FUNDED,
    MAX_CAMPAIGNS,
    MAX_PLEDGES,
    OPEN,
    Campaign,
    CampaignStore,
    PledgeEntry,
)

if TYPE_CHECKING:
    from ..node import Node

log = logging.getLogger("obol.crowdfund")

CAMPAIGN_FILE = "campaigns.json"
DEFAULT_DURATION = 1008  # blocks to the deadline when none is given: a week at 10 minutes
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
_WATCHED = frozenset(("block_connected", "block_disconnected", "tx_accepted", "tx_replaced"))


class CampaignError(Exception):
    """A creator's request that cannot be done; ``not_found`` for an unknown id."""

    def __init__(self, message: str, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


class Campaigns:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.store = CampaignStore(node.config.netdir / CAMPAIGN_FILE)
        self.campaigns: dict[str, Campaign] = {}
        self.lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._states: dict[str, str] = {}  # each campaign's state when last looked at

    async def start(self) -> None:
        self.campaigns = self.store.load()
        self._queue = self.node.events.subscribe()
        async with self.lock:
            self._refresh_all()
        self._task = start_supervised("campaign-watch", self._watch, log)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task], log)
            self.node.events.unsubscribe(self._queue)

    @property
    def height(self) -> int:
        return self.node.chain.height

    def get(self, cid: str) -> Campaign:
        c = self.campaigns.get(cid)
        if c is None:
            raise CampaignError(f"no campaign {cid}", not_found=True)
        return c

    def url(self, cid: str) -> str:
        return f"{self.node.rpc.url}campaign/{cid}"

    # --- the creator's requests --------------------------------------------------------

    async def create(
        self,
        title: str,
        goal: int,
        payee: bytes,
        deadline: int | None,
        description: str,
        fee_rate: int,
    ) -> Campaign:
        if not title.strip() or len(title) > MAX_TITLE:
            raise CampaignError(f"the title is 1 to {MAX_TITLE} characters")
        if len(description) > MAX_DESCRIPTION:
            raise CampaignError(f"the description is at most {MAX_DESCRIPTION} characters")
        if goal < self.node.policy.dust_limit:
            raise CampaignError("the goal is below the dust limit")
        end = self.height + DEFAULT_DURATION if deadline is None else deadline
        if end <= self.height:
            raise CampaignError(f"the deadline {end} is not above the current height")
        async with self.lock:
            if len(self.campaigns) >= MAX_CAMPAIGNS:
                raise CampaignError(f"this node keeps at most {MAX_CAMPAIGNS} campaigns")
            c = Campaign(
                secrets.token_hex(8),
                title,
                description,
                goal,
                payee,
                end,
                fee_rate,
                self.node.clock.now(),
            )
            self.campaigns[c.id] = c
            self._save()
        log.info("campaign %s created: goal %d", c.id, goal)
        return c

    async def cancel(self, cid: str) -> Campaign:
        async with self.lock:
            c = self.get(cid)
            if c.closed:
                raise CampaignError(f"the campaign is already {c.closed}")
            c.closed = CANCELLED
            self._save()
        self._publish(c)
        return c

    async def claim(self, cid: str) -> str:
        """Combine valid pledges paying the goal exactly into one tx and submit it."""
        async with self.lock:
            c = self.get(cid)
            self._refresh_one(c)
            if c.state(self.height) != FUNDED:
                raise CampaignError(
                    f"the campaign is {c.state(self.height)} "
                    f"({c.pledged} of {c.goal} pledged): nothing to claim"
                )
            valid = c.valid()
            try:
                chosen = set(choose_claim([(p.id, p.amount) for p in valid], c.goal))
            except ClaimError as exc:
                raise CampaignError(str(exc)) from exc
            used = [p for p in valid if p.id in chosen]
            tx = claim_tx(self._goal(c), [pledge_input(self._decode(p.psbt)) for p in used])
            try:
                await self.node.submit_tx(tx)
            except (RuleError, PolicyError) as exc:
                raise CampaignError(f"the claim was rejected: {exc.code.value}") from exc
            c.closed = CLAIMED
            c.claim_txid = tx.txid_hex
            self._save()
        log.info("campaign %s claimed by %s", cid, tx.txid_hex)
        self._publish(c)
        return tx.txid_hex

    # --- pledges --------------------------------------------------------------------

    def _decode(self, text: str) -> Psbt:
        return decode_psbt(text, self.node.params.magic)

    def _goal(self, c: Campaign) -> Goal:
        return Goal(c.goal, c.payee, c.fee_rate)

    async def add_pledge(self, cid: str, text: str) -> PledgeEntry:
        """Check the posted pledge in full and keep it; ``PledgeError`` otherwise."""
        async with self.lock:
            c = self.get(cid)
            self._refresh_one(c)
            if c.state(self.height) != OPEN:
                raise PledgeError(PledgeCode.CLOSED, f"the campaign is {c.state(self.height)}")
            try:
                psbt = self._decode(text)
            except PsbtError as exc:
                raise PledgeError(
                    PledgeCode.MALFORMED, f"not a partially signed tx: {exc}"
                ) from exc
            txin = pledge_input(psbt)
            tx = Tx(psbt.tx.version, (txin,), psbt.tx.outputs, psbt.tx.locktime)
            if any(p.coin == txin.outpoint_key and p.status != DROPPED for p in c.pledges):
                raise PledgeError(PledgeCode.DUPLICATE, "this coin is already pledged here")
            if len(c.pledges) >= MAX_PLEDGES:
                raise PledgeError(
                    PledgeCode.FULL, f"the campaign holds at most {MAX_PLEDGES} pledges"
                )
            found = self.node.mempool.get_coin(txin.outpoint_key)
            coin = None if found is None else TxOut(found.value, found.lock)
            remaining = c.goal - c.pledged
            amount = check_pledge(tx, coin, self._goal(c), remaining, self.node.params)
            assert coin is not None
            entry = PledgeEntry(
                tx.txid_hex, text, txin.outpoint_key, coin.value, amount, self.node.clock.now()
            )
            c.pledges = [p for p in c.pledges if p.coin != txin.outpoint_key]
            c.pledges.append(entry)
            self._save()
        log.info("campaign %s: pledge %s of %d", cid, entry.id, amount)
        self._publish(c)
        return entry

    # --- watching coins -------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            event = await self._queue.get()
            if event["type"] not in _WATCHED:
                continue
            while not self._queue.empty():  # one pass covers every event queued so far
                self._queue.get_nowait()
            async with self.lock:
                self._refresh_all()

    def _refresh_all(self) -> None:
        changed = [c for c in self.campaigns.values() if self._refresh(c)]
        if changed:
            self._save()
        for c in changed:
            self._publish(c)

    def _refresh_one(self, c: Campaign) -> None:
        """``_refresh`` before acting on one campaign, its changes kept and announced."""
        if self._refresh(c):
            self._save()
            self._publish(c)

    def _refresh(self, c: Campaign) -> bool:
        """Drop the pledges whose coins are spent; True if the campaign's view changed
        (a pledge dropped, or the state moved: past the deadline, say)."""
        if c.closed:
            return False
        mempool = self.node.mempool
        changed = False
        for p in c.valid():
            if mempool.get_coin(p.coin) is not None:
                continue
            spender = mempool.spender_of(p.coin)
            p.status = DROPPED
            p.reason = (
                f"coin spent by {hash_to_hex(spender)} (revoked or double-spent)"
                if spender is not None
                else "coin spent in a block (revoked or double-spent)"
            )
            changed = True
        state = c.state(self.height)
        if self._states.get(c.id, state) != state:
            changed = True
        self._states[c.id] = state
        return changed

    def _save(self) -> None:
        self.store.save(self.campaigns)

    def _publish(self, c: Campaign) -> None:
        self.node.events.publish(
            "campaign_updated",
            {"id": c.id, "state": c.state(self.height), "pledged": c.pledged},
        )
