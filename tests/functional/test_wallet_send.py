"""Two nodes with wallets: mining, balances, a payment with `obol wallet send`, both sides'
histories, the address index, and a reorg that unconfirms and reconfirms the payment."""

from __future__ import annotations

import re
from decimal import Decimal

from .framework import assert_raises_rpc_error, connect_nodes, sync_blocks, sync_mempools
from .wallet_helpers import obol_wallet, obol_wallet_json, units


def entry_for(entries: list[dict], txid: str, category: str) -> dict:
    found = [e for e in entries if e["txid"] == txid and e["category"] == category]
    assert len(found) == 1, entries
    return found[0]


def sync(a, b) -> None:
    """Wait for gossip: same tip, same mempool."""
    sync_blocks([a, b])
    sync_mempools([a, b])


def test_send_confirm_reorg_and_reconfirm(start_nodes):
    a, b = start_nodes(2)
    connect_nodes(a, b)
    a.rpc.generate(101)
    sync(a, b)

    bal = a.rpc.getbalances()["mine"]
    assert bal == {
        "trusted": Decimal("50.00000000"),
        "untrusted_pending": Decimal(0),
        "immature": Decimal("5000.00000000"),
    }
    assert b.rpc.getbalances()["mine"]["trusted"] == 0
    human = obol_wallet(a, "balance")
    assert human.returncode == 0 and "50.00000000 OBOL" in human.stdout

    b_addr = b.rpc.getnewaddress("from A")
    sent = obol_wallet_json(a, "send", b_addr, "12.5", "--yes")
    txid = sent["txid"]
    fee = units(sent["fee"])
    assert sent["amount"] == Decimal("12.5") and 0 < fee < 10_000
    raw = a.rpc.getrawtransaction(txid, True)
    assert fee == 10 * raw["size"]  # the fallback rate, exactly: the tx has change

    sync(a, b)
    assert b.rpc.getbalances()["mine"]["untrusted_pending"] == Decimal("12.5")
    assert a.rpc.getbalances()["mine"]["trusted"] == Decimal("37.5") - Decimal(fee) / 10**8
    pending = entry_for(b.rpc.listtransactions(), txid, "receive")
    assert pending["confirmations"] == 0 and pending["label"] == "from A"
    assert b.rpc.getaddressbalance(b_addr) == {
        "balance": 0,
        "unconfirmed": Decimal("12.5"),
        "received": 0,
        "txcount": 0,
        "utxocount": 0,
    }

    (block,) = a.rpc.generate(1)
    sync(a, b)
    assert b.rpc.getbalance() == Decimal("12.5")
    assert units(a.rpc.getbalance()) == units(Decimal("87.5")) - fee

    send = entry_for(a.rpc.listtransactions(), txid, "send")
    receive = entry_for(b.rpc.listtransactions(), txid, "receive")
    assert send["address"] == receive["address"] == b_addr
    assert send["amount"] == -receive["amount"] == Decimal("-12.5")
    assert units(-send["fee"]) == fee and "fee" not in receive
    assert send["confirmations"] == receive["confirmations"] == 1
    assert send["blockhash"] == receive["blockhash"] == block
    a_tx, b_tx = a.rpc.gettransaction(txid), b.rpc.gettransaction(txid)
    assert a_tx["amount"] == Decimal("-12.5") and units(-a_tx["fee"]) == fee
    assert b_tx["amount"] == Decimal("12.5") and "fee" not in b_tx
    for node in (a, b):
        assert node.rpc.getaddressbalance(b_addr) == {
            "balance": Decimal("12.5"),
            "unconfirmed": 0,
            "received": Decimal("12.5"),
            "txcount": 1,
            "utxocount": 1,
        }
        (utxo,) = node.rpc.getaddressutxos(b_addr)
        assert utxo["txid"] == txid and utxo["confirmations"] == 1
        assert [h["txid"] for h in node.rpc.getaddresshistory(b_addr)] == [txid]
    history = obol_wallet(a, "history")
    assert history.returncode == 0 and txid in history.stdout and "send" in history.stdout
    (sent,) = [line for line in history.stdout.splitlines() if txid in line and "send" in line]
    fee = entry_for(a.rpc.listtransactions(), txid, "send")["fee"]
    assert f"fee {fee:.8f}" in sent and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", sent)

    # A reorg takes the block away on both nodes: the payment is pending again.
    for node in (a, b):
        node.rpc.invalidateblock(block)
        assert txid in node.rpc.getrawmempool()
    assert b.rpc.getbalances()["mine"]["trusted"] == 0
    assert b.rpc.getbalances()["mine"]["untrusted_pending"] == Decimal("12.5")
    assert entry_for(a.rpc.listtransactions(), txid, "send")["confirmations"] == 0
    assert entry_for(b.rpc.listtransactions(), txid, "receive")["confirmations"] == 0
    assert b.rpc.getaddressbalance(b_addr)["unconfirmed"] == Decimal("12.5")

    # Only the coinbase of block 1 is mature (now spent): immature coins are never used,
    # though A holds 5000 OBOL of them; its own change is the only spendable coin.
    assert a.rpc.getbalances()["mine"]["immature"] == Decimal("5000")
    err = assert_raises_rpc_error(-6, None, a.rpc.sendtoaddress, b_addr, 40)
    change = sum(u["amount"] for u in a.rpc.listunspent(0))
    assert err.message == f"Insufficient funds (spendable: {change} OBOL)"
    assert all(u["confirmations"] == 0 for u in a.rpc.listunspent(0))

    # A longer competing branch confirms the payment again, on both sides.
    branch = a.rpc.generate(2)
    sync_blocks([a, b])
    assert b.rpc.getbestblockhash() == branch[-1]
    for node in (a, b):
        node.rpc.reconsiderblock(block)
        assert node.rpc.getbestblockhash() == branch[-1]
        assert txid not in node.rpc.getrawmempool()
    assert b.rpc.getbalance() == Decimal("12.5")
    assert entry_for(b.rpc.listtransactions(), txid, "receive")["blockhash"] == branch[0]
    assert entry_for(a.rpc.listtransactions(), txid, "send")["confirmations"] == 2
    assert b.rpc.getaddressbalance(b_addr)["balance"] == Decimal("12.5")

    # Nothing any of A's txs spent was a coinbase short of 101 confirmations when spent.
    for entry in a.rpc.listtransactions("*", 1000):
        if entry["category"] != "send":
            continue
        tx = a.rpc.getrawtransaction(entry["txid"], True)
        for vin in tx["vin"]:
            prev = a.rpc.getrawtransaction(vin["txid"], True)
            if "coinbase" in prev["vin"][0]:
                spent_at = entry.get("blockheight", a.rpc.getblockcount() + 1)
                assert spent_at - prev["vin"][0]["height"] >= 100
