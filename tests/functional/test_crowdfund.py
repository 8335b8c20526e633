"""Crowdfunding across three real nodes (one set, reused by every case): node 1 runs the
campaigns, wallets on nodes 2 and 3 pledge through the public URL; pledges that are
revoked, double-spent, forged, for another goal, over the goal, oversized or flooded;
a kill -9 between pledges; a deadline that passes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from node.crowdfund.checks import fee_share
from tests.chain_helpers import key

from . import framework
from .framework import RpcFailure, connect_nodes, sync_blocks
from .wallet_helpers import obol_wallet_json, units

CRAFTED = [key(7001 + n) for n in range(4)]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, json.loads(resp.read(), parse_float=Decimal)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read(), parse_float=Decimal)


def post(url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read(), parse_float=Decimal)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read(), parse_float=Decimal)


def campaign_json(node: framework.TestNode, cid: str) -> dict:
    status, body = get_json(f"{node.url}rest/campaign/{cid}.json")
    assert status == 200, body
    return body


def pledge_url(node: framework.TestNode, cid: str) -> str:
    return f"{node.url}rest/campaign/{cid}/pledge"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    base = tmp_path_factory.mktemp("crowdfund")
    nodes = [framework.TestNode(i, base) for i in range(3)]
    for node in nodes:
        node.start()
    try:
        n1, n2, n3 = nodes
        connect_nodes(n2, n1)
        connect_nodes(n3, n1)
        n2.rpc.createwallet("b")
        n2.rpc.generate(106)
        for dest in (n2.wallet("b").getnewaddress(), n3.rpc.getnewaddress()):
            n2.wallet("default").sendtoaddress(dest, 40)
        n2.rpc.generate(1)
        sync_blocks(nodes)
        yield nodes
    finally:
        for node in nodes:
            node.kill() if node.process is None else node.stop()


def create(n1: framework.TestNode, goal: int, **kw) -> dict:
    payee = n1.rpc.getnewaddress()
    made = n1.rpc.createcampaign(kw.pop("title", "A well"), goal, payee, *kw.values())
    return {**made, "payee": payee}


def pledged_statuses(node: framework.TestNode, cid: str) -> dict[str, str]:
    return {p["id"]: p["status"] for p in campaign_json(node, cid)["pledges"]}


def test_three_backers_reach_the_goal_and_the_claim_pays_exactly_the_goal(net):
    n1, n2, n3 = net
    made = create(n1, 10, title="A well for the village")
    cid, url = made["id"], made["url"]
    assert url == f"{n1.url}campaign/{cid}"
    assert made["goal"] == {"value": Decimal(10), "address": made["payee"]}
    first = campaign_json(n1, cid)
    assert (first["state"], first["pledged"], first["remaining"]) == ("open", 0, 10)

    six = n2.wallet("default").pledge(url, 6)
    three = obol_wallet_json(n2, "pledge", url, "3", wallet="b")
    one = n3.rpc.pledge(url, 1)
    assert (six["amount"], three["amount"], one["amount"]) == (6, 3, 1)
    c = campaign_json(n1, cid)
    assert (c["state"], c["pledged"], c["remaining"]) == ("funded", 10, 0)
    assert sorted((p["amount"], p["status"]) for p in c["pledges"]) == [
        (1, "valid"),
        (3, "valid"),
        (6, "valid"),
    ]
    assert {p["id"] for p in c["pledges"]} == {six["pledge"], three["pledge"], one["pledge"]}

    with pytest.raises(RpcFailure) as err:
        n3.rpc.pledge(url, 2)
    assert err.value.code == -4 and "0.00000000 OBOL remain" in err.value.message
    assert len(campaign_json(n1, cid)["pledges"]) == 3

    # The pledge coin is reserved: a send that would need it fails, though the wallet
    # holds enough with it.
    assert units(n3.rpc.getbalance()) > units(Decimal("39.5"))
    with pytest.raises(RpcFailure) as err:
        n3.rpc.sendtoaddress(n3.rpc.getnewaddress(), Decimal("39.5"))
    assert err.value.code == -6
    assert n3.rpc.listpledges()[0]["status"] == "active"

    txid = n1.rpc.claimcampaign(cid)
    claim = n1.rpc.getrawtransaction(txid, True)
    assert len(claim["vin"]) == 3
    assert [(o["value"], o["scriptPubKey"]["address"]) for o in claim["vout"]] == [
        (Decimal(10), made["payee"])
    ]
    spent = sum(
        n1.rpc.getrawtransaction(v["txid"], True)["vout"][v["vout"]]["value"] for v in claim["vin"]
    )
    shares = sum(fee_share(v["vout"], 1, c["feerate"]) for v in claim["vin"])
    assert units(spent) - units(Decimal(10)) == shares  # the fee: the shares, nothing more
    assert campaign_json(n1, cid)["state"] == "claimed"
    with pytest.raises(RpcFailure) as err:
        n1.rpc.claimcampaign(cid)
    assert err.value.code == -4
    n1.rpc.generate(1)
    sync_blocks(net)
    assert n1.rpc.getrawtransaction(txid, True)["confirmations"] == 1
    assert n1.rpc.getaddressbalance(made["payee"])["balance"] == Decimal(10)
    c = campaign_json(n1, cid)
    assert c["state"] == "claimed" and c["claim_txid"] == txid
    assert all(p["status"] == "valid" for p in c["pledges"])
    assert n3.rpc.listpledges()[0]["status"] == "spent"
    assert {c["id"]: c["state"] for c in n1.rpc.listcampaigns()}[cid] == "claimed"
