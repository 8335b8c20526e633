"""``obol rpc``: call one JSON-RPC method, as bitcoin-cli does."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

from .common import CliError, add_common, credentials, format_result, rpc_call, rpc_url


def add_parser(sub: argparse._SubParsersAction) -> None:
    rpc = sub.add_parser("rpc", help="call a JSON-RPC method (like bitcoin-cli)")
    add_common(rpc)
    rpc.add_argument("--rpc-port", type=int, default=None)
    rpc.add_argument("--rpc-host", default="127.0.0.1")
    rpc.add_argument("--rpc-user")
    rpc.add_argument("--rpc-password")
    rpc.add_argument("--wallet", "-rpcwallet", help="send to /wallet/<name> (bitcoin-cli's name)")
    rpc.add_argument(
        "-named", action="store_true", help="arguments are NAME=VALUE pairs (as bitcoin-cli)"
    )
    rpc.add_argument("method")
    rpc.add_argument("args", nargs="*")


def parse_cli_arg(text: str) -> Any:
    """Like bitcoin-cli: JSON where it parses (numbers, true, arrays...), else a string."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError:
        return text


def named_params(words: list[str]) -> dict[str, Any]:
    """bitcoin-cli's -named: each argument is NAME=VALUE, the value read as any argument."""
    params: dict[str, Any] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep or not name:
            raise CliError(f"-named takes NAME=VALUE arguments, not {word!r}")
        if name in params:
            raise CliError(f"parameter {name} given twice")
        params[name] = parse_cli_arg(value)
    return params


def run(args: argparse.Namespace) -> int:
    user, password = credentials(args)
    params = named_params(args.args) if args.named else [parse_cli_arg(a) for a in args.args]
    result = rpc_call(rpc_url(args), user, password, args.method, params)
    text = format_result(result)
    if text:
        print(text)
    return 0
