"""The wallet announces its unconfirmed txs again, and puts back those the mempool lost
(Bitcoin Core's ResendWalletTransactions)."""

from __future__ import annotations

from pathlib import Path

from consensus.params import REGTEST
from consensus.primitives import TxOut
from node.config import NodeConfig
from node.node import Node
from node.wallets.manager import DEFAULT_WALLET
from tests.chain_helpers import key


async def test_rebroadcast_resubmits_lost_txs_and_announces_them(tmp_path: Path) -> None:
    config = NodeConfig(params=REGTEST, datadir=tmp_path, rpc_port=0, p2p_port=0)
    node = Node(config)
    await node.start()
    try:
        manager = node.wallets
        lw = manager.resolve(DEFAULT_WALLET)
        await node.generate(101, await manager.default_mining_lock())
        tx, _ = await manager.send(lw, [TxOut(10**8, key(5).lock)], None)
        announced = []
        node.p2p.relay_txs = announced.extend  # what the peers would be told

        node.mempool._remove({tx.txid})  # lost, as if evicted or never relayed
        assert tx.txid not in node.mempool
        assert await manager.rebroadcast(lw) == 1
        assert tx.txid in node.mempool
        announced.clear()
        assert await manager.rebroadcast(lw) == 1  # still unconfirmed: announced again
        assert [t.txid for t in announced] == [tx.txid]

        await node.generate(1, key(6).lock)
        announced.clear()
        assert await manager.rebroadcast(lw) == 0  # confirmed: nothing to say
        assert announced == []
    finally:
        await node.stop()
