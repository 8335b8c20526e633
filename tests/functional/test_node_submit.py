"""Node.submit_block under concurrency: blocks submitted while the chain thread is busy
queue up and are handed over together, yet each caller gets its own block's verdict, the
blocks connect in submission order, and the mempool follows every connected block."""

from __future__ import annotations

import asyncio

from consensus.builder import make_coinbase
from consensus.errors import RejectCode
from consensus.primitives import Block, TxOut
from node.node import SYNC_DELAY, Node
from tests.chain_helpers import ChainBuilder, key, spend


async def test_blocks_submitted_at_once_get_own_verdicts_in_order(inprocess_node: Node) -> None:
    node = inprocess_node
    builder = ChainBuilder()
    builder.mine_empty(110)
    blocks = builder.blocks[1:]
    # The body of block 50 under a coinbase that does not match its header's merkle root:
    # a mutated block, rejected without blacklisting its hash.
    mutated = Block(blocks[49].header, (make_coinbase(50, [TxOut(1, key(9).lock)]),))
    submissions = [*blocks[:49], mutated, *blocks[49:], blocks[10]]

    results = await asyncio.gather(*(node.submit_block(b) for b in submissions))

    statuses = [r.status for r in results]
    assert statuses[:49] == ["accepted"] * 49
    assert statuses[49] == "invalid"
    assert results[49].error is not None
    assert results[49].error.code is RejectCode.BLOCK_BAD_MERKLE_ROOT
    assert statuses[50:-1] == ["accepted"] * 61
    assert statuses[-1] == "duplicate"
    assert [r.block_hash for r in results] == [b.hash for b in submissions]
    assert node.chain.height == 110
    assert node.chain.tip.hash == blocks[-1].hash


async def test_queued_blocks_update_the_mempool(inprocess_node: Node) -> None:
    node = inprocess_node
    builder = ChainBuilder()
    builder.mine_empty(101)
    for block in builder.blocks[1:]:
        assert (await node.submit_block(block)).status == "accepted"
    tx = spend([builder.coinbase_utxo(1)], [(10**8, key(5).lock)])
    await node.submit_tx(tx)
    assert tx.txid in node.mempool
    confirming = builder.mine([tx])
    later = [builder.mine() for _ in range(3)]

    results = await asyncio.gather(*(node.submit_block(b) for b in [confirming, *later]))

    assert [r.status for r in results] == ["accepted"] * 4
    assert tx.txid not in node.mempool
    assert node.chain.height == 105


async def test_generate_mines_again_when_another_miner_wins_the_tip(inprocess_node: Node) -> None:
    """A localnet node auto-mines while `generate` runs: a block found on the same parent
    just before ours wins the tie, and generate must mine on the new tip, not fail."""
    node = inprocess_node
    solve = node.solver.solve
    raced = []

    async def solve_then_lose_the_race(template, **kwargs):
        block = await solve(template, **kwargs)
        if not raced:
            node.solver.solve = solve  # the other miner solves in the plain way, and first
            raced.append(await node.mine_one(key(8).lock))
        return block

    node.solver.solve = solve_then_lose_the_race
    blocks = await node.generate(2, key(7).lock)
    assert len(blocks) == 2 and raced[0] is not None
    assert node.chain.height == 3
    assert node.chain.tip.hash == blocks[-1].hash


async def test_peers_blocks_are_synced_within_the_delay(inprocess_node: Node) -> None:
    """Blocks from peers (durable=False) are answered before they reach the disk, and
    synced SYNC_DELAY later; a block mined or given by RPC is synced before its verdict."""
    node = inprocess_node
    assert node.db is not None
    builder = ChainBuilder()
    builder.mine_empty(6)
    blocks = builder.blocks[1:]
    for block in blocks[:5]:
        assert (await node.submit_block(block, durable=False)).status == "accepted"
    assert node.db.unsynced is True
    deadline = asyncio.get_running_loop().time() + SYNC_DELAY + 5
    while node.db.unsynced and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert node.db.unsynced is False
    assert (await node.submit_block(blocks[5])).status == "accepted"
    assert node.db.unsynced is False
