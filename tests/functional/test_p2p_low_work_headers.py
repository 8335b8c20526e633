"""A peer cannot fill the disk with headers of a branch that has less work than ours: past
a budget they are refused and the peer is scored (the threat Core's headers pre-sync
answers; at regtest's target such a branch costs nothing to make)."""

from __future__ import annotations

import dataclasses

import aiohttp

from node.node import Node
from p2p.messages import Headers, Ping, Pong
from tests.chain_helpers import ChainBuilder, key

from .p2p_helpers import RawPeer


async def test_low_work_headers_are_bounded_per_peer(inprocess_node: Node) -> None:
    node = inprocess_node
    await node.generate(12, key(7).lock)
    sync = node.p2p.sync
    sync.settings = dataclasses.replace(sync.settings, max_low_work_headers_per_peer=5)
    fork = ChainBuilder()
    headers = [fork.mine(miner=key(9)).header for _ in range(8)]  # 8 blocks < our 12

    async with aiohttp.ClientSession() as session:
        peer = await RawPeer(session, f"127.0.0.1:{node.p2p.listen_port}").connect()
        await peer.handshake()
        await peer.send(Headers(tuple(headers[:4])))
        await peer.send(Ping(76))
        assert (await peer.expect(Pong)).nonce == 76  # the headers were handled before it
        assert all(h.hash in node.chain.index for h in headers[:4])

        await peer.send(Headers(tuple(headers[4:])))  # 4 + 4 > 5: refused
        await peer.send(Ping(77))
        assert (await peer.expect(Pong)).nonce == 77  # the headers were handled before it
        assert not any(h.hash in node.chain.index for h in headers[4:])
        (remote,) = node.p2p.peers.values()
        assert remote.misbehavior == 20
        await peer.close()
