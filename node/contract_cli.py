"""``obol wallet key|escrow|loan``: the contract flows for people.

Each step is one RPC call (``node.rpc.methods.contracts``) and prints what happened and,
on its last line, what the next party has to do: the contract or PSBT string to hand
over, or the txid. ``--json`` prints the RPC's result instead.
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


def _amount(value: Any) -> str:
    return f"{Decimal(value):.8f}"


def cmd_key(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    address = client.call("getnewaddress", [args.label])
    info = client.call("getaddressinfo", [address])
    pubkey = info["pubkey"] if ":" in info["pubkey"] else f"{info['key_type']}:{info['pubkey']}"
    return {"address": address, "pubkey": pubkey}, pubkey


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


def cmd_escrow(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    step = args.escrow_command
    if step == "create":
        rate = [] if args.fee_rate is None else [args.fee_rate]
        r = client.call(
            "escrowcreate",
            [args.seller_key, args.arbiter_key, args.amount, args.refund_height, *rate],
        )
        text = (
            f"escrow of {_amount(args.amount)} OBOL funded: txid {r['txid']}\n"
            f"address {r['address']}\n"
            f"next: give the contract to the seller and the arbiter, who run\n"
            f"obol wallet escrow import {r['contract']}"
        )
        return r, text
    if step == "import":
        r = client.call("escrowimport", [args.contract])
        roles = " and ".join(r["wallet_roles"])
        text = f"imported as {roles}\n{_escrow_status_text(r)}\nnext: {r['next']}"
        return r, text
    if step == "status":
        r = client.call("escrowstatus", [args.contract])
        return r, _escrow_status_text(r)
    rate = [] if args.fee_rate is None else [args.fee_rate]
    r = client.call("escrowrefund", [args.contract, *rate])
    return r, f"refunded, fee {_amount(r['fee'])} OBOL: txid {r['txid']}\nnext: {r['next']}"


COMMANDS: dict[str, Command] = {"key": cmd_key, "escrow": cmd_escrow}
