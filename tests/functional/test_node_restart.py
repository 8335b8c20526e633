"""What a node does when it starts on the state a kill left behind."""

from __future__ import annotations

from node.node import Node
from tests.chain_helpers import key


async def test_start_activates_the_best_chain_after_a_half_done_invalidate(
    inprocess_node: Node,
) -> None:
    """A kill during invalidateblock of a deep block can leave blocks disconnected but not
    yet marked invalid: on start the node must move back to the best valid chain, not
    wait on the half-way tip for the next block."""
    node = inprocess_node
    blocks = await node.generate(5, key(7).lock)
    for _ in range(3):  # what invalidate_block does before it marks the block failed
        await node.in_chain_thread(node.chain._disconnect_tip)
    assert node.chain.height == 2
    await node.stop()
    again = Node(node.config)
    await again.start()
    try:
        assert again.chain.height == 5
        assert again.chain.tip.hash == blocks[-1].hash
    finally:
        await again.stop()
