"""The ``obol`` command: ``node``, ``rpc`` (like bitcoin-cli), and more as they come.

Every user mistake ends as one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import errno
import json
import logging
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from consensus.params import NETWORKS
from p2p.config import VERSION

from .config import DEFAULT_DBCACHE_MB, MIN_DBCACHE_MB

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


def _dbcache(text: str) -> int:
    try:
        mb = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of MB: {text!r}") from None
    if mb < MIN_DBCACHE_MB:
        raise argparse.ArgumentTypeError(f"at least {MIN_DBCACHE_MB} MB")
    return mb


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obol", description="obol node, wallet and tools")
    parser.add_argument("--version", action="version", version=f"obol {VERSION}")
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
    node.add_argument(
        "--dbcache",
        type=_dbcache,
        default=DEFAULT_DBCACHE_MB,
        metavar="MB",
        help=f"memory for the coin cache and LevelDB's block cache (default {DEFAULT_DBCACHE_MB})",
    )
    node.add_argument("--no-wallet", action="store_true", help="do not create/load 'default'")
    node.add_argument("--debug", action="store_true", help="log debug messages too")
    node.add_argument(
        "--reindex",
        action="store_true",
        help="rebuild the chainstate and indexes from the stored blocks",
    )
    node.add_argument(
        "--min-free-mb",
        type=int,
        default=50,
        metavar="MB",
        help="stop before writing when the datadir's disk has less free space (default 50)",
    )
    node.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close a P2P or RPC connection that has not sent its request header by then",
    )
    node.add_argument(
        "--repair",
        action="store_true",
        help="salvage a damaged database (LevelDB repair), then --reindex",
    )

    rpc = sub.add_parser("rpc", help="call a JSON-RPC method (like bitcoin-cli)")
    _add_common(rpc)
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

    from .wallet_cli import add_parser as add_wallet_parser

    add_wallet_parser(sub, _add_common)

    from .localnet import add_parser as add_localnet_parser

    add_localnet_parser(sub)

    from .analytics.cli import add_parsers as add_analytics_parsers

    add_analytics_parsers(sub, _add_common)
    return parser


class LogFileHandler(logging.FileHandler):
    """debug.log. The first failed write (a full disk) is said once on stderr, with the
    reason, instead of logging's traceback for every record; the lines that fail are lost."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            reason = sys.exc_info()[1]
            print(f"error: cannot write to {self.baseFilename}: {reason}", file=sys.stderr)


class RepeatFilter(logging.Filter):
    """At most ``burst`` identical lines (logger, level and text) each ``window`` seconds;
    the next one let through after a quiet spell says how many were held back. A flood
    (accept() failing, a peer repeating itself) cannot fill the disk; lines that differ,
    as one per block, all pass."""

    def __init__(self, burst: int = 10, window: float = 60.0) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [start, n, held]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage()[:300])
        state = self._seen.get(key)
        if state is None or record.created - state[0] >= self.window:
            held = int(state[2]) if state else 0
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = [record.created, 1, 0]
            if held:
                record.msg = f"{record.msg} [{held} more like this held back]"
            return True
        state[1] += 1
        if state[1] <= self.burst:
            return True
        state[2] += 1
        return False


def setup_logging(log_path: Path, debug: bool) -> None:
    """Log to ``log_path`` in the network's data directory, made if missing; CliError when
    that directory cannot be used (a file in its place, no permission)."""
    from .config import make_private_dirs

    try:
        make_private_dirs(log_path.parent)
        if not log_path.parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file is in its place")
        handler = LogFileHandler(log_path)
    except OSError as exc:
        raise CliError(
            f"cannot use the data directory {log_path.parent}: {exc.strerror or exc}"
        ) from exc
    handler.addFilter(RepeatFilter())
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
    if args.header_timeout <= 0:
        raise CliError("--header-timeout takes a number of seconds above 0")
    if args.min_free_mb < 0:
        raise CliError("--min-free-mb takes a number of MB, 0 or more")
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
        dbcache_mb=args.dbcache,
        reindex=args.reindex or args.repair,
        repair=args.repair,
        min_free_mb=args.min_free_mb,
        header_timeout=args.header_timeout,
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
        return format(obj, "f")  # str() gives 0E-8 for a zero with 8 decimals
    return json.dumps(obj)


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


def cmd_rpc(args: argparse.Namespace) -> int:
    user, password = credentials(args)
    params = named_params(args.args) if args.named else [parse_cli_arg(a) for a in args.args]
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


def cmd_export(args: argparse.Namespace) -> int:
    from .analytics.cli import cmd_export as run

    return run(args)


def cmd_analyze(args: argparse.Namespace) -> int:
    from .analytics.cli import cmd_analyze as run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "node": cmd_node,
        "rpc": cmd_rpc,
        "wallet": cmd_wallet,
        "localnet": cmd_localnet,
        "export": cmd_export,
        "analyze": cmd_analyze,
    }
    try:
        return handlers[args.command](args)
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
