"""``obol export`` (asks the running node, as ``obol rpc`` does) and ``obol analyze``
(DuckDB over the exported files, no node needed)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import CliError, credentials, pretty_json, rpc_call, rpc_url

ANALYSES = (
    "summary",
    "supply",
    "volume",
    "utxo-age",
    "address",
    "clusters",
    "richest",
    "credit",
    "fraud",
)
NEEDS_SUBJECT = ("address", "credit")


def add_parsers(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    export = sub.add_parser(
        "export", help="write the chain as Parquet files (asks the running node)"
    )
    add_common(export)
    export.add_argument(
        "--to", required=True, type=Path, metavar="DIR", help="a directory on the node's machine"
    )
    export.add_argument("--rpc-port", type=int, default=None)
    export.add_argument("--rpc-host", default="127.0.0.1")
    export.add_argument("--rpc-user")
    export.add_argument("--rpc-password")
    export.add_argument(
        "--partition-blocks",
        type=int,
        default=None,
        metavar="N",
        help="heights per partition folder (default 1000; fixed by the first export)",
    )

    analyze = sub.add_parser("analyze", help="questions about an export, through DuckDB")
    analyze.add_argument("dir", type=Path, metavar="DIR", help="a directory obol export wrote")
    analyze.add_argument("what", choices=ANALYSES)
    analyze.add_argument(
        "subject",
        nargs="?",
        help="the address asked about; for credit, addresses or public keys, comma-separated",
    )
    analyze.add_argument("--every", type=int, default=None, metavar="BLOCKS")
    analyze.add_argument("--top", type=int, default=10, metavar="N")
    analyze.add_argument("--json", action="store_true", help="JSON for scripts")


def cmd_export(args: argparse.Namespace) -> int:
    user, password = credentials(args)
    params: list[Any] = [str(args.to.resolve())]
    if args.partition_blocks is not None:
        params.append(args.partition_blocks)
    result = rpc_call(rpc_url(args), user, password, "exportchain", params)
    print(pretty_json(result))
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    try:
        from ..analytics.analyze import Analysis, AnalyzeError
    except ImportError as exc:
        raise CliError(f"obol analyze needs duckdb: pip install 'obol[analytics]' ({exc})") from exc
    if (args.what in NEEDS_SUBJECT) != bool(args.subject):
        raise CliError("an ADDRESS goes with 'address' and 'credit', and only with them")
    if args.every is not None and args.every < 1:
        raise CliError("--every takes a number of blocks above 0")
    if args.top < 1:
        raise CliError("--top takes a number above 0")
    progress = not args.json and sys.stderr.isatty()
    try:
        analysis = Analysis(args.dir, progress)
        if args.what == "credit":
            result = analysis.credit(args.subject.split(","))
        elif args.what == "address":
            result = analysis.address(args.subject)
        elif args.what == "fraud":
            from ..analytics.fraud import fraud_signals

            result = fraud_signals(analysis)
        elif args.what in ("supply", "volume"):
            result = getattr(analysis, args.what)(args.every)
        elif args.what == "richest":
            result = analysis.richest(args.top)
        else:
            result = getattr(analysis, args.what.replace("-", "_"))()
    except AnalyzeError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(result, indent=1) if args.json else human(result))
    return 0


def human(result: dict[str, Any]) -> str:
    """A reading for people: the figures as indented lines, the assumptions last."""
    lines: list[str] = []
    _lines(lines, {k: v for k, v in result.items() if k != "assumptions"}, "")
    lines.append("assumptions:")
    lines += [f"  - {a}" for a in result["assumptions"]]
    return "\n".join(lines)


def _lines(out: list[str], value: Any, pad: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                out.append(f"{pad}{k}:")
                _lines(out, v, pad + "  ")
            else:
                out.append(f"{pad}{k}: {v}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                first, *rest = item.items()
                out.append(f"{pad}- {first[0]}: {_short(first[1])}")
                _lines(out, dict(rest), pad + "  ")
            else:
                out.append(f"{pad}- {item}")


def _short(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
