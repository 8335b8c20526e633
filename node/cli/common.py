"""What every ``obol`` command shares: the user-facing errors, the datadir options, and the
JSON-RPC call to a running node with its credentials.

Every user mistake ends as one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from consensus.params import NETWORKS

from ..rpc.auth import read_cookie

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
    import urllib.error
    import urllib.parse
    import urllib.request

    body = json.dumps(
        {"jsonrpc": "1.0", "id": "obol-cli", "method": method, "params": params},
        default=str,
    ).encode()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as resp:
            reply = json.loads(resp.read(), parse_float=Decimal)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise CliError(
                "incorrect RPC credentials (check --datadir, --network or --rpc-user)"
            ) from exc
        try:
            reply = json.loads(exc.read(), parse_float=Decimal)
        except ValueError:
            raise CliError(f"HTTP error {exc.code} from the node") from exc
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ConnectionRefusedError) or isinstance(exc, ConnectionRefusedError):
            where = urllib.parse.urlsplit(url)
            raise CliError(
                f"nothing is listening on port {where.port} of {where.hostname}: is it running "
                "(and with this --network and --rpc-port)?"
            ) from exc
        raise CliError(f"cannot reach the node at {url}: is it running? ({exc})") from exc
    error = reply.get("error")
    if error:
        raise RpcCallError(error.get("code"), error.get("message"))
    return reply.get("result")


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
    url = f"http://{args.rpc_host}:{port}/"
    if getattr(args, "wallet", None):
        from urllib.parse import quote

        url += f"wallet/{quote(args.wallet)}"
    return url


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
