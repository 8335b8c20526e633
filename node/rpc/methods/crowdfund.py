"""Crowdfunding RPCs (obol's own; Core has none): the creator's campaigns on this node
(``createcampaign``, ``listcampaigns``, ``getcampaign``, ``claimcampaign``,
``cancelcampaign``) and a wallet's pledges (``pledge``, ``listpledges``, ``revokepledge``).

Errors: -8 for a bad argument (title, goal, deadline), -5 for an unknown campaign or a bad
payee address, -4 for what cannot be done now (claiming a campaign short of its goal, a
pledge the campaign refused, revoking twice), with the reason in the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...crowdfund import backer
from ...crowdfund.campaigns import CampaignError
from ...crowdfund.view import campaign_view
from ..errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RPC_WALLET_ERROR, RpcError
from ..jsonfmt import Amount, parse_amount
from ..params import as_address, as_int, as_str
from ..registry import MethodTable, RpcRequest

if TYPE_CHECKING:
    from ..services import NodeServices


rpc = MethodTable()


def found(node: NodeServices, /, cid: Any) -> str:
    text = as_str(cid)
    if text not in node.campaigns.campaigns:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"no campaign {text}")
    return text


def refused(exc: CampaignError) -> RpcError:
    code = RPC_INVALID_ADDRESS_OR_KEY if exc.not_found else RPC_WALLET_ERROR
    return RpcError(code, str(exc))


@rpc.method(category="crowdfund")
async def createcampaign(
    node: NodeServices,
    /,
    title: Any,
    goal: Any,
    payee_address: Any,
    deadline_height: Any = None,
    description: Any = "",
) -> dict[str, Any]:
    """createcampaign "title" goal "payee_address" ( deadline_height "description" )

    Start an all-or-nothing campaign on this node: pledges pay exactly ``goal`` OBOL to
    the payee, or nothing happens. The deadline defaults to 1008 blocks from now.
    Returns the id, the public page's url and the goal output every pledge signs."""
    units = parse_amount(goal, allow_zero=False)
    payee = as_address(payee_address, node.params)
    deadline = None if deadline_height is None else as_int(deadline_height, "deadline_height")
    try:
        c = await node.campaigns.create(
            as_str(title), units, payee, deadline, as_str(description), node.wallets.fee_rate(None)
        )
    except CampaignError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, str(exc)) from exc
    return {
        "id": c.id,
        "url": node.campaigns.url(c.id),
        "goal": {"value": Amount(c.goal), "address": payee_address},
        "deadline": c.deadline,
        "feerate": c.fee_rate,
    }


@rpc.method(category="crowdfund")
def listcampaigns(node: NodeServices, /) -> list[dict[str, Any]]:
    """listcampaigns

    Every campaign on this node: id, title, goal, pledged, state, deadline and url."""
    height = node.chain.height
    return [
        {
            "id": c.id,
            "title": c.title,
            "goal": Amount(c.goal),
            "pledged": Amount(c.pledged),
            "state": c.state(height),
            "deadline": c.deadline,
            "url": node.campaigns.url(c.id),
        }
        for c in node.campaigns.campaigns.values()
    ]


@rpc.method(category="crowdfund")
def getcampaign(node: NodeServices, /, id: Any) -> dict[str, Any]:
    """getcampaign "id"

    The campaign as its public JSON shows it, with every pledge and its status."""
    return campaign_view(node, node.campaigns, node.campaigns.campaigns[found(node, id)])


@rpc.method(category="crowdfund")
async def claimcampaign(node: NodeServices, /, id: Any) -> str:
    """claimcampaign "id"

    Combine valid pledges into one tx paying the payee exactly the goal (their fee
    shares pay the fee) and broadcast it. Refused while the goal is not met, and when
    no subset of the pledges meets it exactly. Returns the txid."""
    try:
        return await node.campaigns.claim(found(node, id))
    except CampaignError as exc:
        raise refused(exc) from exc


@rpc.method(category="crowdfund")
async def cancelcampaign(node: NodeServices, /, id: Any) -> dict[str, Any]:
    """cancelcampaign "id"

    Close the campaign unclaimed: no more pledges; backers' coins never moved."""
    try:
        c = await node.campaigns.cancel(found(node, id))
    except CampaignError as exc:
        raise refused(exc) from exc
    return {"id": c.id, "state": c.state(node.chain.height)}


@rpc.method(category="wallet")
async def pledge(
    node: NodeServices, /, request: RpcRequest, campaign_url: Any, amount: Any
) -> dict[str, Any]:
    """pledge "campaign_url" amount

    Pledge ``amount`` OBOL to the campaign at ``campaign_url`` (its page): pay the
    wallet a coin of the amount plus its fee share, sign the pledge of it
    ALL|ANYONECANPAY and post it. The coin is reserved until revoked or claimed."""
    lw = node.wallets.resolve(request.wallet_name)
    lw.wallet.require_unlocked()
    result = await backer.pledge(
        node.wallets, lw, as_str(campaign_url), parse_amount(amount, allow_zero=False)
    )
    return {**result, "amount": Amount(result["amount"])}


@rpc.method(category="wallet")
def listpledges(node: NodeServices, /, request: RpcRequest) -> list[dict[str, Any]]:
    """listpledges

    This wallet's pledges: campaign, coin, amount, and status (active, revoked, or
    spent: the campaign claimed it)."""
    lw = node.wallets.resolve(request.wallet_name)
    return [{**p, "amount": Amount(p["amount"])} for p in backer.list_pledges(node.wallets, lw)]


@rpc.method(category="wallet")
async def revokepledge(node: NodeServices, /, request: RpcRequest, pledge: Any) -> dict[str, Any]:
    """revokepledge "pledge"

    Spend the pledge's coin back to the wallet, so the campaign can no longer use it.
    Returns the txid."""
    lw = node.wallets.resolve(request.wallet_name)
    return {"txid": await backer.revoke(node.wallets, lw, as_str(pledge))}
