"""The ``obol`` command: ``node``, ``rpc`` (like bitcoin-cli), and more as they come.

Every user mistake ends as one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from consensus.params import NETWORKS

DEFAULT_DATADIR = Path(os.environ.get("OBOL_DATADIR", Path.home() / ".obol"))


class CliError(Exception):
    """A one-line message for the user; exit code 1."""


class RpcCallError(CliError):
    """The node answered with a JSON-RPC error; ``code`` and ``message`` are Core's."""

    def __init__(self, code: Any, message: Any) -> None:
        super().__init__(f"error code: {code}\nerror message:\n{message}")
        self.code = code
        self.message = message


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", choices=sorted(NETWORKS), default="regtest")
    p.add_argument("--datadir", type=Path, default=DEFAULT_DATADIR)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obol", description="obol node, wallet and tools")
    sub = parser.add_subparsers(dest="command", required=True)

    node = sub.add_parser("node", help="run a node")
    _add_common(node)
    node.add_argument("--rpc-port", type=int, default=None)
    node.add_argument("--rpc-bind", default="127.0.0.1")
    node.add_argument("--rpc-user")
    node.add_argument("--rpc-password")
    node.add_argument("--p2p-port", type=int, default=None)
    node.add_argument("--p2p-bind", default="127.0.0.1")
    node.add_argument("--connect", action="append", default=[], metavar="HOST:PORT")
    node.add_argument("--mine", metavar="ADDRESS", help="mine continuously to ADDRESS")
    node.add_argument("--mine-workers", type=int, default=1)
    node.add_argument(
        "--auto-mine",
        type=float,
        metavar="SECONDS",
        help="mine a block to the default wallet every SECONDS (for local networks)",
    )
    node.add_argument("--no-wallet", action="store_true", help="do not create/load 'default'")
    node.add_argument("--debug", action="store_true", help="log debug messages too")

    rpc = sub.add_parser("rpc", help="call a JSON-RPC method (like bitcoin-cli)")
    _add_common(rpc)
    rpc.add_argument("--rpc-port", type=int, default=None)
    rpc.add_argument("--rpc-host", default="127.0.0.1")
    rpc.add_argument("--rpc-user")
    rpc.add_argument("--rpc-password")
    rpc.add_argument("--wallet", "-rpcwallet", help="send to /wallet/<name>")
    rpc.add_argument(
        "-named", action="store_true", help="pass params by name: KEY=VALUE (as bitcoin-cli)"
    )
    rpc.add_argument("method")
    rpc.add_argument("args", nargs="*")

    from .wallet_cli import add_parser as add_wallet_parser

    add_wallet_parser(sub, _add_common)

    from .localnet import add_parser as add_localnet_parser

    add_localnet_parser(sub)
    return parser


def setup_logging(log_path: Path, debug: bool) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def cmd_node(args: argparse.Namespace) -> int:
    from .config import NodeConfig
    from .node import run_node

    params = NETWORKS[args.network]
    if args.rpc_bind not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: RPC bound to {args.rpc_bind}: anyone who can reach it and has the "
            "credentials controls this node",
            file=sys.stderr,
        )
    if args.auto_mine is not None and args.auto_mine <= 0:
        raise CliError("--auto-mine takes a number of seconds above 0")
    if bool(args.rpc_user) != bool(args.rpc_password):
        raise CliError("--rpc-user and --rpc-password go together")
    config = NodeConfig(
        params=params,
        datadir=args.datadir.resolve(),
        rpc_bind=args.rpc_bind,
        rpc_port=args.rpc_port,
        rpc_user=args.rpc_user,
        rpc_password=args.rpc_password,
        p2p_bind=args.p2p_bind,
        p2p_port=args.p2p_port,
        connect=tuple(args.connect),
        mine_address=args.mine,
        mine_workers=args.mine_workers,
        auto_mine_interval=args.auto_mine,
        wallet=not args.no_wallet,
    )
    if args.mine:
        from consensus.address import AddressError, decode_address

        try:
            decode_address(args.mine, params)
        except AddressError as exc:
            raise CliError(f"--mine: {exc}") from exc
    setup_logging(config.log_path, args.debug)
    return asyncio.run(run_node(config))


def parse_cli_arg(text: str) -> Any:
    """Like bitcoin-cli: JSON where it parses (numbers, true, arrays...), else a string."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError:
        return text


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
    from .rpc.auth import read_cookie

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
        # Fixed point: str() would print a zero amount as 0E-8.
        return f"{obj:f}"
    return json.dumps(obj)


def named_params(args: list[str]) -> dict[str, Any]:
    """bitcoin-cli -named: each argument is KEY=VALUE, the value parsed as a positional one."""
    params: dict[str, Any] = {}
    for text in args:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise CliError(f"-named takes KEY=VALUE arguments, got {text!r}")
        if key in params:
            raise CliError(f"parameter {key} given twice")
        params[key] = parse_cli_arg(value)
    return params


def cmd_rpc(args: argparse.Namespace) -> int:
    user, password = credentials(args)
    params: list[Any] | dict[str, Any]
    if args.named:
        params = named_params(args.args)
    else:
        params = [parse_cli_arg(a) for a in args.args]
    result = rpc_call(rpc_url(args), user, password, args.method, params)
    text = format_result(result)
    if text:
        print(text)
    return 0


def cmd_wallet(args: argparse.Namespace) -> int:
    from .wallet_cli import run

    return run(args)


def cmd_localnet(args: argparse.Namespace) -> int:
    from .localnet import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "node": cmd_node,
        "rpc": cmd_rpc,
        "wallet": cmd_wallet,
        "localnet": cmd_localnet,
    }
    try:
        return handlers[args.command](args)
    except RpcCallError as exc:
        print(exc, file=sys.stderr)  # bitcoin-cli's three lines, for scripts that parse them
        return 1
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: exceptions raised by modules
    # that import node.cli (wallet_cli) must be the classes main catches.
    from node.cli import main as _main

    sys.exit(_main())
