"""A wallet holding a contract: addmultisigaddress/addpolicyaddress, the contract's coins in
balances, listunspent and history, never taken by a plain payment, and kept across a
restart."""

from __future__ import annotations

from decimal import Decimal

from .framework import assert_raises_rpc_error
from .wallet_helpers import assert_one_line_error, obol_wallet


def typed_pubkey(wallet, address: str) -> str:
    return wallet.getaddressinfo(address)["typed_pubkey"]


def test_contract_coins_are_seen_but_never_spent_by_plain_payments(start_nodes):
    (node,) = start_nodes(1)
    node.rpc.createwallet("other")
    a, b = node.wallet("default"), node.wallet("other")
    a_addr, b_addr = a.getnewaddress(), b.getnewaddress()
    b_key = typed_pubkey(b, b_addr)

    # A policy without any of a's keys is refused, and a's file gains nothing.
    assert_raises_rpc_error(-5, None, a.addpolicyaddress, f"and(pk({b_key}),after(5))")
    err = assert_raises_rpc_error(-8, None, a.addpolicyaddress, "and(pk(ed25519:00),after(5))")
    assert err.message.startswith("Policy parse failed")
    err = assert_raises_rpc_error(-5, None, a.addmultisigaddress, 1, [b_key])
    assert err.message == "None of the policy's keys belongs to this wallet"
    # a's own address stands for its key, as in Core.
    multi = a.addmultisigaddress(2, [a_addr, b_key], "shared")
    assert multi == node.rpc.createmultisig(2, [typed_pubkey(a, a_addr), b_key])
    same = b.addpolicyaddress(multi["descriptor"], "shared")
    assert same["address"] == multi["address"]
    info = a.getaddressinfo(multi["address"])
    assert info["ismine"] is True and info["iswatchonly"] is False
    assert info["contract"] is True and info["isscript"] is True
    assert info["descriptor"] == multi["descriptor"] and info["policy"] == multi["policy"]
    assert info["pubkeys"] == [typed_pubkey(a, a_addr)] and info["labels"] == ["shared"]

    node.rpc.generatetoaddress(101, a.getnewaddress())
    spendable = a.getbalance()
    txid = a.sendtoaddress(multi["address"], 20)
    fee = -a.gettransaction(txid)["fee"]
    assert a.getbalance() == spendable - 20 - fee
    assert a.getbalance("*", 0, True) == spendable - fee
    node.rpc.generatetoaddress(1, b.getnewaddress())
    balances = a.getbalances()
    assert balances["contract"] == {
        "trusted": Decimal(20),
        "untrusted_pending": Decimal(0),
        "immature": Decimal(0),
    }
    assert b.getbalances()["contract"]["trusted"] == 20
    assert b.getbalances()["mine"]["trusted"] == 0

    (coin,) = [u for u in a.listunspent() if u["address"] == multi["address"]]
    assert coin["contract"] is True and coin["spendable"] is False
    assert coin["policy"] == multi["descriptor"] and coin["amount"] == 20
    assert all(u["contract"] is False for u in a.listunspent() if u["txid"] != txid)
    received = [e for e in b.listtransactions() if e["txid"] == txid]
    assert [(e["category"], e["amount"], e["label"]) for e in received] == [
        ("receive", Decimal(20), "shared")
    ]
    assert b.gettransaction(txid)["amount"] == 20

    # Plain payments never take the contract coin: a's whole own balance, not more.
    assert_raises_rpc_error(-6, None, a.sendtoaddress, b_addr, a.getbalance())
    everything = a.getbalance()
    sent = a.sendtoaddress(b_addr, everything, "", "", True)
    spent_inputs = node.rpc.getrawtransaction(sent, True)["vin"]
    assert all((i["txid"], i["vout"]) != (txid, coin["vout"]) for i in spent_inputs)
    assert a.getbalances()["contract"]["trusted"] == 20
    assert_raises_rpc_error(-6, None, b.sendtoaddress, a_addr, 1)
    assert_one_line_error(
        obol_wallet(node, "send", a_addr, "--all", "--yes", wallet="other"),
        "nothing to send: the wallet has no spendable coins",
    )
    history = obol_wallet(node, "history", wallet="other").stdout
    assert any(
        multi["address"] in line and "receive" in line and txid in line
        for line in history.splitlines()
    )
    shown = obol_wallet(node, "unspent", wallet="other").stdout
    assert f"contract {multi['descriptor']}" in shown
    assert (
        "contracts          20.00000000 OBOL" in obol_wallet(node, "balance", wallet="other").stdout
    )
    raw = node.rpc.createrawtransaction([{"txid": txid, "vout": coin["vout"]}], [{a_addr: 1}])
    assert_raises_rpc_error(-4, "contract coin", b.fundrawtransaction, raw)

    # The policy is in the wallet file: after a restart the coin is found again.
    node.rpc.generatetoaddress(1, b_addr)
    node.restart()
    node.rpc.loadwallet("other")
    assert b.getbalances()["contract"]["trusted"] == 20
    (again,) = [u for u in b.listunspent() if u["contract"]]
    assert (again["txid"], again["policy"]) == (txid, multi["descriptor"])
    assert a.getaddressinfo(multi["address"])["contract"] is True
