"""What the RPC methods may ask of a node: the one interface they are written against.

``Node`` (node/node.py) provides it; the methods never import it, so what RPC can reach
is listed here and checked by mypy, as btcd's rpcserver reaches the node only through
interfaces such as ``rpcserverConnManager``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from consensus.params import NetworkParams
    from consensus.primitives import Block, Tx
    from p2p.manager import PeerManager

    from ..chain.manager import BlockResult, Chain, ChainUpdate
    from ..clock import Clock
    from ..crowdfund.campaigns import Campaigns
    from ..mempool.policy import Policy
    from ..mempool.pool import Mempool
    from ..mining.miner import BlockTemplate, PowSolver
    from ..wallets.manager import WalletManager

T = TypeVar("T")


class NodeServices(Protocol):
    # What the node is and knows: read-only to RPC, but for ``export_dir``.
    @property
    def params(self) -> NetworkParams: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def chain(self) -> Chain: ...

    @property
    def mempool(self) -> Mempool: ...

    @property
    def wallets(self) -> WalletManager: ...

    @property
    def campaigns(self) -> Campaigns: ...

    @property
    def p2p(self) -> PeerManager | None: ...  # None while P2P is off

    @property
    def solver(self) -> PowSolver: ...

    @property
    def started_at(self) -> float: ...  # time.monotonic() at start

    @property
    def export_lock(self) -> asyncio.Lock: ...  # one export at a time

    export_dir: Path | None  # where exportchain last wrote

    # The chain thread: chain and database work runs there, never on the event loop.
    async def in_chain_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    async def chain_call(self, fn: Callable[..., ChainUpdate], *args: Any) -> ChainUpdate: ...

    # Submitting blocks and transactions, as peers do.
    async def submit_block(self, block: Block) -> BlockResult: ...

    async def submit_raw_block(
        self, data: bytes, precheck: Callable[[Block], None] | None = None
    ) -> BlockResult: ...

    async def submit_tx(self, tx: Tx, *, allow_orphan: bool = False) -> list[Tx]: ...

    def fees_of(self, txs: list[Tx]) -> int: ...

    # Mining.
    @property
    def mining(self) -> bool: ...

    def set_mining(self, lock: bytes | None, interval: float | None = None) -> None: ...

    def stop_mining(self) -> None: ...

    async def default_mining_lock(self) -> bytes | None: ...

    def block_template(self, lock: bytes) -> BlockTemplate: ...

    async def generate(
        self, count: int, lock: bytes, max_tries: int = 1_000_000
    ) -> list[Block]: ...

    async def solve_fixed_block(self, block: Block) -> Block: ...

    # The node itself.
    def initial_block_download(self) -> bool: ...

    def disk_usage(self) -> int: ...

    def request_stop(self) -> None: ...
