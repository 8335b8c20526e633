"""What a cached coin costs in resident memory: ``python -m bench.cachemem [COINS]``.

Fills a ``CoinCache`` of ``COINS`` coins three times over with block-shaped changes (20 txs
of two new coins each, each tx spending one earlier coin), the churn a sync puts it
through, then gives free memory back (``release_free_memory``) and prints the growth of
anonymous memory per cached coin. ``node/config.py`` sizes the coin cache of
``--dbcache`` by this figure. Run in a fresh process: the figure is the process's own.
"""

from __future__ import annotations

import gc
import random
import subprocess
import sys

from consensus.coins import new_coin
from consensus.params import REGTEST
from node.chain.coincache import CoinCache
from node.config import NodeConfig
from node.memory import release_free_memory

from .nodeproc import ROOT, proc_status_kb


def measure(coins: int) -> float:
    """Bytes of anonymous memory per cached coin, in this process."""
    rng = random.Random(1)
    cache = CoinCache(lambda key: None, coins)
    release_free_memory()
    base = proc_status_kb("self")["RssAnon"]
    spendable: list[bytes] = []
    for height in range(1, 3 * coins // 40 + 1):
        changes: dict = {}
        for _ in range(20):
            txid = rng.randbytes(32)
            for index in range(2):
                key = txid + index.to_bytes(4, "little")
                value = rng.randrange(10**6, 10**9)
                changes[key] = new_coin(value, rng.randbytes(21), height, False)
            if spendable:
                i = rng.randrange(len(spendable))
                spendable[i], spendable[-1] = spendable[-1], spendable[i]
                changes[spendable.pop()] = None
        spendable += [key for key, coin in changes.items() if coin is not None]
        del spendable[: max(0, len(spendable) - coins)]  # keep only coins the cache may hold
        cache.apply(changes)
    del spendable
    gc.collect()
    release_free_memory()
    return (proc_status_kb("self")["RssAnon"] - base) * 1024 / len(cache)


def bytes_per_coin(coins: int) -> float:
    """``measure(coins)`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.cachemem", str(coins)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(out.stdout.split()[0])


if __name__ == "__main__":
    default = NodeConfig(REGTEST, ROOT).coin_cache_coins  # what the default --dbcache keeps
    print(f"{measure(int(sys.argv[1]) if len(sys.argv) > 1 else default):.0f} bytes per coin")
