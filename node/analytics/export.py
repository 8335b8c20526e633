"""``exportchain``: the active chain as Parquet under a directory, kept up to date.

Layout: one folder per table (``blocks/``, ``txs/``, ``inputs/``, ``outputs/``,
``spends/``, ``policy_spends/``, ``pledges/``), in each one folder per partition of
``partition_blocks`` heights (``000000000-000000999/``), in each partition the files of
the runs that wrote it (``<first>-<last>.<run>.parquet``), and ``manifest.json`` beside
the tables: per partition the last height exported, that block's hash and its files. DuckDB
(``read_parquet('DIR/txs/*/*.parquet')``), pandas and pyarrow (``read_parquet('DIR/txs')``)
read the folders as they are.

A run compares each partition's last hash with the chain's block at that height: the first
partition that differs (a reorg reached it) and every later one are written again, from
the chain; partitions before it are left alone. Then the blocks past the last exported
height are added as a new file in their partitions (or, once a partition holds
``MAX_PARTITION_FILES`` files, it is written again as one). Blocks are read on the chain thread in
short runs, so a run never holds block processing for long; each run of blocks checks
that it extends the one before it, and a reorg in the middle of an export starts it over.
Files are written beside their final name and renamed; the manifest is replaced last, and
files it does not list (left by an interrupted run or replaced by this one) are removed.
A reader that opens the folders while a run is writing may see a partition twice; one
that opens them after the run returns sees exactly the chain.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.hashing import hash_to_hex
from consensus.params import NetworkParams

from .tables import TABLES, BlockRecord

MANIFEST = "manifest.json"
FORMAT = 2  # 2: policy_spends names escrows; the pledges table
DEFAULT_PARTITION_BLOCKS = 1000
READ_CHUNK = 100  # blocks per chain-thread call: a few ms of reading per call
RETRIES = 3
# Files in a partition before a run that adds to it writes it again as one file: an export
# after every block would otherwise leave a thousand small files, each a fixed cost to open.
MAX_PARTITION_FILES = 16


class ExportError(Exception):
    """A directory or argument the export refuses; nothing was written."""


class ChainMoved(Exception):
    """The active chain changed under the export; the run is started over."""


@dataclass
class Partition:
    first: int
    last: int
    last_hash: str
    files: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    network: str
    genesis: str
    partition_blocks: int
    partitions: dict[int, Partition] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "network": self.network,
            "genesis": self.genesis,
            "partition_blocks": self.partition_blocks,
            "tables": list(TABLES),
            "partitions": [
                {
                    "first": p.first,
                    "last": p.last,
                    "last_hash": p.last_hash,
                    "files": p.files,
                }
                for _, p in sorted(self.partitions.items())
            ],
        }

    @property
    def last_height(self) -> int:
        return max((p.last for p in self.partitions.values()), default=-1)


def partition_dir(first: int, size: int) -> str:
    return f"{first:09d}-{first + size - 1:09d}"


def load_manifest(
    directory: Path, network: str, genesis: str, partition_blocks: int | None
) -> Manifest:
    path = directory / MANIFEST
    if not path.is_file():
        if directory.exists() and any(directory.iterdir()):
            raise ExportError(f"{directory} is not empty and holds no export ({MANIFEST})")
        return Manifest(network, genesis, partition_blocks or DEFAULT_PARTITION_BLOCKS)
    try:
        raw = json.loads(path.read_text())
        manifest = Manifest(
            raw["network"],
            raw["genesis"],
            int(raw["partition_blocks"]),
            {
                int(p["first"]): Partition(
                    int(p["first"]), int(p["last"]), str(p["last_hash"]), list(p["files"])
                )
                for p in raw["partitions"]
            },
        )
        if raw["format"] != FORMAT:
            raise ExportError(f"{path} is export format {raw['format']}, this node writes {FORMAT}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from exc
    if manifest.network != network or manifest.genesis != genesis:
        raise ExportError(f"{directory} holds an export of another chain ({manifest.network})")
    if partition_blocks is not None and partition_blocks != manifest.partition_blocks:
        raise ExportError(
            f"{directory} was exported with {manifest.partition_blocks} blocks per partition"
        )
    return manifest


def save_manifest(directory: Path, manifest: Manifest) -> None:
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest.to_json(), indent=1) + "\n")
    os.replace(tmp, directory / MANIFEST)


def prune(directory: Path, manifest: Manifest) -> None:
    """Remove every file and partition folder of the tables that ``manifest`` does not list."""
    size = manifest.partition_blocks
    keep = {
        partition_dir(p.first, size): {f"{stem}.parquet" for stem in p.files}
        for p in manifest.partitions.values()
    }
    for table in TABLES:
        root = directory / table
        if not root.is_dir():
            continue
        for part in root.iterdir():
            wanted = keep.get(part.name)
            if not part.is_dir():
                part.unlink()
                continue
            for f in part.iterdir():
                if wanted is None or f.name not in wanted:
                    f.unlink()
            if wanted is None:
                part.rmdir()


def write_partition(
    directory: Path,
    manifest: Manifest,
    stem: str,
    records: list[BlockRecord],
    params: NetworkParams,
) -> dict[str, int]:
    """Each table's rows of ``records`` as ``<table>/<partition>/<stem>.parquet``."""
    import pyarrow.parquet as pq

    from .tables import build_rows

    first = records[0].height // manifest.partition_blocks * manifest.partition_blocks
    part = partition_dir(first, manifest.partition_blocks)
    rows: dict[str, int] = {}
    for table, data in build_rows(records, params).items():
        folder = directory / table / part
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{stem}.parquet.tmp"
        pq.write_table(data, tmp, compression="zstd")
        os.replace(tmp, folder / f"{stem}.parquet")
        rows[table] = data.num_rows
    return rows


ReadBlocks = Callable[[int, int], Awaitable[tuple[list[BlockRecord], bytes | None]]]
Snapshot = Callable[[list[int]], Awaitable[tuple[int, bytes, list[bytes | None]]]]


@dataclass
class ChainAccess:
    """What an export needs from the node: both calls run on the chain thread."""

    params: NetworkParams
    snapshot: Snapshot  # heights -> (tip height, tip hash, the active block hash at each)
    read_blocks: ReadBlocks  # first, last -> (records, hash of the block before first)


async def export_chain(
    chain: ChainAccess, directory: Path, partition_blocks: int | None
) -> dict[str, Any]:
    """One export run into ``directory`` (ExportError for a directory it refuses)."""
    for _ in range(RETRIES):
        try:
            return await _run(chain, directory, partition_blocks)
        except ChainMoved:
            continue
    raise ChainMoved("the chain kept changing during the export; run it again")


async def _run(chain: ChainAccess, directory: Path, partition_blocks: int | None) -> dict[str, Any]:
    params = chain.params
    _, _, (genesis,) = await chain.snapshot([0])
    assert genesis is not None  # height 0 is always on the active chain
    manifest = await asyncio.to_thread(
        load_manifest, directory, params.name, hash_to_hex(genesis), partition_blocks
    )
    size = manifest.partition_blocks
    await asyncio.to_thread(_prepare, directory, manifest)
    kept = sorted(manifest.partitions.values(), key=lambda p: p.first)
    tip, tip_hash, hashes = await chain.snapshot([p.last for p in kept])
    start = manifest.last_height + 1
    rewritten: list[Partition] = []
    for p, found in zip(kept, hashes, strict=True):
        if found is None or hash_to_hex(found) != p.last_hash:
            start = p.first
            rewritten = [q for q in kept if q.first >= p.first]
            break
    else:
        if kept and len(kept[-1].files) >= MAX_PARTITION_FILES and tip > kept[-1].last:
            start = kept[-1].first  # many small runs: write the partition as one file
            rewritten = [kept[-1]]
    expected = None
    if start > 0:
        before = next(p for p in kept if p.first <= start - 1 <= p.last)
        expected = before.last_hash
    run = secrets.token_hex(4)
    written: list[tuple[Partition, str]] = []
    rows = dict.fromkeys(TABLES, 0)
    height = start
    try:
        while height <= tip:
            first = height // size * size
            last = min(first + size - 1, tip)
            records: list[BlockRecord] = []
            at = height
            while at <= last:
                chunk, parent = await chain.read_blocks(at, min(at + READ_CHUNK - 1, last))
                if (hash_to_hex(parent) if parent else None) != expected:
                    raise ChainMoved
                expected = hash_to_hex(chunk[-1].hash)
                records += chunk
                at = chunk[-1].height + 1
            stem = f"{height:09d}-{last:09d}.{run}"
            counts = await asyncio.to_thread(
                write_partition, directory, manifest, stem, records, params
            )
            for table, n in counts.items():
                rows[table] += n
            assert expected is not None  # set by the chunks read above (height <= last)
            written.append((Partition(first, last, expected), stem))
            height = last + 1
    except BaseException:
        await asyncio.to_thread(prune, directory, manifest)
        raise
    touched = {p.first for p in rewritten}
    for p in rewritten:
        del manifest.partitions[p.first]
    for new, stem in written:
        old = manifest.partitions.get(new.first)
        new.files = [*(old.files if old else []), stem]
        manifest.partitions[new.first] = new
    await asyncio.to_thread(_commit, directory, manifest)
    added = [partition_dir(p.first, size) for p, _ in written if p.first not in touched]
    return {
        "directory": str(directory),
        "network": params.name,
        "height": tip,
        "bestblockhash": hash_to_hex(tip_hash),
        "partition_blocks": size,
        "first_height": start if start <= tip else None,
        "blocks": max(0, tip - start + 1),
        "rows": rows,
        "partitions_written": added,
        "partitions_rewritten": [partition_dir(first, size) for first in sorted(touched)],
    }


def _prepare(directory: Path, manifest: Manifest) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    prune(directory, manifest)


def _commit(directory: Path, manifest: Manifest) -> None:
    save_manifest(directory, manifest)
    prune(directory, manifest)
