"""``obol wallet``: a wallet of a running node, for people (and, with ``--json``, scripts).

Every command is one or two RPC calls to ``/wallet/<name>`` (``--wallet``; without it the
node's only loaded wallet). Secrets (passphrases, the recovery phrase) are read from the
terminal without echo, or as lines on standard input when it is not a terminal, and never
from the command line, where other users and the shell history would see them. A user
mistake (bad address or amount, too little money, locked wallet, wrong passphrase, node not
running) ends as one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from consensus.address import AddressError, decode_address
from consensus.params import NETWORKS
from consensus.primitives import Tx, TxOut

from ..rpc.client import RpcClient
from ..rpc.errors import RpcError
from ..rpc.jsonfmt import parse_amount
from . import contracts as contract_cli
from .common import (
    CliError,
    RpcCallError,
    call_or_explain,
    credentials,
    pretty_json,
    rpc_url,
    wallet_path,
)

DEFAULT_UNLOCK_SECONDS = 300


def add_parser(
    sub: argparse._SubParsersAction, add_common: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = sub.add_parser("wallet", help="use a wallet of a running node")
    add_common(p)
    p.add_argument("--rpc-port", type=int, default=None)
    p.add_argument("--rpc-host", default="127.0.0.1")
    p.add_argument("--rpc-user")
    p.add_argument("--rpc-password")
    p.add_argument("--wallet", help="wallet name (default: the node's only loaded wallet)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    cmds = p.add_subparsers(dest="wallet_command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        c = cmds.add_parser(name, help=help_text)
        c.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        return c

    c = command("create", "create a new wallet (24 new words)")
    c.add_argument("name")
    c.add_argument("--encrypt", action="store_true", help="ask for a passphrase")
    c = command("address", "a new receiving address")
    c.add_argument("--label", default="")
    c.add_argument("--type", choices=("ed25519", "secp256k1"), default=None)
    command("balance", "trusted, pending and immature balance")
    c = command("send", "pay AMOUNT OBOL to ADDRESS (--all: everything, less the fee)")
    c.add_argument("address")
    c.add_argument("amount", nargs="?")
    c.add_argument("--all", action="store_true", help="empty the wallet into ADDRESS")
    c.add_argument("--fee-rate", type=int, default=None, help="units per byte")
    c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    c = command("history", "recent payments in and out")
    c.add_argument("--count", type=int, default=20)
    command("unspent", "spendable coins")
    command("encrypt", "encrypt the wallet with a passphrase")
    c = command("unlock", "unlock an encrypted wallet for a while")
    c.add_argument("--timeout", type=int, default=DEFAULT_UNLOCK_SECONDS, help="seconds")
    command("lock", "lock an encrypted wallet now")
    command("backup", "show the recovery phrase")
    c = command("restore", "create a wallet from a recovery phrase")
    c.add_argument("name")
    c.add_argument("--encrypt", action="store_true", help="ask for a passphrase")
    contract_cli.add_parsers(command)
    c = command("pledge", "pledge AMOUNT OBOL to the campaign at URL (coins stay yours)")
    c.add_argument("url")
    c.add_argument("amount")
    command("pledges", "this wallet's pledges")
    c = command("revokepledge", "spend a pledge's coin back to the wallet")
    c.add_argument("pledge")


class _Client:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        user, password = credentials(args)
        node_args = argparse.Namespace(**{**vars(args), "wallet": None})
        self._rpc = RpcClient(rpc_url(node_args), user, password)
        self._wallet = wallet_path(args.wallet)

    def call(self, method: str, params: list[Any] | dict[str, Any], *, wallet: bool = True) -> Any:
        try:
            return call_or_explain(self._rpc, method, params, self._wallet if wallet else "")
        except RpcCallError as exc:
            raise CliError(" ".join(str(exc.message).split())) from exc


def read_secret(prompt: str, confirm: bool = False) -> str:
    """A secret from the terminal (no echo), or the next line of standard input."""
    if sys.stdin.isatty():
        secret = getpass.getpass(prompt)
        if confirm and getpass.getpass("again: ") != secret:
            raise CliError("the two entries differ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret.strip():
        raise CliError("nothing entered")
    return secret


def _amount(value: Any) -> str:
    return f"{Decimal(value):.8f}"


def run(args: argparse.Namespace) -> int:
    client = _Client(args)
    handler = _COMMANDS[args.wallet_command]
    result, text = handler(client, args)
    if args.json:
        print(pretty_json(result))
    elif text:
        print(text)
    return 0


def cmd_create(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    params: dict[str, Any] = {"wallet_name": args.name}
    if args.encrypt:
        params["passphrase"] = read_secret("new passphrase: ", confirm=True)
    result = client.call("createwallet", params, wallet=False)
    text = (
        f"created wallet {result['name']}; run `obol wallet --wallet {result['name']} backup` "
        "and write down its recovery phrase"
    )
    return result, text


def cmd_restore(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    params: dict[str, Any] = {
        "wallet_name": args.name,
        "mnemonic": read_secret("recovery phrase: "),
    }
    if args.encrypt:
        params["passphrase"] = read_secret("new passphrase: ", confirm=True)
    result = client.call("createwallet", params, wallet=False)
    return result, f"restored wallet {result['name']}"


def cmd_address(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    address = client.call("getnewaddress", [args.label, args.type])
    return {"address": address}, address


def cmd_balance(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    balances = client.call("getbalances", [])
    mine = balances["mine"]
    lines = [
        f"trusted   {_amount(mine['trusted']):>20} OBOL",
        f"pending   {_amount(mine['untrusted_pending']):>20} OBOL",
        f"immature  {_amount(mine['immature']):>20} OBOL",
    ]
    contract = balances["contract"]
    held = sum(contract.values(), Decimal(0))
    if held:
        lines.append(f"contracts {_amount(held):>20} OBOL (spent only with the other signers)")
    return mine, "\n".join(lines)


def _send_amount(client: _Client, args: argparse.Namespace) -> None:
    """Check AMOUNT against --all; with --all, AMOUNT is every spendable coin."""
    if args.all == (args.amount is not None):
        raise CliError("give either AMOUNT or --all")
    if args.all:
        coins = client.call("listunspent", [0])
        total = sum(
            (Decimal(c["amount"]) for c in coins if c["safe"] and c["spendable"]), Decimal(0)
        )
        if not total:
            raise CliError("nothing to send: the wallet has no spendable coins")
        args.amount = f"{total:.8f}"


def cmd_send(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    _send_amount(client, args)
    if not args.yes and sys.stdin.isatty():
        preview = _preview(client, args)
        answer = input(
            f"send {_amount(args.amount)} OBOL to {args.address} with a fee of "
            f"{_amount(preview['fee'])} OBOL? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            raise CliError("cancelled: nothing was sent")
    params: dict[str, Any] = {"address": args.address, "amount": args.amount, "verbose": True}
    if args.all:
        params["subtractfeefromamount"] = True
    if args.fee_rate is not None:
        params["fee_rate"] = args.fee_rate
    sent = client.call("sendtoaddress", params)
    amount = Decimal(args.amount) - (sent["fee"] if args.all else 0)
    result = {
        "txid": sent["txid"],
        "address": args.address,
        "amount": amount,
        "fee": sent["fee"],
    }
    text = (
        f"sent {_amount(amount)} OBOL to {args.address}, fee {_amount(sent['fee'])} OBOL\n"
        f"txid {sent['txid']}"
    )
    return result, text


def _preview(client: _Client, args: argparse.Namespace) -> dict[str, Any]:
    """The fee the send would pay, from ``fundrawtransaction`` on the same output."""
    try:
        lock = decode_address(args.address, NETWORKS[args.network])
    except AddressError as exc:
        raise CliError(f"Invalid address: {exc}") from exc
    try:
        value = parse_amount(args.amount, allow_zero=False)
    except RpcError as exc:
        raise CliError(exc.message) from exc
    raw = Tx(1, (), (TxOut(value, lock),), 0).serialize().hex()
    options: dict[str, Any] = {} if args.fee_rate is None else {"fee_rate": args.fee_rate}
    if args.all:
        options["subtractFeeFromOutputs"] = [0]
    return client.call("fundrawtransaction", [raw, options])


def cmd_history(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    entries = client.call("listtransactions", ["*", args.count])
    lines = [
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(e['time']))}  "
        f"{e['confirmations']:>7} conf  {e['category']:<9} {_amount(e['amount']):>20} OBOL  "
        f"fee {_amount(e['fee']) if 'fee' in e else '-':>11}  "
        f"{e.get('address', '')}  {e['txid']}"
        for e in entries
    ]
    head = f"{'time (UTC)':<19}  {'depth':>12}  {'category':<9} {'amount':>25}  {'fee':>15}"
    return entries, "\n".join([head, *lines]) if lines else "no transactions yet"


def cmd_unspent(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    coins = client.call("listunspent", [0])
    lines = [
        f"{c['txid']}:{c['vout']}  {_amount(c['amount']):>20} OBOL  "
        f"{c['confirmations']:>7} conf  {c['address']}"
        f"{'  contract ' + c['policy'] if c.get('contract') else ''}"
        for c in coins
    ]
    return coins, "\n".join(lines) if lines else "no spendable coins"


def cmd_encrypt(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    message = client.call("encryptwallet", [read_secret("new passphrase: ", confirm=True)])
    return {"message": message}, message


def cmd_unlock(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    client.call("walletpassphrase", [read_secret("passphrase: "), args.timeout])
    return {"unlocked_for": args.timeout}, f"unlocked for {args.timeout} seconds"


def cmd_lock(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    client.call("walletlock", [])
    return {"locked": True}, "locked"


def cmd_backup(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    info = client.call("getwalletinfo", [])
    params = [read_secret("passphrase: ")] if "unlocked_until" in info else []
    words = client.call("dumpmnemonic", params)
    text = (
        f"{words}\n"
        "Anyone with these words controls the wallet's coins: write them on paper, keep "
        "them offline."
    )
    return {"mnemonic": words}, text


def cmd_pledge(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    result = client.call("pledge", [args.url, args.amount])
    text = (
        f"pledged {_amount(result['amount'])} OBOL with coin {result['coin']}\n"
        f"pledge {result['pledge']} (revoke: obol wallet revokepledge {result['pledge']})"
    )
    return result, text


def cmd_pledges(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    pledges = client.call("listpledges", [])
    lines = [
        f"{p['pledge']}  {_amount(p['amount']):>20} OBOL  {p['status']:<8} {p['campaign_url']}"
        for p in pledges
    ]
    return pledges, "\n".join(lines) if lines else "no pledges"


def cmd_revokepledge(client: _Client, args: argparse.Namespace) -> tuple[Any, str]:
    result = client.call("revokepledge", [args.pledge])
    return result, f"revoked: the coin went back to the wallet in {result['txid']}"


_COMMANDS: dict[str, Callable[[_Client, argparse.Namespace], tuple[Any, str]]] = {
    "create": cmd_create,
    "restore": cmd_restore,
    "address": cmd_address,
    "balance": cmd_balance,
    "send": cmd_send,
    "history": cmd_history,
    "unspent": cmd_unspent,
    "encrypt": cmd_encrypt,
    "unlock": cmd_unlock,
    "lock": cmd_lock,
    "backup": cmd_backup,
    **contract_cli.COMMANDS,
    "pledge": cmd_pledge,
    "pledges": cmd_pledges,
    "revokepledge": cmd_revokepledge,
}
