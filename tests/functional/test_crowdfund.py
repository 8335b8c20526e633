"""Crowdfunding across three real nodes (one set, reused by every case): node 1 runs the
campaigns, wallets on nodes 2 and 3 pledge through the public URL; pledges that are
revoked, double-spent, forged, for another goal, over the goal, oversized or flooded;
a kill -9 between pledges; a deadline that passes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from consensus.address import decode_address, encode_address
from consensus.params import REGTEST
from consensus.primitives import Tx, TxIn, TxOut
from node.crowdfund.checks import Goal, fee_share
from tests.chain_helpers import key, with_sigs
from tests.chain_helpers import sign_input as raw_sign
from wallet.psbt import create_psbt, encode_psbt, sign_input, update_input

from . import framework
from .framework import (
    assert_raises_rpc_error,
    connect_nodes,
    sync_blocks,
    sync_mempools,
    wait_until,
)
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
    with framework.running_nodes(tmp_path_factory.mktemp("crowdfund"), 3) as nodes:
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

    assert_raises_rpc_error(-4, "0.00000000 OBOL remain", n3.rpc.pledge, url, 2)
    assert len(campaign_json(n1, cid)["pledges"]) == 3

    # The pledge coin is reserved: a send that would need it fails, though the wallet
    # holds enough with it.
    assert units(n3.rpc.getbalance()) > units(Decimal("39.5"))
    assert_raises_rpc_error(-6, None, n3.rpc.sendtoaddress, n3.rpc.getnewaddress(), Decimal("39.5"))
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
    assert_raises_rpc_error(-4, None, n1.rpc.claimcampaign, cid)
    n1.rpc.generate(1)
    sync_blocks(net)
    assert n1.rpc.getrawtransaction(txid, True)["confirmations"] == 1
    assert n1.rpc.getaddressbalance(made["payee"])["balance"] == Decimal(10)
    c = campaign_json(n1, cid)
    assert c["state"] == "claimed" and c["claim_txid"] == txid
    assert all(p["status"] == "valid" for p in c["pledges"])
    assert n3.rpc.listpledges()[0]["status"] == "spent"
    assert {c["id"]: c["state"] for c in n1.rpc.listcampaigns()}[cid] == "claimed"


def test_revoked_and_double_spent_pledges_stop_counting(net):
    n1, n2, n3 = net
    made = create(n1, 5)
    cid, url = made["id"], made["url"]
    two = n2.wallet("default").pledge(url, 2)
    other = n3.rpc.pledge(url, 2)
    assert_raises_rpc_error(-4, "1.00000000 OBOL remain", n2.wallet("b").pledge, url, 2)

    revoked = obol_wallet_json(n2, "revokepledge", two["pledge"], wallet="default")
    assert revoked["txid"] in n2.rpc.getrawmempool()
    wait_until(lambda: pledged_statuses(n1, cid)[two["pledge"]] == "dropped")
    c = campaign_json(n1, cid)
    assert (c["pledged"], c["remaining"], c["state"]) == (2, 3, "open")
    (dropped,) = [p for p in c["pledges"] if p["id"] == two["pledge"]]
    assert dropped["reason"] == f"coin spent by {revoked['txid']} (revoked or double-spent)"
    mine = {p["pledge"]: p for p in n2.wallet("default").listpledges()}
    assert mine[two["pledge"]]["status"] == "revoked"
    assert_raises_rpc_error(-4, None, n2.wallet("default").revokepledge, two["pledge"])

    # Double-spent by other means: a raw tx of n3's own spends the coin elsewhere.
    txid, vout = other["coin"].split(":")
    value = n3.rpc.getrawtransaction(txid, True)["vout"][int(vout)]["value"]
    raw = n3.rpc.createrawtransaction(
        [{"txid": txid, "vout": int(vout)}], {n3.rpc.getnewaddress(): value - Decimal("0.001")}
    )
    signed = n3.rpc.signrawtransactionwithwallet(raw)
    spender = n3.rpc.sendrawtransaction(signed["hex"])
    wait_until(lambda: pledged_statuses(n1, cid)[other["pledge"]] == "dropped")
    c = campaign_json(n1, cid)
    assert (c["pledged"], c["remaining"]) == (0, 5)
    (dropped,) = [p for p in c["pledges"] if p["id"] == other["pledge"]]
    assert dropped["reason"] == f"coin spent by {spender} (revoked or double-spent)"
    n3.rpc.generate(1)
    sync_blocks(net)
    assert pledged_statuses(n1, cid)[other["pledge"]] == "dropped"

    # Another pledge completes it; the claim uses only the valid one.
    n2.wallet("b").pledge(url, 5)
    assert campaign_json(n1, cid)["state"] == "funded"
    claim = n1.rpc.getrawtransaction(n1.rpc.claimcampaign(cid), True)
    assert len(claim["vin"]) == 1 and claim["vout"][0]["value"] == 5
    n1.rpc.generate(1)
    sync_blocks(net)


def crafted_coin(net, k, amount: int, goal: Goal) -> tuple[bytes, int, int]:
    """A coin of ``k`` (a test key) holding ``amount`` plus its fee share: (txid, vout,
    value), confirmed."""
    n2 = net[1]
    value = amount + fee_share(0, k.key_type, goal.fee_rate)
    txid = n2.wallet("default").sendtoaddress(
        encode_address(k.lock, REGTEST), Decimal(value) / 10**8
    )
    outs = n2.rpc.getrawtransaction(txid, True)["vout"]
    vout = next(o["n"] for o in outs if units(o["value"]) == value)
    n2.rpc.generate(1)
    sync_blocks(net)
    return bytes.fromhex(txid)[::-1], vout, value


def crafted_pledge(k, coin: tuple[bytes, int, int], goal: Goal, acp: bool = True) -> str:
    txid, vout, value = coin
    psbt = create_psbt(goal.tx([TxIn(txid, vout, b"", b"")]), REGTEST.magic)
    psbt = update_input(psbt, 0, TxOut(value, k.lock), k.pubkey)
    return encode_psbt(sign_input(psbt, 0, k.key_type, k.secret, REGTEST, acp=acp))


def goal_of(c: dict) -> Goal:
    return Goal(units(c["goal"]), decode_address(c["payee"], REGTEST), c["feerate"])


def test_bad_pledges_are_refused_with_their_codes_and_floods_with_429(net):
    n1, n2, _ = net
    a, b = create(n1, 8), create(n1, 8)
    ca, cb = campaign_json(n1, a["id"]), campaign_json(n1, b["id"])
    goal_a, goal_b = goal_of(ca), goal_of(cb)
    good = n2.wallet("default").pledge(a["url"], 1)
    url = pledge_url(n1, a["id"])

    assert post(url, b"not a psbt") == (
        400,
        {"error": post(url, b"not a psbt")[1]["error"], "code": "pledge-malformed"},
    )
    k0, k1, k2, k3 = CRAFTED
    coin = crafted_coin(net, k0, 2 * 10**8, goal_a)
    status, body = post(url, crafted_pledge(k0, coin, goal_b).encode())
    assert (status, body["code"]) == (400, "pledge-wrong-goal")
    status, body = post(url, crafted_pledge(k0, coin, goal_a, acp=False).encode())
    assert (status, body["code"]) == (400, "pledge-not-anyonecanpay")
    spent = crafted_coin(net, k1, 10**8, goal_a)
    spend = Tx(
        1, (TxIn(spent[0], spent[1], k1.pubkey, b""),), (TxOut(spent[2] - 10_000, k2.lock),), 0
    )

    spend = with_sigs(spend, {0: raw_sign(spend, 0, k1, spent[2], k1.lock)})
    n1.rpc.sendrawtransaction(spend.serialize().hex())
    status, body = post(url, crafted_pledge(k1, spent, goal_a).encode())
    assert (status, body["code"]) == (400, "pledge-coin-spent")
    big = crafted_coin(net, k3, 8 * 10**8, goal_a)
    status, body = post(url, crafted_pledge(k3, big, goal_a).encode())
    assert (status, body["code"], body["remaining"]) == (400, "pledge-over-goal", 7)
    status, body = post(url, b"A" * 20_000)
    assert (status, body["code"]) == (413, "body-too-large")
    status, body = post(f"{n1.url}rest/campaign/{'0' * 16}/pledge", b"x")
    assert (status, body["code"]) == (404, "campaign-not-found")

    # The one crafted pledge that is right is accepted as well.
    status, body = post(url, crafted_pledge(k0, coin, goal_a).encode())
    assert status == 200 and body["amount"] == 2

    # A burst of 1,000 posts: each refused (400) or turned away (429); RPC answers all along.
    with ThreadPoolExecutor(16) as pool:
        flood = pool.map(lambda _: post(url, b"garbage")[0], range(1000))
        heights = [n1.rpc.getblockcount() for _ in range(20)]
        statuses = list(flood)
    assert set(statuses) <= {400, 429} and statuses.count(429) >= 500
    assert len(set(heights)) == 1
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"))
    refused.value.close()
    assert (refused.value.code, refused.value.headers["Retry-After"]) == (429, "1")
    # A backer's wallet waits out the 429s it is given and gets its pledge in.
    late = n2.wallet("default").pledge(a["url"], 1)
    c = campaign_json(n1, a["id"])
    assert {p["id"]: (p["status"], p["amount"]) for p in c["pledges"]} == {
        good["pledge"]: ("valid", 1),
        body["pledge"]: ("valid", 2),
        late["pledge"]: ("valid", 1),
    }
    assert c["pledged"] == 4


def test_kill_9_between_pledges_keeps_campaign_and_pledges(net):
    n1, n2, n3 = net
    made = create(n1, 4, title="Survives")
    first = n2.wallet("default").pledge(made["url"], 1)
    n1.kill()
    n1.start()
    connect_nodes(n2, n1)
    connect_nodes(n3, n1)
    c = campaign_json(n1, made["id"])
    assert c["title"] == "Survives" and c["pledged"] == 1
    assert [(p["id"], p["status"]) for p in c["pledges"]] == [(first["pledge"], "valid")]
    sync_mempools(net)
    second = n3.rpc.pledge(made["url"], 1)
    assert pledged_statuses(n1, made["id"]) == {first["pledge"]: "valid", second["pledge"]: "valid"}
    n1.stop()
    n1.start()
    connect_nodes(n2, n1)
    connect_nodes(n3, n1)
    assert campaign_json(n1, made["id"])["pledged"] == 2
    assert made["id"] in {c["id"] for c in n1.rpc.listcampaigns()}


def test_past_the_deadline_without_the_goal_the_campaign_fails(net):
    n1, _, n3 = net
    height = n1.rpc.getblockcount()
    made = create(n1, 5, deadline=height + 2)
    backer = n3.rpc.pledge(made["url"], 1)
    n1.rpc.generate(2)
    assert campaign_json(n1, made["id"])["state"] == "open"
    n1.rpc.generate(1)
    sync_blocks(net)
    c = campaign_json(n1, made["id"])
    assert c["state"] == "failed" and c["pledged"] == 1
    status, body = post(pledge_url(n1, made["id"]), b"x")
    assert (status, body) == (400, {"error": "the campaign is failed", "code": "campaign-closed"})
    assert_raises_rpc_error(-4, "failed", n3.rpc.pledge, made["url"], 1)
    assert_raises_rpc_error(-4, None, n1.rpc.claimcampaign, made["id"])
    # The backer's coin never left: still the wallet's, unspent.
    (mine,) = [p for p in n3.rpc.listpledges() if p["pledge"] == backer["pledge"]]
    assert mine["status"] == "active"
    txid, vout = backer["coin"].split(":")
    assert n3.rpc.gettxout(txid, int(vout)) is not None
    assert n1.rpc.cancelcampaign(made["id"]) == {"id": made["id"], "state": "cancelled"}


def test_creation_is_checked(net):
    n1 = net[0]
    payee = n1.rpc.getnewaddress()
    height = n1.rpc.getblockcount()
    for args, code in (
        (["", 1, payee], -8),
        (["t", 1, "notanaddress"], -5),
        (["t", 0, payee], -3),
        (["t", 1, payee, height], -8),
    ):
        assert_raises_rpc_error(code, None, n1.rpc.createcampaign, *args)
    assert_raises_rpc_error(-5, None, n1.rpc.getcampaign, "nope")
    status, body = get_json(f"{n1.url}rest/campaign/{'0' * 16}.json")
    assert (status, body["code"]) == (404, "campaign-not-found")
