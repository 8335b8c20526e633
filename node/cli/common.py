"""What every ``obol`` command shares: the user-facing errors, the datadir options, and the
JSON-RPC call to a running node with its credentials.

Every user mistake ends as one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from consensus.params import NETWORKS

from ..rpc.auth import read_cookie
from ..rpc.client import RpcClient, RpcFailure, RpcHttpError

DEFAULT_DATADIR = Path(os.environ.get("OBOL_DATADIR", Path.home() / ".obol"))


class CliError(Exception):
    """A one-line message for the user; exit code 1."""


class RpcCallError(CliError):
    """The node answered with a JSON-RPC error; ``code`` and ``message`` are Core's."""

    def __init__(self, code: Any, message: Any) -> None:
        super().__init__(f"error code: {code}\nerror message:\n{message}")
        self.code = code
        self.message = message


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", choices=sorted(NETWORKS), default="regtest")
    p.add_argument("--datadir", type=Path, default=DEFAULT_DATADIR)


def rpc_call(
    url: str, user: str, password: str, method: str, params: list[Any] | dict[str, Any]
) -> Any:
    """One JSON-RPC call; returns the result or raises CliError with the node's message."""
    with RpcClient(url, user, password) as client:
        return call_or_explain(client, method, params)


def call_or_explain(
    client: RpcClient, method: str, params: list[Any] | dict[str, Any], path: str = ""
) -> Any:
    """``client.call``, its failures turned into the one-line errors the user sees."""
    try:
        return client.call(method, params, path)
    except RpcHttpError as exc:
        if exc.code == 401:
            raise CliError(
                "incorrect RPC credentials (check --datadir, --network or --rpc-user)"
            ) from exc
        raise CliError(f"HTTP error {exc.code} from the node") from exc
    except RpcFailure as exc:
        raise RpcCallError(exc.code, exc.message) from exc
    except ConnectionRefusedError as exc:
        raise CliError(
            f"nothing is listening on port {client.port} of {client.host}: is it running "
            "(and with this --network and --rpc-port)?"
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise CliError(f"cannot reach the node at {client.url}: is it running? ({exc})") from exc


def credentials(args: argparse.Namespace) -> tuple[str, str]:
    if args.rpc_user:
        return args.rpc_user, args.rpc_password or ""
    cookie = args.datadir / args.network / ".cookie"
    try:
        return read_cookie(cookie)
    except FileNotFoundError as exc:
        others = [n for n in sorted(NETWORKS) if (args.datadir / n / ".cookie").is_file()]
        if others:
            running = " and a ".join(others)
            raise CliError(
                f"no {args.network} node runs with this --datadir, but a {running} node is "
                f"running here: add --network {others[0]}"
            ) from exc
        raise CliError(
            f"no cookie file at {cookie}: is the node running with this --datadir?"
        ) from exc
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the cookie {cookie}: {exc}") from exc


def rpc_url(args: argparse.Namespace) -> str:
    port = args.rpc_port or NETWORKS[args.network].rpc_port
    return f"http://{args.rpc_host}:{port}/" + wallet_path(getattr(args, "wallet", None))


def wallet_path(wallet: str | None) -> str:
    """The endpoint of a wallet, relative to the node's URL (none: the node's own)."""
    return f"wallet/{quote(wallet)}" if wallet else ""


def format_result(result: Any) -> str:
    """bitcoin-cli's output: strings bare, everything else as indented JSON."""
    if isinstance(result, str):
        return result
    if result is None:
        return ""
    return pretty_json(result)


def pretty_json(obj: Any, indent: int = 0) -> str:
    """Indented JSON that prints Decimals exactly as the node sent them (50.00000000)."""
    pad = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad}{json.dumps(k)}: {pretty_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(obj, list):
        if not obj:
            return "[]"
        items = [pad + pretty_json(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    if isinstance(obj, Decimal):
        return format(obj, "f")  # str() gives 0E-8 for a zero with 8 decimals
    return json.dumps(obj)
