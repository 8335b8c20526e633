"""``obol node --reindex``: rebuild the chainstate and every index from the stored blocks,
as Bitcoin Core's -reindex does from its block files.

Everything but the block bodies, the mempool journal and the datadir's identity is
deleted; then every stored block reachable from genesis is validated and connected again,
parents first, so the node ends on the most-work valid chain its blocks make. Blocks whose
ancestors are gone (after ``--repair`` salvaged a damaged database) are left for peers to
fill in.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator

from consensus.errors import DecodeError

from .manager import Chain
from .storage import ChainDB

log = logging.getLogger("obol.reindex")

# Blocks handed to the chain per call: enough for its pipeline, few enough to hold decoded.
CHUNK = 64


def reindex(db: ChainDB, open_chain: Callable[[], Chain]) -> Chain:
    """Wipe the chainstate of ``db`` and rebuild it; the chain ``open_chain`` gives, at
    the best tip the stored blocks make."""
    children: dict[bytes, list[bytes]] = defaultdict(list)
    heights: dict[bytes, int] = {}  # where each body is stored

    def skip(block_hash: bytes, exc: Exception) -> None:
        # as an undecodable body below: the block is fetched again from a peer
        log.warning("reindex: stored block %s undecodable: %s", block_hash[::-1].hex(), exc)

    for height, header in db.block_headers(skip):
        children[header.prev_hash].append(header.hash)
        heights[header.hash] = height
    stored = sum(len(c) for c in children.values())
    deleted = db.wipe_chainstate()
    log.info("reindex: %d stored blocks, %d chainstate records deleted", stored, deleted)
    chain = open_chain()
    reachable = list(_parents_first(children, chain.tip.hash))
    connected = 0
    for chunk in _chunks(reachable):
        blocks = []
        for block_hash in chunk:
            try:
                block = db.block(heights[block_hash], block_hash)
            except DecodeError as exc:
                log.warning("reindex: stored block %s undecodable: %s", block_hash[::-1].hex(), exc)
                continue
            if block is not None:
                blocks.append(block)
        results = chain.process_blocks(blocks)
        connected += sum(r.status == "accepted" for r in results)
    log.info(
        "reindex: done, height %d, %d blocks accepted, %d stored blocks not on a chain "
        "from genesis",
        chain.height,
        connected,
        stored - 1 - len(reachable),
    )
    return chain


def _parents_first(children: dict[bytes, list[bytes]], genesis: bytes) -> Iterator[bytes]:
    """Every block hash reachable from genesis, each after its parent (breadth first)."""
    level = children.get(genesis, [])
    while level:
        yield from level
        level = [c for h in level for c in children.get(h, ())]


def _chunks(hashes: list[bytes]) -> Iterator[list[bytes]]:
    for start in range(0, len(hashes), CHUNK):
        yield hashes[start : start + CHUNK]
