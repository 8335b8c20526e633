"""Blocks, txs and addresses travel between real nodes; a healed partition converges on the
chain with the most work."""

from __future__ import annotations

import time

import aiohttp

from p2p.messages import (
    INV_TX,
    Addr,
    GetData,
    Inv,
    InvItem,
    NetAddress,
    NotFound,
    Ping,
    Pong,
    TxMsg,
)
from tests.chain_helpers import Utxo, key, spend

from .framework import connect_nodes, disconnect_nodes, sync_blocks, sync_mempools, wait_until
from .p2p_helpers import RawPeer
from .test_node_blockchain import MINER_ADDR, OTHER, coinbase_utxo


def _send(node, height: int, to_node=None):
    """Spend the coinbase of ``height`` (mined to MINER_ADDR) and submit it to ``to_node``."""
    utxo = coinbase_utxo(node, height)
    tx = spend([utxo], [(10**8, OTHER.lock), (utxo.value - 10**8 - 20_000, key(9).lock)])
    assert (to_node or node).rpc.sendrawtransaction(tx.serialize().hex()) == tx.txid_hex
    return tx


def test_line_of_three_relays_blocks_txs_and_addresses(start_nodes):
    a, b, c = start_nodes(3, [["--no-wallet"]] * 3)
    connect_nodes(a, b)
    connect_nodes(c, b)  # a - b - c: a and c only hear of each other through b

    a.rpc.generatetoaddress(50, MINER_ADDR)
    sync_blocks([a, b, c])
    assert c.rpc.getblockcount() == 50
    assert c.rpc.getbestblockhash() == a.rpc.getbestblockhash()

    # c asked b for addresses; b knew a's, since a had connected to it
    wait_until(lambda: any(e["port"] == a.p2p_port for e in c.rpc.getnodeaddresses(0)), timeout=10)

    a.rpc.generatetoaddress(51, MINER_ADDR)  # block 1's coinbase matures
    sync_blocks([a, b, c])
    tx = _send(a, 1, to_node=c)
    wait_until(lambda: tx.txid_hex in a.rpc.getrawmempool())
    sync_mempools([a, b, c])

    (block,) = a.rpc.generatetoaddress(1, MINER_ADDR)
    assert tx.txid_hex in a.rpc.getblock(block)["tx"]
    sync_blocks([a, b, c])
    wait_until(lambda: all(n.rpc.getrawmempool() == [] for n in (a, b, c)))

    assert [p["connection_type"] for p in a.rpc.getpeerinfo()] == ["manual"]
    assert sorted(p["inbound"] for p in b.rpc.getpeerinfo()) == [True, True]
    assert c.rpc.getconnectioncount() == 1
    for peer in b.rpc.getpeerinfo():
        assert peer["bytesrecv_per_msg"].get("tx", 0) > 0 or peer["bytessent_per_msg"]["tx"] > 0
    wait_until(
        lambda: all(
            (p["synced_headers"], p["synced_blocks"]) == (102, 102) for p in b.rpc.getpeerinfo()
        ),
        timeout=10,
    )


def test_partition_heals_to_the_most_work_chain(start_nodes):
    a, c = start_nodes(2, [["--no-wallet"]] * 2)
    connect_nodes(a, c)
    a.rpc.generatetoaddress(101, MINER_ADDR)
    sync_blocks([a, c])

    disconnect_nodes(a, c)
    t1 = _send(a, 1)
    a.rpc.generatetoaddress(1, MINER_ADDR)
    t2 = _send(a, 2)
    abandoned = a.rpc.generatetoaddress(1, MINER_ADDR)
    assert t2.txid_hex in a.rpc.getblock(abandoned[0])["tx"]
    c.rpc.generatetoaddress(4, MINER_ADDR)  # 105 > 103: c's side has more work
    assert a.rpc.getrawmempool() == []

    connect_nodes(a, c)
    sync_blocks([a, c])
    assert a.rpc.getblockcount() == 105
    tips = {t["hash"]: t["status"] for t in a.rpc.getchaintips()}
    assert tips[abandoned[0]] == "valid-fork"
    # The txs of the abandoned blocks are back in a's mempool...
    assert sorted(a.rpc.getrawmempool()) == sorted([t1.txid_hex, t2.txid_hex])
    # ...and mined again.
    (block,) = a.rpc.generatetoaddress(1, MINER_ADDR)
    assert {t1.txid_hex, t2.txid_hex} <= set(a.rpc.getblock(block)["tx"])
    sync_blocks([a, c])
    assert a.rpc.getrawmempool() == [] and c.rpc.getrawmempool() == []
    assert c.rpc.getrawtransaction(t1.txid_hex, True)["blockhash"] == block


def test_txs_sent_during_a_partition_cross_after_it(start_nodes):
    """Nothing re-announced such a tx before: a new peer is now told of the mempool, and
    sendrawtransaction of a tx already in the mempool announces it again (as Core)."""
    a, c = start_nodes(2, [["--no-wallet"]] * 2)
    connect_nodes(a, c)
    a.rpc.generatetoaddress(102, MINER_ADDR)
    sync_blocks([a, c])
    disconnect_nodes(a, c)
    stranded = _send(a, 1, to_node=c)
    assert a.rpc.getrawmempool() == []

    connect_nodes(a, c)
    wait_until(lambda: a.rpc.getrawmempool() == [stranded.txid_hex])
    (block,) = a.rpc.generatetoaddress(1, MINER_ADDR)
    assert stranded.txid_hex in a.rpc.getblock(block)["tx"]
    sync_blocks([a, c])
    assert c.rpc.getrawmempool() == []

    again = _send(a, 2)
    sync_mempools([a, c])
    assert c.rpc.sendrawtransaction(again.serialize().hex()) == again.txid_hex


async def test_orphan_parents_come_from_the_announcing_peer(start_nodes):
    (node,) = start_nodes(1, [["--no-wallet"]])
    node.rpc.generatetoaddress(101, MINER_ADDR)
    utxo = coinbase_utxo(node, 1)
    parent = spend([utxo], [(utxo.value - 20_000, key(9).lock)])
    child = spend([Utxo(parent.txid, 0, utxo.value - 20_000, key(9))], [(10**8, OTHER.lock)])

    async with aiohttp.ClientSession() as session:
        peer = await RawPeer(session, node.p2p_address).connect()
        await peer.handshake()
        # Only the child is announced: the node fetches it, finds it an orphan, and asks
        # the same peer for the parent.
        await peer.send(Inv((InvItem(INV_TX, child.txid),)))
        request = await peer.expect(GetData)
        assert request.items == (InvItem(INV_TX, child.txid),)
        await peer.send(TxMsg(child))
        request = await peer.expect(GetData)
        assert request.items == (InvItem(INV_TX, parent.txid),)
        await peer.send(TxMsg(parent))
        wait_until(lambda: len(node.rpc.getrawmempool()) == 2, timeout=10)
        assert sorted(node.rpc.getrawmempool()) == sorted([parent.txid_hex, child.txid_hex])

        # What the node does not have comes back as notfound; what it has, as the data.
        unknown = InvItem(INV_TX, bytes(32))
        await peer.send(GetData((unknown, InvItem(INV_TX, child.txid))))
        assert (await peer.expect(TxMsg)).tx == child
        assert (await peer.expect(NotFound)).items == (unknown,)

        # Unsolicited addresses are rate-limited: one token to start with, 0.1 per second.
        now = int(time.time())
        gossip = tuple(NetAddress(now, f"10.9.0.{n}", 19444) for n in range(1, 6))
        await peer.send(Addr(gossip))
        await peer.send(Ping(7))
        await peer.expect(Pong)
        (info,) = node.rpc.getpeerinfo()
        assert (info["addr_processed"], info["addr_rate_limited"]) == (1, 4)
        assert info["bytesrecv_per_msg"]["tx"] > 0
        await peer.close()

        # A peer that connects later hears of the whole mempool, parents first, so txs made
        # while it was away (a partition) are not stranded.
        late = await RawPeer(session, node.p2p_address).connect()
        await late.handshake()
        announced = await late.expect(Inv)
        assert announced.items == (InvItem(INV_TX, parent.txid), InvItem(INV_TX, child.txid))
        await late.close()
