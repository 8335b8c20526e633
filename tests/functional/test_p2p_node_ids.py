"""A loopback peer banned by node id cannot come back as a new node id without limit:
one inbound host gets only so many new ids per window (ids it has shown still count as
known)."""

from __future__ import annotations

import dataclasses

import aiohttp

from node.node import Node
from p2p.identity import NodeKey

from .p2p_helpers import RawPeer


async def test_new_node_ids_per_host_are_limited(inprocess_node: Node) -> None:
    manager = inprocess_node.p2p
    manager.settings = dataclasses.replace(manager.settings, max_new_node_ids_per_host=2)
    address = f"127.0.0.1:{manager.listen_port}"
    keys = [NodeKey.generate() for _ in range(3)]
    async with aiohttp.ClientSession() as session:
        first = await RawPeer(session, address, node_key=keys[0]).connect()
        await first.handshake()
        second = await RawPeer(session, address, node_key=keys[1]).connect()
        await second.handshake()

        third = await RawPeer(session, address, node_key=keys[2]).connect()
        await third.send(third.version())
        # Refused at once (a peer that never sends verack is only dropped after 10 s).
        assert await third.closed(timeout=5)

        await first.close()
        again = await RawPeer(session, address, node_key=keys[0]).connect()
        await again.handshake()  # an id the host has shown before is still welcome
        await again.close()
        await second.close()
