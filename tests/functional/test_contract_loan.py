"""Lending across three nodes: the lender (node 0) and the borrower (node 1), node 2
relaying. Every case makes its own loan; the nodes are shared by the module."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from consensus.params import REGTEST
from consensus.policy import encode_satisfaction
from consensus.primitives import Tx, TxIn
from wallet.contracts import decode_contract
from wallet.psbt import Psbt, decode_psbt, encode_psbt

from . import framework
from .framework import assert_raises_rpc_error, connect_nodes, sync_blocks, sync_mempools

PRINCIPAL, INTEREST, COLLATERAL = Decimal(20), Decimal(2), Decimal(30)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    with framework.running_nodes(tmp_path_factory.mktemp("loan"), 3) as started:
        connect_nodes(started[0], started[1])
        connect_nodes(started[1], started[2])
        started[0].rpc.generate(105)
        sync_blocks(started)
        for _ in range(3):
            started[0].rpc.sendtoaddress(started[1].rpc.getnewaddress(), 40)
        mine(started)
        yield started


def mine(nodes, n: int = 1) -> None:
    sync_mempools(nodes)
    nodes[2].rpc.generatetoaddress(n, nodes[2].rpc.getnewaddress())
    sync_blocks(nodes)


def open_loan(nodes, due_in: int) -> tuple[str, dict]:
    """offer (lender) -> accept (borrower) -> fund (lender) -> sign (borrower): the loan
    string and the borrower's sign result."""
    lender, borrower, _ = nodes
    maturity = lender.rpc.getblockcount() + due_in
    offer = lender.rpc.loanoffer(PRINCIPAL, INTEREST, COLLATERAL, maturity)["offer"]
    request = borrower.rpc.loanaccept(offer)["request"]
    funded = lender.rpc.loanfund(request)
    opened = borrower.rpc.loansign(funded["loan"], funded["psbt"])
    assert opened["complete"] is True and opened["txid"] == funded["txid"]
    mine(nodes)
    return funded["loan"], opened


def spendable(node) -> Decimal:
    return node.rpc.getbalances()["mine"]["trusted"]


def test_open_is_one_atomic_tx_then_repay(nodes):
    lender, borrower, _ = nodes
    lender_before, borrower_before = spendable(lender), spendable(borrower)
    loan, opened = open_loan(nodes, 50)
    tx = lender.rpc.getrawtransaction(opened["txid"], True)
    fee = sum(
        Decimal(lender.rpc.getrawtransaction(i["txid"], True)["vout"][i["vout"]]["value"])
        for i in tx["vin"]
    ) - sum(Decimal(o["value"]) for o in tx["vout"])
    lender_fee = lender_before - PRINCIPAL - (spendable(lender) - 50)  # + one coinbase
    borrower_fee = borrower_before + PRINCIPAL - COLLATERAL - spendable(borrower)
    assert lender_fee > 0 and borrower_fee > 0 and lender_fee + borrower_fee == fee
    for node in (lender, borrower):
        assert node.rpc.getbalances()["contract"]["trusted"] == COLLATERAL
        assert node.rpc.loanstatus(loan)["state"] == "open"

    lender_before, borrower_before = spendable(lender), spendable(borrower)
    psbt = borrower.rpc.loanrepay(loan)["psbt"]
    repaid = lender.rpc.loansign(loan, psbt)
    assert repaid["complete"] is True and repaid["tx"] == "repayment"
    mine(nodes)
    assert spendable(lender) == lender_before + 50 + PRINCIPAL + INTEREST
    borrower_fee = borrower_before - PRINCIPAL - INTEREST + COLLATERAL - spendable(borrower)
    assert 0 < borrower_fee < Decimal("0.001")
    for node in (lender, borrower):
        assert node.rpc.getbalances()["contract"]["trusted"] == 0
        assert node.rpc.loanstatus(loan)["state"] == "repaid"
    assert_raises_rpc_error(-8, "already spent", lender.rpc.loanclaim, loan)


def test_a_repayment_without_the_borrower_s_signature_is_rejected(nodes):
    lender, borrower, _ = nodes
    loan, _ = open_loan(nodes, 50)
    contract = decode_contract(loan, "regtest")
    repayment = decode_psbt(borrower.rpc.loanrepay(loan)["psbt"], REGTEST.magic)
    index = next(n for n, i in enumerate(repayment.inputs) if i.coin.lock == contract.lock)
    stripped = [
        replace(pin, sigs=()) if n == index else pin for n, pin in enumerate(repayment.inputs)
    ]
    without = encode_psbt(Psbt(repayment.magic, repayment.tx, tuple(stripped), repayment.outputs))
    result = lender.rpc.loansign(loan, without)
    assert result["complete"] is False  # only the lender's signature: nothing sent
    assert lender.rpc.getrawmempool() == []
    signed = decode_psbt(result["psbt"], REGTEST.magic)
    (lender_sig,) = [s for k, s in signed.inputs[index].sigs]
    inputs = []
    for n, (inp, pin) in enumerate(zip(signed.tx.inputs, signed.inputs, strict=True)):
        if n == index:
            sig = encode_satisfaction([[None, lender_sig], None])
        else:
            (sig,) = [s for _, s in pin.sigs]
        inputs.append(TxIn(inp.prev_txid, inp.prev_index, inp.pubkey, sig))
    forced = Tx(signed.tx.version, tuple(inputs), signed.tx.outputs, signed.tx.locktime)
    assert_raises_rpc_error(
        -26,
        "bad-txns-policy-threshold-unmet",
        lender.rpc.sendrawtransaction,
        forced.serialize().hex(),
    )
    assert lender.rpc.loanstatus(loan)["state"] == "open"
    # The repayment was never sent: the coins it locked go back by hand, as Core's.
    assert borrower.rpc.listlockunspent() != []
    borrower.rpc.lockunspent(True)
    assert borrower.rpc.listlockunspent() == []


def test_default_then_claim(nodes):
    lender, borrower, _ = nodes
    height = lender.rpc.getblockcount()
    loan, _ = open_loan(nodes, 5)
    assert borrower.rpc.loanstatus(loan)["state"] == "open"
    err = assert_raises_rpc_error(-26, None, lender.rpc.loanclaim, loan)
    assert err.message == "the node refused the transaction: bad-txns-policy-timelock"
    assert_raises_rpc_error(-8, None, borrower.rpc.loanclaim, loan)
    mine(nodes, height + 5 - lender.rpc.getblockcount())
    assert borrower.rpc.loanstatus(loan)["state"] == "defaulted"
    before = lender.rpc.getbalance()
    held, kept = borrower.rpc.getbalances()["contract"]["trusted"], spendable(borrower)
    claimed = lender.rpc.loanclaim(loan)
    mine(nodes)
    assert lender.rpc.getbalance() == before + 50 + COLLATERAL - claimed["fee"]  # + a coinbase
    status = borrower.rpc.loanstatus(loan)
    assert (status["state"], status["spent_by"]) == ("claimed", claimed["txid"])
    assert borrower.rpc.getbalances()["contract"]["trusted"] == held - COLLATERAL
    assert spendable(borrower) == kept  # the principal stays with the borrower


def test_two_repayments_without_a_block_between(nodes):
    lender, borrower, _ = nodes
    """The borrower's second repayment is made before the first (broadcast by the
    lender) reaches its mempool: the coins the first one took are locked, so the second
    picks others instead of a conflict."""
    loans = [open_loan(nodes, 50)[0] for _ in range(2)]
    funding = set()
    for loan in loans:
        repaid = lender.rpc.loansign(loan, borrower.rpc.loanrepay(loan)["psbt"])
        assert repaid["complete"] is True
        vin = lender.rpc.getrawtransaction(repaid["txid"], True)["vin"]
        funding |= {(i["txid"], i["vout"]) for i in vin[:-1]}  # the last is the collateral
    locked = {(c["txid"], c["vout"]) for c in borrower.rpc.listlockunspent()}
    assert funding and funding <= locked
    mine(nodes)
    assert [borrower.rpc.loanstatus(loan)["state"] for loan in loans] == ["repaid"] * 2
