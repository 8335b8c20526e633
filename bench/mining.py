"""The node's miner (``PowSolver``) searching an unreachable target: hashes per second.

The solver is driven as the node drives it: chunks of nonces to worker processes, stale
checks, extranonce rolls. The solver counts hashes as chunks complete; a sample is the
hashes counted between the first and the last completion it sees, over the time between
them, so start-up and the unfinished chunks at either end cancel out.
"""

from __future__ import annotations

import asyncio
import time

from consensus.params import REGTEST
from node.mining.miner import BlockTemplate, PowSolver

from .chaingen import gen_key

# A target no hash meets (the search never ends by finding a block).
_IMPOSSIBLE_BITS = 0x03000001


def _template() -> BlockTemplate:
    return BlockTemplate(
        prev_hash=bytes(32),
        height=1,
        time=int(time.time()),
        bits=_IMPOSSIBLE_BITS,
        txs=(),
        tx_fees=(),
        coinbase_lock=gen_key(0).lock,
        subsidy=REGTEST.initial_subsidy,
    )


async def _sample(solver: PowSolver, chunks: int) -> float:
    goal = solver.hashes_done + (chunks * solver.workers + 1) * solver.chunk_size
    marks: list[tuple[float, int]] = []

    def stale() -> bool:
        done = solver.hashes_done
        if not marks or marks[-1][1] != done:
            marks.append((time.perf_counter(), done))
        return done >= goal

    await solver.solve(_template(), is_stale=stale)
    (t0, h0), (t1, h1) = marks[1], marks[-1]
    return (h1 - h0) / (t1 - t0)


async def _run(workers: int, reps: int, chunks: int) -> list[float]:
    async with PowSolver(workers=workers) as solver:
        await _sample(solver, 1)  # launches the workers
        return [await _sample(solver, chunks) for _ in range(reps)]


def hashrates(workers: int, reps: int, chunks: int = 4) -> list[float]:
    """``reps`` samples of the solver's hash rate with ``workers`` processes."""
    return asyncio.run(_run(workers, reps, chunks))
