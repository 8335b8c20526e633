"""Block connection and mempool acceptance, measured on a real node over RPC.

``block_connect_cold``: ``submitblock`` of blocks of 2,000 one-in-two-out Ed25519 txs the
node has never seen (every signature verified). ``block_connect_warm``: the same shape,
after every tx went through ``sendrawtransaction`` (which is also what
``mempool_accept`` measures). ``block_connect_secp256k1``: the cold shape with secp256k1
txs (libsecp256k1 verifies about as fast as libsodium's Ed25519). Each figure is txs over
the wall time of the ``submitblock`` call: decoding, validation, the database batch and the
mempool update, as a caller waits for them.

While blocks are submitted, a prober asks ``getblockcount`` every few milliseconds on its
own connection: the slowest answer shows whether validation ever holds up the RPC server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from consensus.params import REGTEST
from consensus.primitives import Block, Tx
from consensus.signatures import SECP256K1

from .chaingen import FEE, ChainGen, gen_key, split_txs
from .httpload import http_request, run_load
from .nodeproc import BenchNode

BLOCK_TXS = 2000
SECP_BLOCK_TXS = 2000
MEMPOOL_CONNECTIONS = 8


@dataclass
class BlockFigures:
    cold: list[float] = field(default_factory=list)  # tx/s per block
    warm: list[float] = field(default_factory=list)
    secp: list[float] = field(default_factory=list)
    mempool: list[float] = field(default_factory=list)  # tx/s per block's worth of txs
    probe_max_ms: float = 0.0  # slowest getblockcount while blocks were being connected
    probe_p99_ms: float = 0.0


class Prober:
    """Calls ``getblockcount`` every ``interval`` s on its own connection, in a thread."""

    def __init__(self, node: BenchNode, interval: float = 0.005) -> None:
        self._client = node.client()
        self._interval = interval
        self._stop = threading.Event()
        self.latencies: list[float] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            self._client.call("getblockcount")
            self.latencies.append(time.perf_counter() - start)
            self._stop.wait(self._interval)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()


def _submit(client, block: Block) -> float:
    """Seconds ``submitblock`` took; raises unless the block was accepted."""
    data = block.serialize().hex()
    start = time.perf_counter()
    result = client.call("submitblock", [data])
    seconds = time.perf_counter() - start
    if result is not None:
        raise RuntimeError(f"benchmark block rejected: {result}")
    return seconds


async def _send_all(node: BenchNode, txs: list[Tx]) -> float:
    """tx/s of ``sendrawtransaction`` for ``txs`` over several keep-alive connections."""
    auth = node.auth()
    requests = iter(
        [
            http_request(
                "/",
                json.dumps(
                    {"id": 1, "method": "sendrawtransaction", "params": [tx.serialize().hex()]}
                ).encode(),
                auth,
            )
            for tx in txs
        ]
    )
    result = await run_load(node.rpc_port, requests, MEMPOOL_CONNECTIONS)
    if result.errors or result.requests != len(txs):
        raise RuntimeError(f"sendrawtransaction failed: {result.first_error[:300]!r}")
    return result.rate


def run(
    node: BenchNode,
    reps: int,
    log: Callable[[str], None],
    between: Callable[[], object],
    between_secp: Callable[[], object],
) -> BlockFigures:
    """Build the chain, then measure cold, warm (and mempool) and secp256k1 blocks.

    ``between`` runs before each cold block and after the last (ceiling samples that
    bracket each block), ``between_secp`` the same around the timed secp256k1 blocks.
    """
    figures = BlockFigures()
    gen = ChainGen()
    client = node.client()
    for _ in range(110):
        _submit(client, gen.block([]))
    keys = [gen_key(i) for i in range(1, 64)]
    secp_keys = [gen_key(1000 + i, SECP256K1.key_type) for i in range(8)]
    fan, coins = gen.fanout(BLOCK_TXS, keys[0], 4_000_000)
    secp_fan, secp_coins = gen.fanout(SECP_BLOCK_TXS * (reps + 1), secp_keys[0], 100_000)
    _submit(client, gen.block([fan, secp_fan]))

    def next_block_txs() -> list[Tx]:
        nonlocal coins
        txs, new = split_txs(REGTEST, coins[:BLOCK_TXS], keys)
        coins = coins[BLOCK_TXS:] + new
        return txs

    # Signed before anything is timed (libsecp256k1 signs 2,000 txs in a fraction of a
    # second), so that no signing competes with the node for the cores.
    secp_blocks = [
        split_txs(REGTEST, secp_coins[i * SECP_BLOCK_TXS : (i + 1) * SECP_BLOCK_TXS], secp_keys)[0]
        for i in range(reps + 1)
    ]

    with Prober(node) as prober:
        # One untimed block first: it launches the node's signature workers.
        _submit(client, gen.block(next_block_txs()))
        for i in range(reps):
            block = gen.block(next_block_txs())
            between()
            seconds = _submit(client, block)
            figures.cold.append(BLOCK_TXS / seconds)
            log(f"  cold block {i + 1}/{reps}: {BLOCK_TXS / seconds:,.0f} tx/s")
        between()
        for i in range(reps):
            txs = next_block_txs()
            figures.mempool.append(asyncio.run(_send_all(node, txs)))
            seconds = _submit(client, gen.block(txs))
            figures.warm.append(BLOCK_TXS / seconds)
            log(
                f"  warm block {i + 1}/{reps}: {BLOCK_TXS / seconds:,.0f} tx/s "
                f"(mempool {figures.mempool[-1]:,.0f} tx/s)"
            )
        for i, txs in enumerate(secp_blocks):
            if i:  # the first is a warm-up, like the Ed25519 one
                between_secp()
            seconds = _submit(client, gen.block(txs, fees=FEE * len(txs)))
            if i:
                figures.secp.append(len(txs) / seconds)
                log(f"  secp256k1 block {i}/{reps}: {len(txs) / seconds:,.0f} tx/s")
        between_secp()
    client.close()
    latencies = sorted(prober.latencies)
    figures.probe_max_ms = latencies[-1] * 1000
    figures.probe_p99_ms = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    return figures
