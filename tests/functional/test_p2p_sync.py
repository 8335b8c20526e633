"""Catching up: a new node syncs a long chain headers-first with bodies from two peers; a
restarted node finds its peers again and catches up."""

from __future__ import annotations

import pytest

from .framework import connect_nodes, node_id, peers_with, sync_blocks, wait_until
from .test_node_blockchain import MINER_ADDR

LONG_CHAIN = 2000


@pytest.mark.slow
def test_new_node_syncs_2000_blocks_from_two_peers(start_nodes):
    a, b = start_nodes(2, [["--no-wallet"]] * 2)
    connect_nodes(b, a)
    for _ in range(LONG_CHAIN // 1000):
        a.rpc.generatetoaddress(1000, MINER_ADDR)
    sync_blocks([a, b], timeout=120)

    (c,) = start_nodes(1, [["--no-wallet"]])
    connect_nodes(c, a)
    connect_nodes(c, b)
    sync_blocks([a, b, c], timeout=120)
    assert c.rpc.getblockcount() == LONG_CHAIN
    assert (
        c.rpc.gettxoutsetinfo()["hash_serialized_3"] == a.rpc.gettxoutsetinfo()["hash_serialized_3"]
    )
    info = c.rpc.getblockchaininfo()
    assert info["headers"] == info["blocks"] == LONG_CHAIN

    peers = c.rpc.getpeerinfo()
    assert len(peers) == 2
    # Headers first: c's whole header chain came in getheaders replies of 2,000 at most...
    assert sum(p["bytesrecv_per_msg"].get("headers", 0) for p in peers) >= LONG_CHAIN * 80
    # ...and bodies from both peers.
    for peer in peers:
        assert peer["bytesrecv_per_msg"].get("block", 0) > 0, peer
        assert peer["synced_headers"] == LONG_CHAIN
        assert peer["inflight"] == []


def test_restarted_node_reconnects_and_catches_up(start_nodes):
    a, b = start_nodes(2, [["--no-wallet"]] * 2)
    (c,) = start_nodes(1, [["--no-wallet", "--connect", b.p2p_address]])
    connect_nodes(a, b)  # a dialed b: b is one of a's anchors
    b_id = node_id(b)
    wait_until(lambda: peers_with(c, b_id))
    a.rpc.generatetoaddress(5, MINER_ADDR)
    sync_blocks([a, b, c])

    # a restarts (same datadir, no --connect): it redials the peers it had.
    a.stop()
    b.rpc.generatetoaddress(3, MINER_ADDR)
    a.start()
    sync_blocks([a, b, c])
    assert a.rpc.getblockcount() == 8
    assert [p["addr"] for p in a.rpc.getpeerinfo()] == [b.p2p_address]

    # b restarts: c keeps redialing its --connect target, and catches up with b.
    b.stop()
    wait_until(lambda: not peers_with(c, b_id))
    b.start()
    wait_until(lambda: peers_with(c, b_id), timeout=30)
    b.rpc.generatetoaddress(2, MINER_ADDR)
    sync_blocks([b, c])
    assert c.rpc.getblockcount() == 10
    added = c.rpc.getaddednodeinfo()
    assert added == [
        {
            "addednode": b.p2p_address,
            "connected": True,
            "addresses": [{"address": b.p2p_address, "connected": "outbound"}],
        }
    ]
