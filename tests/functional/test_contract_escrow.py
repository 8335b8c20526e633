"""Escrow across three nodes: buyer (node 0), seller (node 1), arbiter (node 2), each with
its own wallet. Every case funds its own escrow; the nodes are shared by the module."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from consensus.address import encode_address
from consensus.params import REGTEST
from consensus.policy import encode_satisfaction
from consensus.primitives import Tx, TxIn, TxOut
from consensus.sighash import sighash
from consensus.signatures import REGISTRY, make_lock
from wallet.contracts import Escrow, decode_contract, encode_contract
from wallet.privkey import decode_privkey

from . import framework
from .framework import assert_raises_rpc_error, connect_nodes, sync_blocks, sync_mempools
from .wallet_helpers import units

AMOUNT = Decimal(10)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    with framework.running_nodes(tmp_path_factory.mktemp("escrow"), 3) as started:
        connect_nodes(started[0], started[1])
        connect_nodes(started[1], started[2])
        started[0].rpc.generate(110)
        sync_blocks(started)
        yield started


def mine(nodes, n: int = 1) -> None:
    sync_mempools(nodes)
    nodes[0].rpc.generatetoaddress(n, nodes[0].rpc.getnewaddress())
    sync_blocks(nodes)


def pubkey(node) -> str:
    address = node.rpc.getnewaddress()
    return node.rpc.getaddressinfo(address)["typed_pubkey"]


def new_escrow(nodes, refund_in: int = 50) -> dict:
    buyer, seller, arbiter = nodes
    height = buyer.rpc.getblockcount()
    created = buyer.rpc.escrowcreate(pubkey(seller), pubkey(arbiter), AMOUNT, height + refund_in)
    mine(nodes)
    for node in (seller, arbiter):
        imported = node.rpc.escrowimport(created["contract"])
        assert imported["state"] == "funded" and imported["confirmations"] == 1
    return created


def test_escrow_create_shows_the_contract_on_every_side(nodes):
    buyer, seller, arbiter = nodes
    before = buyer.rpc.getbalance()
    created = new_escrow(nodes)
    escrow = decode_contract(created["contract"], "regtest")
    assert escrow.amount == units(AMOUNT) and escrow.txid[::-1].hex() == created["txid"]
    assert seller.rpc.escrowimport(created["contract"])["wallet_roles"] == ["seller"]
    assert arbiter.rpc.escrowimport(created["contract"])["wallet_roles"] == ["arbiter"]
    fee = -buyer.rpc.gettransaction(created["txid"])["fee"]
    assert buyer.rpc.getbalance() == before + 50 - AMOUNT - fee  # one more mature coinbase
    for node in nodes:
        contract = node.rpc.getbalances()["contract"]
        assert contract["trusted"] >= AMOUNT
        (coin,) = [u for u in node.rpc.listunspent() if u["address"] == created["address"]]
        assert coin["contract"] is True and coin["amount"] == AMOUNT
    status = buyer.rpc.escrowstatus(created["contract"])
    assert status["state"] == "funded" and status["roles"]["buyer"] == created["buyer_key"]


def test_bad_contract_strings_are_refused_and_change_nothing(nodes):
    buyer, seller, _ = nodes
    created = new_escrow(nodes)
    text = created["contract"]
    before = seller.rpc.getbalances()
    for bad in (
        text[:-10],
        text.replace("obol:", "obol:A"),
        "obol:" + base64.b64encode(b"x").decode(),
    ):
        assert_raises_rpc_error(-22, None, seller.rpc.escrowimport, bad)
    escrow = decode_contract(text, "regtest")
    lying = encode_contract(
        Escrow(
            "regtest",
            escrow.txid,
            escrow.vout,
            escrow.amount + 1,
            escrow.buyer,
            escrow.seller,
            escrow.arbiter,
            escrow.refund_height,
        )
    )
    err = assert_raises_rpc_error(-22, None, seller.rpc.escrowimport, lying)
    assert err.message == "the contract disagrees with the chain (amount or policy)"
    assert seller.rpc.getbalances() == before
    # A wallet holding none of the keys cannot import it.
    buyer.rpc.createwallet("outsider")
    assert_raises_rpc_error(-5, None, buyer.wallet("outsider").escrowimport, text)
    buyer.rpc.unloadwallet("outsider")


def test_refund_before_the_height_is_refused_then_taken_after_it(nodes):
    buyer, seller, _ = nodes
    created = new_escrow(nodes, refund_in=4)
    refund_height = decode_contract(created["contract"], "regtest").refund_height
    err = assert_raises_rpc_error(
        -26, None, buyer.wallet("default").escrowrefund, created["contract"]
    )
    assert err.message == "the node refused the transaction: bad-txns-policy-timelock"
    assert_raises_rpc_error(-8, None, seller.rpc.escrowrefund, created["contract"])
    mine(nodes, refund_height - buyer.rpc.getblockcount())
    before = buyer.wallet("default").getbalance()
    done = buyer.wallet("default").escrowrefund(created["contract"])
    mine(nodes)
    assert buyer.wallet("default").getbalance() == before + 50 + AMOUNT - done["fee"]
    status = seller.rpc.escrowstatus(created["contract"])
    assert (status["state"], status["paid_to"], status["signed_by"]) == (
        "refunded",
        "buyer",
        ["buyer"],
    )
    assert status["spent_by"] == done["txid"]
    assert_raises_rpc_error(
        -8, "already spent", buyer.wallet("default").escrowrefund, created["contract"]
    )


def test_the_seller_alone_cannot_move_the_coins(nodes):
    _, seller, _ = nodes
    created = new_escrow(nodes)
    escrow = decode_contract(created["contract"], "regtest")
    seller_lock = make_lock(escrow.seller.key_type, escrow.seller.pubkey)
    key_type, secret = decode_privkey(
        seller.rpc.dumpprivkey(encode_address(seller_lock, REGTEST)), REGTEST
    )
    tx = Tx(
        1,
        (TxIn(escrow.txid, escrow.vout, escrow.policy, b""),),
        (TxOut(escrow.amount - 10_000, seller_lock),),
        0,
    )
    sig = REGISTRY[key_type].sign(secret, sighash(REGTEST, tx.txid, 0, escrow.amount, escrow.lock))
    alone = Tx(
        1,
        (
            TxIn(
                escrow.txid,
                escrow.vout,
                escrow.policy,
                encode_satisfaction([[None, sig, None], None]),
            ),
        ),
        tx.outputs,
        0,
    )
    assert_raises_rpc_error(
        -26,
        "bad-txns-policy-threshold-unmet",
        seller.rpc.sendrawtransaction,
        alone.serialize().hex(),
    )
    assert seller.rpc.escrowstatus(created["contract"])["state"] == "funded"
    # Through the flow: the seller's own release, signed again by the seller, stays
    # incomplete and nothing is broadcast.
    started = seller.rpc.escrowrelease(created["contract"])
    again = seller.rpc.escrowsign(created["contract"], started["psbt"])
    assert (again["complete"], again["signed_by"]) == (False, ["seller"])
    assert seller.rpc.getrawmempool() == []


def paid(node, txid: str) -> Decimal:
    return sum(
        (
            e["amount"]
            for e in node.rpc.gettransaction(txid)["details"]
            if e["category"] == "receive"
        ),
        Decimal(0),
    )


def test_release_buyer_then_seller(nodes):
    buyer, seller, arbiter = nodes
    created = new_escrow(nodes)
    contract = created["contract"]
    started = buyer.rpc.escrowrelease(contract)
    assert started["paid_to"] == "seller"
    # The arbiter cannot turn the release into a payout to the buyer: it checks and signs
    # the same payout; here the seller completes it.
    done = seller.rpc.escrowsign(contract, started["psbt"])
    assert done["complete"] is True and done["signed_by"] == ["buyer", "seller"]
    mine(nodes)
    fee = AMOUNT - Decimal(done["amount"])
    assert paid(seller, done["txid"]) == AMOUNT - fee and 0 < fee < Decimal("0.001")
    status = arbiter.rpc.escrowstatus(contract)
    assert (status["state"], status["paid_to"], status["signed_by"]) == (
        "released",
        "seller",
        ["buyer", "seller"],
    )
    for node in nodes:
        assert all(u["address"] != created["address"] for u in node.rpc.listunspent())


@pytest.mark.parametrize("winner", ["seller", "buyer"])
def test_dispute_decided_by_the_arbiter(nodes, winner):
    buyer, seller, arbiter = nodes
    created = new_escrow(nodes)
    contract = created["contract"]
    started = arbiter.rpc.escrowdispute(contract, winner)
    party = seller if winner == "seller" else buyer
    first = party.rpc.escrowsign(contract, started["psbt"])
    assert first["complete"] is True
    assert first["signed_by"] == sorted(
        [winner, "arbiter"], key=["buyer", "seller", "arbiter"].index
    )
    mine(nodes)
    assert paid(party, first["txid"]) == Decimal(first["amount"])
    assert Decimal(first["amount"]) > AMOUNT - Decimal("0.001")
    status = buyer.rpc.escrowstatus(contract)
    assert (status["state"], status["paid_to"]) == (
        "released" if winner == "seller" else "refunded",
        winner,
    )
    assert "arbiter" in status["signed_by"]


def test_a_payout_psbt_cannot_be_redirected(nodes):
    buyer, seller, _ = nodes
    created = new_escrow(nodes)
    contract = created["contract"]
    started = buyer.rpc.escrowrelease(contract)
    other = new_escrow(nodes)
    assert_raises_rpc_error(
        -8,
        "does not spend the escrow's coin",
        seller.rpc.escrowsign,
        other["contract"],
        started["psbt"],
    )
    assert_raises_rpc_error(-22, None, seller.rpc.escrowsign, contract, started["psbt"][:-12])
    assert seller.rpc.escrowstatus(contract)["state"] == "funded"
