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
    # Read-only to the wallets.
    @property
    def params(self) -> NetworkParams: ...

    @property
    def config(self) -> NodeConfig: ...  # where wallet files live, whether to load one

    @property
    def policy(self) -> Policy: ...  # dust and fee limits the wallet's txs must meet

    @property
    def clock(self) -> Clock: ...

    @property
    def chain(self) -> Chain: ...  # the address index and coins (chain thread, or atomic)

    @property
    def mempool(self) -> Mempool: ...

    @property
    def p2p(self) -> PeerManager | None: ...  # to announce txs again; None while P2P is off

    async def submit_tx(self, tx: Tx, *, allow_orphan: bool = False) -> list[Tx]: ...
