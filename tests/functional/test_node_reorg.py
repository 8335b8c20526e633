"""invalidateblock / reconsiderblock on a real node: reorgs move txs back to the mempool."""

from __future__ import annotations

from tests.chain_helpers import spend

from .test_node_blockchain import MINER_ADDR, OTHER, coinbase_utxo


def _send(node, height: int):
    utxo = coinbase_utxo(node, height)
    tx = spend([utxo], [(utxo.value - 10_000, OTHER.lock)])
    assert node.rpc.sendrawtransaction(tx.serialize().hex()) == tx.txid_hex
    return tx


def test_invalidate_reorg_and_reconsider(start_nodes):
    (node,) = start_nodes(1, [["--no-wallet"]])
    node.rpc.generatetoaddress(101, MINER_ADDR)
    t1 = _send(node, 1)
    (b102,) = node.rpc.generatetoaddress(1, MINER_ADDR)
    t2 = _send(node, 2)
    node.rpc.generatetoaddress(4, MINER_ADDR)
    assert node.rpc.getblockcount() == 106
    old_tip = node.rpc.getbestblockhash()
    assert t1.txid_hex in node.rpc.getblock(b102)["tx"]

    # 5 deep: 102..106 leave the chain, their txs return to the mempool
    node.rpc.invalidateblock(b102)
    assert node.rpc.getblockcount() == 101
    assert sorted(node.rpc.getrawmempool()) == sorted([t1.txid_hex, t2.txid_hex])
    tips = {t["hash"]: t for t in node.rpc.getchaintips()}
    assert tips[old_tip]["status"] == "invalid"

    # a shorter competing branch re-mines both txs
    branch = node.rpc.generatetoaddress(3, MINER_ADDR)
    assert node.rpc.getblockcount() == 104
    assert node.rpc.getrawmempool() == []
    mined = set(node.rpc.getblock(branch[0])["tx"])
    assert {t1.txid_hex, t2.txid_hex} <= mined

    # reconsider: the original 106-block chain has the most work and wins again
    node.rpc.reconsiderblock(b102)
    assert node.rpc.getbestblockhash() == old_tip
    assert node.rpc.getblockcount() == 106
    assert node.rpc.getrawmempool() == []
    tips = {t["hash"]: t for t in node.rpc.getchaintips()}
    assert tips[old_tip]["status"] == "active"
    assert tips[branch[-1]]["status"] == "valid-fork"
    assert tips[branch[-1]]["branchlen"] == 3

    # and a longer competing branch takes over for good
    node.rpc.invalidateblock(b102)
    longer = node.rpc.generatetoaddress(3, MINER_ADDR)  # 104 + 3 = 107 > 106
    assert node.rpc.getblockcount() == 107
    node.rpc.reconsiderblock(b102)
    assert node.rpc.getbestblockhash() == longer[-1]
    assert node.rpc.gettxout(t1.txid_hex, 0)["confirmations"] == 6
