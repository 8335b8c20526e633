"""Wallet RPC argument checking, multi-wallet routing, concurrent sends, and the CLI's
one-line errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from consensus.address import decode_address
from consensus.params import REGTEST
from consensus.primitives import Tx, TxIn, TxOut

from . import framework
from .framework import assert_raises_rpc_error, free_port
from .wallet_helpers import assert_one_line_error, obol_wallet, obol_wallet_json


@pytest.fixture
def funded(start_nodes) -> framework.TestNode:
    (node,) = start_nodes(1)
    node.rpc.generate(101)
    return node


@pytest.mark.parametrize(
    "amount",
    ["0.123456789", Decimal("1.000000001"), -1, 0, "0", 21_000_001, "abc", True, [1], "1e-9"],
)
def test_bad_amounts_are_type_errors(funded, amount):
    address = funded.rpc.getnewaddress()
    assert_raises_rpc_error(-3, None, funded.rpc.sendtoaddress, address, amount)
    assert_raises_rpc_error(-3, None, funded.rpc.sendmany, "", {address: amount})


def test_bad_address_insufficient_funds_and_routing(funded):
    node = funded
    for bad in ("obrt1qqqq", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "", "x" * 100):
        assert_raises_rpc_error(-5, None, node.rpc.sendtoaddress, bad, 1)
    devnet_addr = "obdv1" + node.rpc.getnewaddress()[5:]  # right shape, wrong network
    assert_raises_rpc_error(-5, None, node.rpc.sendtoaddress, devnet_addr, 1)
    assert node.rpc.validateaddress(devnet_addr)["isvalid"] is False

    # 50 exactly leaves no fee
    err = assert_raises_rpc_error(-6, None, node.rpc.sendtoaddress, node.rpc.getnewaddress(), 50)
    assert err.message == "Insufficient funds (spendable: 50.00000000 OBOL)"
    address = node.rpc.getnewaddress()
    twice_30 = {address: 30, node.rpc.getnewaddress(): 30}
    assert_raises_rpc_error(-6, "Insufficient funds", node.rpc.sendmany, "", twice_30)
    txid = node.rpc.sendmany(
        "", {address: 10, node.rpc.getnewaddress(): 20}, None, "", None, None, None, None, 25
    )
    tx = node.rpc.gettransaction(txid)
    raw = node.rpc.getrawtransaction(txid, True)
    assert -tx["fee"] * 10**8 == 25 * raw["size"]
    assert tx["amount"] == 0  # both outputs are the wallet's own
    assert sorted(d["category"] for d in tx["details"]) == ["receive", "receive", "send", "send"]

    # Two wallets: a call without /wallet/<name> is ambiguous (-19); unknown names -18.
    assert node.rpc.createwallet("second") == {"name": "second", "warning": ""}
    assert node.rpc.listwallets() == ["default", "second"]
    assert_raises_rpc_error(-19, None, node.rpc.getbalance)
    assert_raises_rpc_error(-18, None, node.wallet("nope").getbalance)
    assert_raises_rpc_error(-36, None, node.rpc.createwallet, "second")
    assert_raises_rpc_error(-35, None, node.rpc.loadwallet, "second")
    assert_raises_rpc_error(-18, None, node.rpc.loadwallet, "missing")
    second = node.wallet("second").getnewaddress()
    node.wallet("default").sendtoaddress(second, 3)
    assert node.wallet("second").getbalances()["mine"]["untrusted_pending"] == 3
    assert node.wallet("second").getaddressinfo(second)["ismine"] is True
    assert node.wallet("default").getaddressinfo(second)["ismine"] is False
    assert_one_line_error(obol_wallet(node, "balance"), "Wallet file not specified")
    assert obol_wallet_json(node, "balance", wallet="second")["untrusted_pending"] == 3
    node.rpc.unloadwallet("second")
    assert_raises_rpc_error(-18, None, node.wallet("second").getbalance)
    node.rpc.unloadwallet("default")
    assert_raises_rpc_error(-18, None, node.rpc.getbalance)
    node.rpc.loadwallet("second")
    assert node.rpc.getbalances()["mine"]["untrusted_pending"] == 3


def test_cli_user_mistakes_are_one_line_errors(funded):
    node = funded
    address = node.rpc.getnewaddress()
    assert_one_line_error(obol_wallet(node, "send", "obrt1nothing", "1", "--yes"), "address")
    for amount in ("1.123456789", "-1", "0", "lots"):
        assert_one_line_error(obol_wallet(node, "send", address, amount, "--yes"), "mount")
    assert_one_line_error(obol_wallet(node, "send", address, "60", "--yes"), "Insufficient funds")
    assert_one_line_error(obol_wallet(node, "lock"), "unencrypted wallet")

    fresh = obol_wallet(node, "address", "--label", "rent")
    assert fresh.returncode == 0 and fresh.stdout.startswith("obrt1p")
    secp = obol_wallet_json(node, "address", "--type", "secp256k1")["address"]
    assert secp.startswith("obrt1z")
    sent = obol_wallet_json(node, "send", secp, "2.5", "--fee-rate", "20", "--yes")
    unspent = obol_wallet(node, "unspent")
    assert unspent.returncode == 0 and sent["txid"] in unspent.stdout
    assert node.rpc.getaddressinfo(secp)["hdkeypath"] == "m/84'/1'/0'/0/0"
    info = node.rpc.getaddressinfo(fresh.stdout.strip())
    assert info["labels"] == ["rent"] and info["hdkeypath"].startswith("m/44'/1'/0'/0'/")

    stopped = framework.TestNode(9, node.datadir.parent)  # no process behind it
    stopped.rpc_port = free_port()
    stopped.datadir = node.datadir
    assert_one_line_error(obol_wallet(stopped, "balance"), "is it running")


def test_fifty_concurrent_sends_never_spend_a_coin_twice(start_nodes):
    (node,) = start_nodes(1)
    node.rpc.generate(150)  # blocks 1..50 are mature: 50 coins of 50 OBOL
    address = node.rpc.getnewaddress()
    with ThreadPoolExecutor(max_workers=12) as pool:  # the RPC work queue holds 16
        txids = list(pool.map(lambda _: node.rpc.sendtoaddress(address, 1), range(50)))
    assert len(set(txids)) == 50
    mempool = set(node.rpc.getrawmempool())
    assert set(txids) <= mempool
    spent = [
        (vin["txid"], vin["vout"])
        for txid in txids
        for vin in node.rpc.getrawtransaction(txid, True)["vin"]
    ]
    assert len(spent) == len(set(spent))
    node.rpc.generate(1)
    assert node.rpc.getrawmempool() == []
    assert sum(u["amount"] for u in node.rpc.listunspent(1, 1, [address])) == 50


def test_fund_sign_and_restart(funded):
    node = funded
    lock = decode_address(node.rpc.getnewaddress(), REGTEST)
    raw = Tx(1, (), (TxOut(3 * 10**8, lock),), 0).serialize().hex()
    fundedtx = node.rpc.fundrawtransaction(raw, {"fee_rate": 5})
    decoded = node.rpc.decoderawtransaction(fundedtx["hex"])
    assert len(decoded["vout"]) == 2 and fundedtx["changepos"] in (0, 1)
    assert all(vin["sig"] == "" for vin in decoded["vin"])
    signed = node.rpc.signrawtransactionwithwallet(fundedtx["hex"])
    assert signed["complete"] is True
    txid = node.rpc.sendrawtransaction(signed["hex"])
    assert node.rpc.getmempoolentry(txid)["fees"]["base"] == fundedtx["fee"]
    assert fundedtx["fee"] * 10**8 == 5 * node.rpc.getrawtransaction(txid, True)["size"]

    foreign = Tx(1, (TxIn(bytes(32), 0, b"", b""),), (TxOut(10**8, lock),), 0)
    partial = node.rpc.signrawtransactionwithwallet(foreign.serialize().hex())
    assert partial["complete"] is False and partial["errors"][0]["vout"] == 0

    created = obol_wallet(node, "create", "extra")
    assert created.returncode == 0 and "created wallet extra" in created.stdout
    extra = obol_wallet(node, "address", wallet="extra").stdout.strip()
    assert node.wallet("extra").getaddressinfo(extra)["ismine"] is True

    before = node.wallet("default").getbalances()["mine"]
    used = node.wallet("default").getnewaddress()
    node.restart()
    assert node.rpc.listwallets() == ["default"]  # others are loaded on request
    assert node.rpc.getbalances()["mine"] == before
    assert node.rpc.gettransaction(txid)["confirmations"] == 0
    assert node.rpc.getnewaddress() != used
    node.rpc.loadwallet("extra")
    assert node.wallet("extra").getaddressinfo(extra)["ismine"] is True


def test_load_on_startup_like_core(start_nodes):
    (node,) = start_nodes(1)
    node.rpc.createwallet(wallet_name="kept", load_on_startup=True)
    node.rpc.createwallet("passing")
    node.restart()
    assert node.rpc.listwallets() == ["default", "kept"]
    node.rpc.unloadwallet(wallet_name="kept", load_on_startup=False)
    node.rpc.loadwallet("passing", True)
    node.restart()
    assert node.rpc.listwallets() == ["default", "passing"]
    assert_raises_rpc_error(-3, None, node.rpc.loadwallet, "passing", "yes")
