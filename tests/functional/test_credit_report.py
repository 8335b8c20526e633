"""getcreditreport over loans made through the wallets' lending flow (loanoffer,
loanaccept, loanfund, loansign, loanrepay, loanclaim): a borrower with two loans repaid
and one defaulted and claimed gets exactly those three, with their txids. The lender is
node 0 (it mines), the borrower node 1; the history is made once for the module."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node.cli.main import main

from . import framework
from .framework import assert_raises_rpc_error, connect_nodes, sync_blocks, sync_mempools

PRINCIPAL, INTEREST, COLLATERAL = Decimal(20), Decimal(2), Decimal(30)


def mine(nodes, n: int = 1) -> None:
    sync_mempools(nodes)
    nodes[0].rpc.generate(n)
    sync_blocks(nodes)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    base = tmp_path_factory.mktemp("credit")
    with framework.running_nodes(base, 2) as nodes:
        lender, borrower = nodes
        connect_nodes(lender, borrower)
        lender.rpc.generate(105)
        # The borrower must hold the matured coinbases before the spends reach it, or it
        # rejects them as premature and never asks again.
        sync_blocks(nodes)
        for _ in range(3):
            lender.rpc.sendtoaddress(borrower.rpc.getnewaddress(), 40)
        mine(nodes)
        loans = []
        for due_in in (50, 50, 6):
            maturity = lender.rpc.getblockcount() + due_in
            offer = lender.rpc.loanoffer(PRINCIPAL, INTEREST, COLLATERAL, maturity)["offer"]
            funded = lender.rpc.loanfund(borrower.rpc.loanaccept(offer)["request"])
            opened = borrower.rpc.loansign(funded["loan"], funded["psbt"])
            assert opened["complete"] is True
            mine(nodes)
            loans.append({"loan": funded["loan"], "open": funded["txid"]})
        for loan in loans[:2]:
            repaid = lender.rpc.loansign(loan["loan"], borrower.rpc.loanrepay(loan["loan"])["psbt"])
            assert repaid["complete"] is True
            loan["close"] = repaid["txid"]
            mine(nodes)
        last = loans[2]["loan"]
        mine(nodes, lender.rpc.loanstatus(last)["maturity"] - lender.rpc.getblockcount())
        loans[2]["close"] = lender.rpc.loanclaim(last)["txid"]
        mine(nodes)
        for loan in loans:
            roles = borrower.rpc.loanstatus(loan["loan"])["roles"]
            loan["borrower"], loan["lender"] = roles["borrower"], roles["lender"]
        directory = base / "export"
        lender.rpc.exportchain(str(directory))
        yield lender, loans, directory


def test_the_report_lists_exactly_the_three_loans_with_their_txids(history) -> None:
    node, loans, _ = history
    report = node.rpc.getcreditreport([loan["borrower"] for loan in loans])
    assert len(report["addresses"]) == 3  # a new key per loan
    got = [(x["open_txid"], x["close_txid"], x["status"], x["on_time"]) for x in report["loans"]]
    assert got == [
        (loans[0]["open"], loans[0]["close"], "repaid", True),
        (loans[1]["open"], loans[1]["close"], "repaid", True),
        (loans[2]["open"], loans[2]["close"], "defaulted, claimed", False),
    ]
    assert (report["repaid"], report["repaid_on_time"], report["defaulted"]) == (2, 2, 1)
    for x in report["loans"]:
        assert x["collateral"] == 3_000_000_000 and x["principal"] == 2_000_000_000
        assert x["collateral_ratio"] == 1.5
    assert [x["repaid_to_lender"] for x in report["loans"]] == [2_200_000_000] * 2 + [0]
    assert {x["lender"] for x in report["loans"]} == {
        node.rpc.getcreditreport(loan["lender"])["addresses"][0] for loan in loans
    }


def test_one_key_gives_its_loan_only_and_a_lender_key_none(history) -> None:
    node, loans, _ = history
    only = node.rpc.getcreditreport(loans[2]["borrower"])
    assert [(x["close_txid"], x["status"]) for x in only["loans"]] == [
        (loans[2]["close"], "defaulted, claimed")
    ]
    assert node.rpc.getcreditreport(loans[0]["lender"])["loans"] == []
    assert_raises_rpc_error(-5, "not an address or a public key", node.rpc.getcreditreport, "x")


def test_obol_analyze_credit_reads_the_same_export(history, capsys) -> None:
    _, loans, directory = history
    keys = ",".join(loan["borrower"] for loan in loans)
    assert main(["analyze", str(directory), "credit", keys, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count('"open_txid"') == 3
    assert all(loan["close"] in out for loan in loans)
