"""Per-phase cost of connecting cold 2,000-tx blocks, in microseconds per tx, in one thread.

``python -m bench.phases [--blocks N]``: builds a chain of one-in-two-out Ed25519 blocks,
then hands each to a ``Chain`` (no signature workers: signatures are verified inline, so
their cost is a phase of its own) with the node's garbage-collector settings, timing each
phase by wrapping the functions that do it. Run it alternately in two checkouts to compare
them (``bench/NOTES.md``). Not a test, not part of the wheel.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import consensus.encoding as encoding
import node.chain.manager as chain_mod
from consensus.params import REGTEST
from node.chain.manager import Chain
from node.chain.storage import Batch, ChainDB

from .chaingen import ChainGen, gen_key, split_txs

BLOCK_TXS = 2000
PHASES = (
    "decode",
    "check_block",
    "connect (no sigs)",
    "signatures",
    "coin changes",
    "index entries",
    "address totals",
    "coin stats (muhash)",
    "batch write",
    "rest",
)


def _timed(spent: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start

    return wrapper


def run(blocks: int) -> dict[str, float]:
    """Median microseconds per tx of each phase over ``blocks`` timed blocks."""
    gen = ChainGen()
    keys = [gen_key(i) for i in range(1, 64)]
    setup = [gen.block([]) for _ in range(110)]
    fan, coins = gen.fanout(BLOCK_TXS, keys[0], 4_000_000)
    setup.append(gen.block([fan]))
    raws = []
    for _ in range(blocks + 1):
        txs, new = split_txs(REGTEST, coins[:BLOCK_TXS], keys)
        coins = coins[BLOCK_TXS:] + new
        raws.append(gen.block(txs).serialize())

    spent: dict[str, float] = defaultdict(float)
    chain_mod.check_block = _timed(spent, "check_block", chain_mod.check_block)
    chain_mod.connect_block = _timed(spent, "connect", chain_mod.connect_block)
    for name, method in (
        ("coin changes", "_apply_coin_changes"),
        ("address totals", "_apply_totals"),
        ("coin stats (muhash)", "_apply_coin_stats"),
        ("batch", "connect"),
        ("batch write", "write"),
    ):
        setattr(Batch, method, _timed(spent, name, getattr(Batch, method)))

    with tempfile.TemporaryDirectory(prefix="obol-phases-") as tmp:
        db = ChainDB(tmp, "regtest")
        verifier = _timed(spent, "signatures", chain_mod.verify_sig_checks)
        chain = Chain(db, REGTEST, verifier=verifier)
        for block in setup:
            chain.process_block(block)
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 10)
        per_block: list[dict[str, float]] = []
        for n, raw in enumerate(raws):
            spent.clear()
            start = time.perf_counter()
            block = encoding.decode_block(raw)
            spent["decode"] = time.perf_counter() - start
            result = chain.process_block(block)
            total = time.perf_counter() - start
            if result.error is not None:
                raise RuntimeError(f"benchmark block rejected: {result.error}")
            if n == 0:
                continue  # warm-up
            phases = {
                "decode": spent["decode"],
                "check_block": spent["check_block"],
                "connect (no sigs)": spent["connect"] - spent["signatures"],
                "signatures": spent["signatures"],
                "coin changes": spent["coin changes"],
                "index entries": spent["batch"]
                - spent["coin changes"]
                - spent["address totals"]
                - spent["coin stats (muhash)"],
                "address totals": spent["address totals"],
                "coin stats (muhash)": spent["coin stats (muhash)"],
                "batch write": spent["batch write"],
            }
            phases["rest"] = total - sum(phases.values())
            phases["total"] = total
            per_block.append(phases)
        db.close()
    txs = BLOCK_TXS + 1
    return {
        name: statistics.median(p[name] for p in per_block) / txs * 1e6
        for name in (*PHASES, "total")
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.phases", description=__doc__)
    parser.add_argument("--blocks", type=int, default=6, help="timed blocks (one more warms up)")
    args = parser.parse_args()
    for name, us in run(args.blocks).items():
        print(f"{name:22} {us:7.1f} us/tx")


if __name__ == "__main__":
    main()
