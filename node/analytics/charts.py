"""The dashboard's analytics charts: fee-rate percentiles, volume and UTXO age from the
node's last export (the directory the latest ``exportchain`` wrote), read with DuckDB on
a worker thread. Until an export exists, or without the ``analytics`` extra, the answer
says why there is nothing to chart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


def _series(directory: Path) -> dict[str, Any]:
    from .analyze import Analysis

    analysis = Analysis(directory)
    volume = analysis.volume()
    return {
        "available": True,
        "directory": str(directory),
        "height": analysis.tip(),
        "every": volume["every"],
        "volume": volume["periods"],
        "utxo_age": analysis.utxo_age()["buckets"],
    }


async def chart_series(directory: Path | None) -> dict[str, Any]:
    if directory is None:
        return {"available": False, "reason": "no export yet: run obol export --to DIR"}
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return {"available": False, "reason": "this node lacks duckdb (obol[analytics])"}
    from .analyze import AnalyzeError

    try:
        return await asyncio.to_thread(_series, directory)
    except AnalyzeError as exc:
        return {"available": False, "reason": str(exc)}
