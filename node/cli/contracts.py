"""``obol wallet key|escrow|loan``: the contract flows for people.

Each step is one RPC call (``node.rpc.methods.contracts``) and prints what happened and,
what the next party has to do, then the string to hand over on a line of its own, named:
``contract``, ``offer``, ``request``, ``loan``, ``psbt`` or ``txid`` and the string (so a
shell takes it with ``sed -n 's/^psbt //p'``). ``--json`` prints the RPC's result instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol


class Client(Protocol):
    def call(
        self, method: str, params: list[Any] | dict[str, Any], *, wallet: bool = True
    ) -> Any: ...


Command = Callable[[Client, argparse.Namespace], tuple[Any, str]]


def add_parsers(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The contract commands, added beside the other ``obol wallet`` commands."""
    c = command("key", "a new public key of this wallet, to give to a contract's creator")
    c.add_argument("--label", default="")

    escrow = command("escrow", "escrow: a payment released by two of buyer, seller, arbiter")
    steps = escrow.add_subparsers(dest="escrow_command", required=True, metavar="STEP")
    s = steps.add_parser("create", help="as the buyer: create and fund an escrow")
    s.add_argument("seller_key")
    s.add_argument("arbiter_key")
    s.add_argument("amount")
    s.add_argument("refund_height", type=int, help="from this height the buyer may refund")
    s.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    s = steps.add_parser("import", help="as the seller or arbiter: check and watch an escrow")
    s.add_argument("contract")
    s = steps.add_parser("status", help="the escrow's state, from the chain")
    s.add_argument("contract")
    s = steps.add_parser("refund", help="as the buyer, from the refund height: take it back")
    s.add_argument("contract")
    s.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    s = steps.add_parser("release", help="as buyer or seller: sign the payout to the seller")
    s.add_argument("contract")
    s.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    s = steps.add_parser("dispute", help="as the arbiter: sign a payout to one party")
    s.add_argument("contract")
    s.add_argument("--to", choices=("buyer", "seller"), required=True)
    s.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    s = steps.add_parser("sign", help="check and sign a payout; broadcast once two signed")
    s.add_argument("contract")
    s.add_argument("psbt")

    loan = command("loan", "a loan: principal against collateral, due at a height")
    steps = loan.add_subparsers(dest="loan_command", required=True, metavar="STEP")
    s = steps.add_parser("offer", help="as the lender: offer terms")
    s.add_argument("principal")
    s.add_argument("interest")
    s.add_argument("collateral")
    s.add_argument("maturity", type=int, help="from this height unpaid collateral is yours")
    s = steps.add_parser("accept", help="as the borrower: your part of the opening tx")
    s.add_argument("offer")
    s.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    s = steps.add_parser("fund", help="as the lender: join your part, sign")
    s.add_argument("request")
    s.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    s = steps.add_parser("sign", help="check and sign the opening or the repayment")
    s.add_argument("loan")
    s.add_argument("psbt")
    s = steps.add_parser("repay", help="as the borrower: sign the repayment")
    s.add_argument("loan")
    s.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    s = steps.add_parser("claim", help="as the lender, from maturity: take the collateral")
    s.add_argument("loan")
    s.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    s = steps.add_parser("status", help="the loan's state, from the chain")
    s.add_argument("loan")


def _amount(value: Any) -> str:
    return f"{Decimal(value):.8f}"


def cmd_key(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    address = client.call("getnewaddress", [args.label])
    info = client.call("getaddressinfo", [address])
    return {"address": address, "pubkey": info["typed_pubkey"]}, info["typed_pubkey"]


def _escrow_status_text(s: dict[str, Any]) -> str:
    lines = [
        f"escrow {s['address']}: {s['state']}",
        f"  amount {s['amount']} OBOL in {s['txid']}:{s['vout']}, "
        f"refund from height {s['refund_height']} (now {s['height']})",
    ]
    if "spent_by" in s:
        lines.append(
            f"  paid to the {s['paid_to']} by {s['spent_by']}, signed by "
            f"{' and '.join(s['signed_by'])} ({s['confirmations']} conf)"
        )
    return "\n".join(lines)


def _rate(args: argparse.Namespace) -> list[Any]:
    return [] if args.fee_rate is None else [args.fee_rate]


def _sign_text(r: dict[str, Any], what: str) -> str:
    if r["complete"]:
        return f"{what} signed and broadcast\nnext: {r['next']}\ntxid {r['txid']}"
    return f"{what} signed, not complete yet\nnext: {r['next']}\npsbt {r['psbt']}"


def cmd_escrow(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    step = args.escrow_command
    if step == "create":
        r = client.call(
            "escrowcreate",
            [args.seller_key, args.arbiter_key, args.amount, args.refund_height, *_rate(args)],
        )
        text = (
            f"escrow of {_amount(args.amount)} OBOL funded at {r['address']}\n"
            f"txid {r['txid']}\n"
            "next: give the contract to the seller and the arbiter; each runs "
            "obol wallet escrow import CONTRACT\n"
            f"contract {r['contract']}"
        )
        return r, text
    if step == "import":
        r = client.call("escrowimport", [args.contract])
        roles = " and ".join(r["wallet_roles"])
        return r, f"imported as {roles}\n{_escrow_status_text(r)}\nnext: {r['next']}"
    if step == "status":
        r = client.call("escrowstatus", [args.contract])
        return r, _escrow_status_text(r)
    if step in ("release", "dispute"):
        if step == "release":
            r = client.call("escrowrelease", [args.contract, *_rate(args)])
        else:
            r = client.call("escrowdispute", [args.contract, args.to, *_rate(args)])
        text = (
            f"signed a payout of the escrow to the {r['paid_to']}\n"
            f"next: {r['next'].replace(r['psbt'], 'PSBT')}\npsbt {r['psbt']}"
        )
        return r, text
    if step == "sign":
        r = client.call("escrowsign", [args.contract, args.psbt])
        what = f"payout of {r['amount']} OBOL to the {r['paid_to']}"
        return r, _sign_text(r, what)
    r = client.call("escrowrefund", [args.contract, *_rate(args)])
    text = f"refunded, fee {_amount(r['fee'])} OBOL\nnext: {r['next']}\ntxid {r['txid']}"
    return r, text


def _loan_status_text(s: dict[str, Any]) -> str:
    lines = [
        f"loan {s['address']}: {s['state']}",
        f"  principal {s['principal']} + interest {s['interest']} OBOL against "
        f"{s['collateral']} OBOL of collateral in {s['txid']}:{s['vout']}, "
        f"due at height {s['maturity']} (now {s['height']})",
    ]
    if "spent_by" in s:
        lines.append(f"  collateral spent by {s['spent_by']} ({s['confirmations']} conf)")
    return "\n".join(lines)


def cmd_loan(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    step = args.loan_command
    if step == "offer":
        r = client.call(
            "loanoffer", [args.principal, args.interest, args.collateral, args.maturity]
        )
        text = (
            f"offered {_amount(args.principal)} OBOL at {_amount(args.interest)} OBOL "
            f"interest against {_amount(args.collateral)} OBOL, due at height {args.maturity}\n"
            "next: give the offer to the borrower, who runs obol wallet loan accept OFFER\n"
            f"offer {r['offer']}"
        )
        return r, text
    if step == "accept":
        r = client.call("loanaccept", [args.offer, *_rate(args)])
        text = (
            "made this wallet's part of the opening tx (the collateral locked)\n"
            "next: give the request to the lender, who runs obol wallet loan fund REQUEST\n"
            f"request {r['request']}"
        )
        return r, text
    if step == "fund":
        r = client.call("loanfund", [args.request, *_rate(args)])
        text = (
            f"joined both parts into the opening tx {r['txid']} and signed this wallet's "
            "inputs\nnext: give both strings to the borrower, who runs "
            "obol wallet loan sign LOAN PSBT\n"
            f"loan {r['loan']}\npsbt {r['psbt']}"
        )
        return r, text
    if step == "sign":
        r = client.call("loansign", [args.loan, args.psbt])
        return r, _sign_text(r, f"loan {r['tx']}")
    if step == "repay":
        r = client.call("loanrepay", [args.loan, *_rate(args)])
        text = (
            "signed the repayment\nnext: the lender runs obol wallet loan sign LOAN PSBT\n"
            f"psbt {r['psbt']}"
        )
        return r, text
    if step == "claim":
        r = client.call("loanclaim", [args.loan, *_rate(args)])
        text = (
            f"claimed the collateral, fee {_amount(r['fee'])} OBOL\nnext: {r['next']}\n"
            f"txid {r['txid']}"
        )
        return r, text
    r = client.call("loanstatus", [args.loan])
    return r, _loan_status_text(r)


COMMANDS: dict[str, Command] = {"key": cmd_key, "escrow": cmd_escrow, "loan": cmd_loan}
