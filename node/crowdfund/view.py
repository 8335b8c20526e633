"""What anyone may see of a campaign: the public JSON, ``getcampaign``'s result too.
Only the campaign and its pledges (amount, coin, status), never wallet data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.address import encode_address

from ..rpc.jsonfmt import Amount
from .store import Campaign

if TYPE_CHECKING:
    from ..rpc.services import NodeServices
    from .campaigns import Campaigns


def coin_text(key: bytes) -> str:
    return f"{key[:32][::-1].hex()}:{int.from_bytes(key[32:], 'little')}"


def campaign_view(node: NodeServices, campaigns: Campaigns, c: Campaign) -> dict[str, Any]:
    """What anyone may see of a campaign (also ``getcampaign``'s result)."""
    height = node.chain.height
    pledged = c.pledged
    url = campaigns.url(c.id)
    return {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "url": url,
        "network": node.params.name,
        "goal": Amount(c.goal),
        "payee": encode_address(c.payee, node.params),
        "feerate": c.fee_rate,
        "pledged": Amount(pledged),
        "remaining": Amount(max(0, c.goal - pledged)),
        "deadline": c.deadline,
        "height": height,
        "state": c.state(height),
        "claim_txid": c.claim_txid or None,
        "pledges": [
            {
                "id": p.id,
                "coin": coin_text(p.coin),
                "amount": Amount(p.amount),
                "status": p.status,
                "reason": p.reason,
                "time": p.time,
            }
            for p in c.pledges
        ],
        "pledge_command": f"obol wallet pledge {url} AMOUNT",
    }
