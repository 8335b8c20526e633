"""Lending across three nodes: the lender (node 0) and the borrower (node 1), node 2
relaying. Every case makes its own loan; the nodes are shared by the module."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consensus.policy import Key
from consensus.policy_text import format_policy
from wallet.contracts import Loan, decode_contract, encode_contract

from . import framework
from .framework import RpcFailure, connect_nodes, sync_blocks, sync_mempools

PRINCIPAL, INTEREST, COLLATERAL = Decimal(20), Decimal(2), Decimal(30)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    base = tmp_path_factory.mktemp("loan")
    started = [framework.TestNode(i, base) for i in range(3)]
    try:
        for node in started:
            node.start()
        connect_nodes(started[0], started[1])
        connect_nodes(started[1], started[2])
        started[0].rpc.generate(105)
        sync_blocks(started)
        for _ in range(3):
            started[0].rpc.sendtoaddress(started[1].rpc.getnewaddress(), 40)
        mine(started)
        yield started
    finally:
        for node in started:
            node.stop()


def mine(nodes, n: int = 1) -> None:
    sync_mempools(nodes)
    nodes[2].rpc.generatetoaddress(n, nodes[2].rpc.getnewaddress())
    sync_blocks(nodes)


def collateral_locked_by_hand(nodes, offer_text: str) -> str:
    """A loan whose collateral the borrower locked with a plain payment (not the joined
    opening tx): enough to test what happens after opening."""
    lender, borrower, _ = nodes
    offer = decode_contract(offer_text, "regtest")
    info = borrower.rpc.getaddressinfo(borrower.rpc.getnewaddress())
    borrower_key = Key(
        1 if info["key_type"] == "ed25519" else 2, bytes.fromhex(info["pubkey"].split(":")[-1])
    )
    draft = Loan(offer, borrower_key, bytes(32), 0)
    watched = borrower.rpc.addpolicyaddress(format_policy(draft.tree))
    lender.rpc.addpolicyaddress(format_policy(draft.tree))
    txid = borrower.rpc.sendtoaddress(watched["address"], COLLATERAL)
    raw = borrower.rpc.getrawtransaction(txid, True)
    vout = next(
        o["n"] for o in raw["vout"] if o["scriptPubKey"].get("address") == watched["address"]
    )
    mine(nodes)
    return encode_contract(Loan(offer, borrower_key, bytes.fromhex(txid)[::-1], vout))


def test_default_then_claim(nodes):
    lender, borrower, _ = nodes
    height = lender.rpc.getblockcount()
    offer = lender.rpc.loanoffer(PRINCIPAL, INTEREST, COLLATERAL, height + 4)["offer"]
    loan = collateral_locked_by_hand(nodes, offer)
    assert borrower.rpc.loanstatus(loan)["state"] == "open"
    with pytest.raises(RpcFailure) as err:
        lender.rpc.loanclaim(loan)
    assert (err.value.code, err.value.message) == (
        -26,
        "the node refused the transaction: bad-txns-policy-timelock",
    )
    with pytest.raises(RpcFailure) as err:
        borrower.rpc.loanclaim(loan)
    assert err.value.code == -8
    mine(nodes, height + 4 - lender.rpc.getblockcount())
    assert borrower.rpc.loanstatus(loan)["state"] == "defaulted"
    before = lender.rpc.getbalance()
    claimed = lender.rpc.loanclaim(loan)
    mine(nodes)
    assert lender.rpc.getbalance() == before + 50 + COLLATERAL - claimed["fee"]  # + a coinbase
    status = borrower.rpc.loanstatus(loan)
    assert (status["state"], status["spent_by"]) == ("claimed", claimed["txid"])
    assert borrower.rpc.getbalances()["contract"]["trusted"] == 0
