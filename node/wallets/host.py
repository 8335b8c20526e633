"""What the wallets may ask of the node they live in: the one interface ``WalletManager``
(and the contract and pledge flows that go through it) is written against. ``Node``
provides it; the wallets never import it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from consensus.params import NetworkParams
    from consensus.primitives import Tx
    from p2p.manager import PeerManager

    from ..chain.manager import Chain
    from ..clock import Clock
    from ..config import NodeConfig
    from ..mempool.policy import Policy
    from ..mempool.pool import Mempool


class WalletHost(Protocol):
    params: NetworkParams
    config: NodeConfig  # where wallet files live (netdir) and whether to load one
    policy: Policy  # dust and fee limits the wallet's txs must meet
    clock: Clock
    chain: Chain  # the address index and coins, read on the chain thread or atomically
    mempool: Mempool
    p2p: PeerManager | None  # to announce the wallet's txs again; None while P2P is off

    async def submit_tx(self, tx: Tx, *, allow_orphan: bool = False) -> list[Tx]: ...
