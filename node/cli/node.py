"""``obol node``: run a node, logging to the network's data directory."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from pathlib import Path

from consensus.params import NETWORKS

from ..config import DEFAULT_DBCACHE_MB, MIN_DBCACHE_MB, NodeConfig, make_private_dirs
from .common import CliError, add_common


def _dbcache(text: str) -> int:
    try:
        mb = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of MB: {text!r}") from None
    if mb < MIN_DBCACHE_MB:
        raise argparse.ArgumentTypeError(f"at least {MIN_DBCACHE_MB} MB")
    return mb


def add_parser(sub: argparse._SubParsersAction) -> None:
    node = sub.add_parser("node", help="run a node")
    add_common(node)
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
        help=f"memory for the coin cache and LevelDB's caches (default {DEFAULT_DBCACHE_MB})",
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


def run(args: argparse.Namespace) -> int:
    from ..node import run_node

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
