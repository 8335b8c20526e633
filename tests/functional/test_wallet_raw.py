"""The raw-transaction lesson end to end, replace-by-fee across two nodes, and the
wallet tools around spending (coin locks, keys, messages, fee estimate, abandon)."""

from __future__ import annotations

from decimal import Decimal

from .framework import (
    assert_raises_rpc_error,
    connect_nodes,
    sync_blocks,
    sync_mempools,
    wait_until,
)
from .wallet_helpers import obol_wallet_json


def test_raw_lesson_and_bumpfee_across_two_nodes(start_nodes):
    a, b = start_nodes(2)
    connect_nodes(a, b)
    a.rpc.generate(101)
    sync_blocks([a, b])
    dest = b.rpc.getnewaddress()

    # create -> fund -> sign -> send -> mined
    raw = a.rpc.createrawtransaction([], [{dest: Decimal("1.5")}])
    assert a.rpc.decoderawtransaction(raw)["vin"] == []
    funded = a.rpc.fundrawtransaction(raw)
    assert set(funded) == {"hex", "fee", "changepos"} and funded["changepos"] in (0, 1)
    signed = a.rpc.signrawtransactionwithwallet(funded["hex"])
    assert signed["complete"] is True and "errors" not in signed
    txid = a.rpc.sendrawtransaction(signed["hex"])
    sync_mempools([a, b])
    block = a.rpc.generate(1)[0]
    sync_blocks([a, b])
    assert txid in a.rpc.getblock(block)["tx"]
    assert b.rpc.getreceivedbyaddress(dest) == Decimal("1.5")

    # fundrawtransaction keeps a tx's own inputs (the wallet's coins) and adds more.
    coin = next(c for c in a.rpc.listunspent() if c["amount"] == 50)
    preset = a.rpc.createrawtransaction([{"txid": coin["txid"], "vout": coin["vout"]}], {dest: 60})
    grown = a.rpc.decoderawtransaction(a.rpc.fundrawtransaction(preset)["hex"])
    assert len(grown["vin"]) == 2 and grown["vin"][0]["txid"] == coin["txid"]
    assert_raises_rpc_error(
        -4,
        None,
        a.rpc.fundrawtransaction,
        a.rpc.createrawtransaction([{"txid": "ab" * 32, "vout": 0}], {dest: 1}),
    )

    # The same with a key from dumpprivkey, spending b's new coin on a.
    vout = next(
        o["n"]
        for o in a.rpc.getrawtransaction(txid, True)["vout"]
        if o["scriptPubKey"]["address"] == dest
    )
    key = b.rpc.dumpprivkey(dest)
    assert key.startswith("obrtsec1")
    spend = a.rpc.createrawtransaction(
        [{"txid": txid, "vout": vout}], {a.rpc.getnewaddress(): Decimal("1.4")}
    )
    unsigned = a.rpc.signrawtransactionwithkey(spend, [])
    assert unsigned["complete"] is False and unsigned["errors"][0]["txid"] == txid
    assert_raises_rpc_error(-5, None, a.rpc.signrawtransactionwithkey, spend, ["obrtsec1nonsense"])
    by_key = a.rpc.signrawtransactionwithkey(spend, [key])
    assert by_key["complete"] is True
    assert a.rpc.sendrawtransaction(by_key["hex"]) in a.rpc.getrawmempool()

    # bumpfee: the replacement reaches both mempools and the original leaves both.
    sent = a.rpc.sendtoaddress(dest, 2)
    assert a.rpc.gettransaction(sent)["bip125-replaceable"] == "yes"
    sync_mempools([a, b])
    bumped = a.rpc.bumpfee(sent)
    assert set(bumped) == {"txid", "origfee", "fee", "errors"} and bumped["fee"] > bumped["origfee"]
    for node in (a, b):
        wait_until(lambda n=node: bumped["txid"] in n.rpc.getrawmempool())
        assert sent not in node.rpc.getrawmempool()
    # gone from the wallet's view: Core's "non-wallet" txid
    assert_raises_rpc_error(-5, None, a.rpc.bumpfee, sent)
    assert_raises_rpc_error(-5, None, a.rpc.bumpfee, "00" * 32)
    final = a.rpc.sendtoaddress(dest, 1, "", "", False, False)
    assert_raises_rpc_error(-4, "not BIP 125 replaceable", a.rpc.bumpfee, final)
    assert_raises_rpc_error(-8, None, a.rpc.bumpfee, bumped["txid"], {"fee_rate": 1})
    a.rpc.generate(1)
    assert_raises_rpc_error(-4, "mined", a.rpc.bumpfee, bumped["txid"])


def test_wallet_tools(start_nodes):
    (node,) = start_nodes(1)
    node.rpc.generate(102)
    fee = node.rpc.estimatesmartfee(6)
    assert fee["feerate"] == Decimal("0.00010000") and fee["blocks"] == 6
    assert "fallback" in fee["errors"][0]
    assert_raises_rpc_error(-8, None, node.rpc.estimatesmartfee, 0)

    address = node.rpc.getnewaddress()
    signature = node.rpc.signmessage(address, "hello")
    assert node.rpc.verifymessage(address, signature, "hello") is True
    assert node.rpc.verifymessage(address, signature, "hullo") is False
    assert node.rpc.verifymessage(node.rpc.getnewaddress(), signature, "hello") is False
    assert_raises_rpc_error(-3, None, node.rpc.verifymessage, address, "not base64!", "hello")
    key = node.rpc.dumpprivkey(address)
    assert node.rpc.signmessagewithprivkey(key, "hello") == signature

    # Locked coins are not spent: with both mature coinbases locked, nothing is.
    coins = node.rpc.listunspent()
    assert len(coins) == 2
    outpoints = [{"txid": c["txid"], "vout": c["vout"]} for c in coins]
    assert node.rpc.lockunspent(False, outpoints) is True
    assert sorted(node.rpc.listlockunspent(), key=str) == sorted(outpoints, key=str)
    assert node.rpc.listunspent() == []
    assert_raises_rpc_error(-6, "spendable: 0.00000000", node.rpc.sendtoaddress, address, 1)
    assert_raises_rpc_error(-8, None, node.rpc.lockunspent, False, outpoints[:1])
    assert node.rpc.lockunspent(True) is True
    assert node.rpc.listlockunspent() == []

    # subtractfeefromamount: the recipient pays the fee, 50 OBOL exactly is spendable.
    txid = node.rpc.sendtoaddress(address, 50, "", "", True)
    tx = node.rpc.gettransaction(txid)
    paid = next(d["amount"] for d in tx["details"] if d["category"] == "receive")
    assert paid == 50 + tx["fee"]  # fee is negative
    many = node.rpc.sendmany("", {address: 10, node.rpc.getnewaddress(): 5}, None, "", [address])
    assert node.rpc.gettransaction(many)["fee"] < 0
    other = node.rpc.getnewaddress()
    assert_raises_rpc_error(-8, None, node.rpc.sendmany, "", {address: 1}, None, "", [other])

    # The block with those two payments: getblockstats and listsinceblock.
    since = node.rpc.getbestblockhash()
    block = node.rpc.getblock(node.rpc.generate(1)[0], 2)
    stats = node.rpc.getblockstats(block["height"])
    fees = sorted(int(-node.rpc.gettransaction(t)["fee"] * 10**8) for t in (txid, many))
    assert (stats["txs"], stats["totalfee"], stats["minfee"], stats["maxfee"]) == (
        3,
        sum(fees),
        fees[0],
        fees[1],
    )
    assert stats["subsidy"] == 50 * 10**8 and stats["blockhash"] == block["hash"]
    assert node.rpc.getblockstats(block["hash"], ["txs", "ins"]) == {"txs": 3, "ins": stats["ins"]}
    assert_raises_rpc_error(-8, None, node.rpc.getblockstats, block["height"], ["nope"])
    assert_raises_rpc_error(-8, None, node.rpc.getblockstats, block["height"] + 1)
    listed = node.rpc.listsinceblock(since)
    assert {t["txid"] for t in listed["transactions"]} >= {txid, many}
    assert listed["lastblock"] == block["hash"] and listed["removed"] == []
    assert node.rpc.listsinceblock(block["hash"])["transactions"] == []
    assert node.rpc.listsinceblock(since, 2)["lastblock"] == since
    assert_raises_rpc_error(-5, None, node.rpc.listsinceblock, "22" * 32)

    assert_raises_rpc_error(-5, None, node.rpc.abandontransaction, "11" * 32)
    assert_raises_rpc_error(-5, "not eligible", node.rpc.abandontransaction, txid)
    assert_raises_rpc_error(-18, "loaded: default", node.wallet("nope").getbalance)

    # obol wallet send --all empties the wallet (its mature coins and own change).
    node.rpc.generate(1)
    spendable = sum(c["amount"] for c in node.rpc.listunspent(0) if c["safe"])
    out = obol_wallet_json(node, "send", node.rpc.getnewaddress(), "--all")
    assert out["amount"] + out["fee"] == spendable
    assert [c["txid"] for c in node.rpc.listunspent(0) if c["safe"]] == [out["txid"]]
