"""The ``obol`` command: ``node``, ``rpc`` (like bitcoin-cli), ``wallet``, ``localnet``,
``export`` and ``analyze``, each in its own module of this package.

Every user mistake ends as one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from p2p.config import VERSION

from . import analytics, localnet, node, rpc, wallet
from .common import CliError, add_common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obol", description="obol node, wallet and tools")
    parser.add_argument("--version", action="version", version=f"obol {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    node.add_parser(sub)
    rpc.add_parser(sub)
    wallet.add_parser(sub, add_common)
    localnet.add_parser(sub)
    analytics.add_parsers(sub, add_common)
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "node": node.run,
    "rpc": rpc.run,
    "wallet": wallet.run,
    "localnet": localnet.run,
    "export": analytics.cmd_export,
    "analyze": analytics.cmd_analyze,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        through = localnet.through_argv(args)
        if through is not None:
            return main(through)
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
