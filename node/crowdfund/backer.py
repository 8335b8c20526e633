"""The backer's side, in a wallet: pledge to a campaign by its URL, list and revoke.

``pledge`` reads the campaign's public JSON, makes a coin of exactly the amount plus the
fee share its input adds to the claim (a payment to the wallet itself), signs a pledge
spending that coin ALL|ANYONECANPAY against the goal output, posts it as a partially
signed tx, and reserves the coin. The campaign's node may not have seen the coin's tx yet
when the pledge arrives (gossip takes a moment), so a ``pledge-coin-spent`` answer is
retried for ``POST_RETRY_SECONDS`` before the pledge is given up; so is a 429 (too many
posts from this address), after the pause its ``Retry-After`` asks for.
"""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import aiohttp

from consensus.address import AddressError, decode_address
from consensus.params import COIN, NetworkParams
from consensus.primitives import TxIn, TxOut, outpoint_key
from wallet.errors import WalletError
from wallet.hd import EXTERNAL_CHAIN, INTERNAL_CHAIN
from wallet.psbt import Psbt, create_psbt, encode_psbt, finalize, sign_input, update_input
from wallet.txbuild import input_size, tx_size, unsigned_tx
from wallet.wallet import PledgeRecord

from ..wallets.manager import SentRecord, format_units
from .checks import Goal, PledgeCode, fee_share
from .view import coin_text

if TYPE_CHECKING:
    from ..wallets.manager import LoadedWallet, WalletManager

_URL = re.compile(r"(https?://[^/\s]+)/(?:rest/)?campaign/([0-9a-f]{16})(?:\.json)?/?")
HTTP_TIMEOUT = 10.0
# The highest campaign fee rate (units per byte) a pledge accepts: the fee share goes to
# the miner of the claim, so a campaign asking for far more than any wallet pays is refused.
MAX_FEE_RATE = 1000
POST_RETRY_SECONDS = 20.0


class PledgeRefused(WalletError):
    """The campaign refused the pledge, or cannot be reached; the message says why."""


def campaign_urls(url: str) -> tuple[str, str]:
    """(the campaign's JSON URL, its pledge URL) from its page URL."""
    m = _URL.fullmatch(url.strip())
    if m is None:
        raise PledgeRefused(f"not a campaign URL: {url!r} (expected http://HOST:PORT/campaign/ID)")
    base, cid = m.groups()
    return f"{base}/rest/campaign/{cid}.json", f"{base}/rest/campaign/{cid}/pledge"


def _units(value: Any) -> int:
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:
        raise PledgeRefused("the campaign answered an invalid amount") from exc
    return int(d * COIN)


async def fetch_campaign(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    try:
        async with session.get(url) as resp:
            body = await resp.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise PledgeRefused(f"cannot read the campaign at {url}: {exc}") from exc
    if resp.status != 200 or not isinstance(body, dict):
        raise PledgeRefused(f"cannot read the campaign at {url}: {body.get('error', resp.status)}")
    return body


def campaign_goal(info: dict[str, Any], amount: int, params: NetworkParams) -> Goal:
    """The goal a pledge of ``amount`` signs, from the campaign's JSON; ``PledgeRefused``
    for an unusable answer, a fee rate outside 1..``MAX_FEE_RATE``, an amount above what
    remains, or a campaign that takes no pledges."""
    try:
        goal = Goal(
            _units(info["goal"]), decode_address(info["payee"], params), int(info["feerate"])
        )
        remaining = _units(info["remaining"])
    except (KeyError, TypeError, ValueError, AddressError) as exc:
        raise PledgeRefused(f"the campaign's answer is not usable: {exc}") from exc
    if not 0 < goal.fee_rate <= MAX_FEE_RATE:
        raise PledgeRefused(
            f"the campaign's fee rate {goal.fee_rate} is outside 1 to {MAX_FEE_RATE} units per byte"
        )
    if amount > remaining:
        raise PledgeRefused(
            f"the pledge is above what remains: {format_units(remaining)} OBOL remain"
        )
    if info.get("state") != "open":
        raise PledgeRefused(f"the campaign is {info.get('state')}")
    return goal


async def pledge(manager: WalletManager, lw: LoadedWallet, url: str, amount: int) -> dict:
    json_url, post_url = campaign_urls(url)
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        info = await fetch_campaign(session, json_url)
        goal = campaign_goal(info, amount, manager.params)
        psbt, record = await _make_pledge(manager, lw, url, goal, amount)
        pid = psbt.tx.txid_hex
        lw.wallet.pledges[pid] = record  # reserved at once: no send may take the coin
        lw.save()
        try:
            await _post(session, post_url, encode_psbt(psbt))
        except PledgeRefused:
            del lw.wallet.pledges[pid]
            lw.save()
            raise
    return {"pledge": pid, "coin": coin_text(record.coin), "amount": amount}


def _retry_after(header: str | None) -> float:
    """The pause a 429's Retry-After asks for, in seconds: 1 if it says nothing usable,
    at most 5 (the whole retry is bounded by POST_RETRY_SECONDS anyway)."""
    try:
        return min(max(float(header or 1), 0.1), 5.0)
    except ValueError:
        return 1.0


async def _post(session: aiohttp.ClientSession, post_url: str, text: str) -> None:
    deadline = time.monotonic() + POST_RETRY_SECONDS
    while True:
        try:
            async with session.post(post_url, data=text) as resp:
                body = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise PledgeRefused(f"cannot post the pledge to {post_url}: {exc}") from exc
        if resp.status == 200:
            return
        code = body.get("code") if isinstance(body, dict) else None
        if time.monotonic() < deadline:
            if code == PledgeCode.COIN_SPENT.value:
                await asyncio.sleep(0.2)
                continue
            if resp.status == 429:
                await asyncio.sleep(_retry_after(resp.headers.get("Retry-After")))
                continue
        message = body.get("error") if isinstance(body, dict) else resp.status
        if isinstance(body, dict) and "remaining" in body:
            message = f"{message}: {body['remaining']} OBOL remain"
        raise PledgeRefused(f"the campaign refused the pledge: {message} ({code})")


async def _make_pledge(
    manager: WalletManager, lw: LoadedWallet, url: str, goal: Goal, amount: int
) -> tuple[Psbt, PledgeRecord]:
    """Pay the wallet a coin of the amount plus its fee share, and sign the pledge of it."""
    wallet = lw.wallet
    key = manager.new_key(lw, wallet.default_key_type, EXTERNAL_CHAIN, "pledge")
    # The coin's output index is not known before funding; an index below 128 packs in one
    # byte, which the share assumes (fund puts at most one change output beside it).
    value = amount + fee_share(0, key.key_type, goal.fee_rate)
    funding, _ = await manager.send(lw, [TxOut(value, key.lock)], None, comment="pledge coin")
    vout = next(n for n, o in enumerate(funding.outputs) if o.lock == key.lock)
    coin = outpoint_key(funding.txid, vout)
    record = PledgeRecord(url, coin, amount, manager.node.clock.now())
    tx = goal.tx([TxIn(funding.txid, vout, b"", b"")])
    psbt = update_input(
        create_psbt(tx, manager.params.magic), 0, TxOut(value, key.lock), key.pubkey
    )
    key_type, secret = wallet.secret_for(key.lock)
    psbt = finalize(sign_input(psbt, 0, key_type, secret, manager.params, acp=True), manager.params)
    return psbt, record


def list_pledges(manager: WalletManager, lw: LoadedWallet) -> list[dict]:
    out = []
    for pid, p in lw.wallet.pledges.items():
        if p.revoked_by is not None:
            status = "revoked"
        elif manager.node.mempool.get_coin(p.coin) is not None:
            status = "active"
        else:
            status = "spent"
        out.append(
            {
                "pledge": pid,
                "campaign_url": p.campaign_url,
                "coin": coin_text(p.coin),
                "amount": p.amount,
                "status": status,
                "time": p.time,
                **({"revoked_by": p.revoked_by[::-1].hex()} if p.revoked_by else {}),
            }
        )
    return out


async def revoke(manager: WalletManager, lw: LoadedWallet, pid: str) -> str:
    """Spend the pledge's coin back to the wallet: the campaign can no longer use it."""
    record = lw.wallet.pledges.get(pid)
    if record is None:
        raise WalletError(f"no pledge {pid} in this wallet")
    if record.revoked_by is not None:
        raise WalletError(f"the pledge was already revoked by {record.revoked_by[::-1].hex()}")
    async with lw.lock:
        lw.wallet.require_unlocked()
        coin = manager.node.mempool.get_coin(record.coin)
        if coin is None:
            raise WalletError("the pledge's coin is already spent (claimed, or revoked)")
        rate = manager.fee_rate(None)
        index = int.from_bytes(record.coin[32:], "little")
        size = tx_size([input_size(index, coin.lock[0])], [coin.value])
        back = coin.value - rate * size
        if back < manager.node.policy.dust_limit:
            raise WalletError("the pledge's coin is too small to pay its way back")
        dest = manager.new_key(lw, lw.wallet.default_key_type, INTERNAL_CHAIN)
        unsigned = unsigned_tx([(record.coin[:32], index)], [TxOut(back, dest.lock)])
        tx = await manager.sign_and_submit(lw, unsigned, SentRecord(0, b"", "pledge revoked"))
        lw.wallet.pledges[pid] = PledgeRecord(
            record.campaign_url, record.coin, record.amount, record.time, tx.txid
        )
        lw.save()
    return tx.txid_hex
