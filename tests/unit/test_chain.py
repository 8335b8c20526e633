"""The chain manager on a real LevelDB in a temp dir, fed blocks built in memory."""

from __future__ import annotations

import dataclasses

import pytest

from consensus.errors import RejectCode
from consensus.params import REGTEST
from node.chain.manager import MAX_ORPHAN_BLOCKS, Chain
from node.chain.storage import ChainDB, StorageError
from tests.chain_helpers import ChainBuilder, key, spend


@pytest.fixture
def db(tmp_path):
    database = ChainDB(str(tmp_path / "db"), "regtest")
    yield database
    database.close()


def fork_of(builder: ChainBuilder, height: int) -> ChainBuilder:
    other = ChainBuilder()
    for block in builder.blocks[1 : height + 1]:
        other.connect(block)
    return other


def test_extends_and_reorgs_to_more_work(db):
    chain = Chain(db, REGTEST)
    main = ChainBuilder()
    for _ in range(5):
        assert chain.process_block(main.mine()).status == "accepted"
    side = fork_of(main, 3)
    results = [chain.process_block(side.mine(miner=key(9))) for _ in range(3)]
    assert [r.status for r in results] == ["inconclusive", "inconclusive", "accepted"]
    assert results[2].update.reorg_depth == 2
    assert chain.tip.hash == side.tip.hash
    assert dict(db.coins()) == side.view.coins


def test_equal_work_keeps_the_first_seen(db):
    chain = Chain(db, REGTEST)
    main = ChainBuilder()
    chain.process_block(main.mine())
    side = fork_of(main, 0)
    result = chain.process_block(side.mine(miner=key(9)))
    assert result.status == "inconclusive"
    assert chain.tip.hash == main.tip.hash


def test_out_of_order_bodies_connect_once_complete(db):
    chain = Chain(db, REGTEST)
    builder = ChainBuilder()
    blocks = [builder.mine() for _ in range(4)]
    for block in blocks:
        chain.accept_header(block.header)
    for block in reversed(blocks[1:]):
        chain.process_block(block)
    assert chain.height == 0
    chain.process_block(blocks[0])
    assert chain.height == 4


def test_orphans_wait_for_their_parent_and_are_bounded(db):
    chain = Chain(db, REGTEST)
    builder = ChainBuilder()
    blocks = [builder.mine() for _ in range(3)]
    assert chain.process_block(blocks[2]).status == "orphan"
    assert chain.process_block(blocks[1]).status == "orphan"
    result = chain.process_block(blocks[0])
    assert result.status == "accepted"
    assert chain.height == 3
    assert not chain.orphans
    other = ChainBuilder()
    many = [other.mine(miner=key(3)) for _ in range(MAX_ORPHAN_BLOCKS + 10)]
    for block in many[1:]:
        chain.process_block(block)
    assert len(chain.orphans) == MAX_ORPHAN_BLOCKS


def test_invalid_block_and_descendants_are_remembered(db):
    chain = Chain(db, REGTEST)
    main = ChainBuilder()
    main.mine_empty(101)
    for block in main.blocks[1:]:
        chain.process_block(block)
    utxo = main.coinbase_utxo(1)
    good = spend([utxo], [(utxo.value - 1000, key(5).lock)])
    bad_sig = dataclasses.replace(good.inputs[0], sig=bytes(64))
    bad_tx = dataclasses.replace(good, inputs=(bad_sig,))
    bad = main.build([bad_tx])
    result = chain.process_block(bad)
    assert result.status == "invalid"
    assert result.error.code is RejectCode.TX_BAD_SIGNATURE
    assert chain.height == 101
    assert chain.index[bad.hash].failed
    again = chain.process_block(bad)
    assert again.status == "invalid"
    # the same height with a valid block still connects
    assert chain.process_block(main.mine([good])).status == "accepted"


def test_mutated_body_does_not_blacklist_the_header(db):
    chain = Chain(db, REGTEST)
    main = ChainBuilder()
    main.mine_empty(101)
    for block in main.blocks[1:]:
        chain.process_block(block)
    utxo = main.coinbase_utxo(1)
    tx = spend([utxo], [(utxo.value - 1000, key(5).lock)])
    real = main.build([tx])
    broken_tx = dataclasses.replace(tx, locktime=1)
    mutated = dataclasses.replace(real, txs=(real.txs[0], broken_tx))
    assert mutated.hash == real.hash
    result = chain.process_block(mutated)
    assert result.error.code is RejectCode.BLOCK_BAD_MERKLE_ROOT
    assert chain.process_block(real).status == "accepted"


def test_invalidate_and_reconsider(db):
    chain = Chain(db, REGTEST)
    main = ChainBuilder()
    for _ in range(6):
        chain.process_block(main.mine())
    update = chain.invalidate_block(main.blocks[2].hash)
    assert chain.height == 1
    assert len(update.disconnected) == 5
    update = chain.reconsider_block(main.blocks[2].hash)
    assert chain.height == 6
    assert len(update.connected) == 5


def open_chain(path: str) -> tuple[ChainDB, Chain]:
    db = ChainDB(path, "regtest")
    return db, Chain(db, REGTEST)


def mined_chain(path: str, blocks: int) -> tuple[ChainDB, Chain, ChainBuilder]:
    """A new chain database at ``path`` with ``blocks`` blocks mined on it."""
    db, chain = open_chain(path)
    main = ChainBuilder()
    for _ in range(blocks):
        chain.process_block(main.mine())
    return db, chain, main


def test_forks_have_every_child_for_tips_and_invalidation(tmp_path):
    path = str(tmp_path / "db")
    db, chain, main = mined_chain(path, 3)
    # Three branches on block 1: the main chain and two forks of one and two blocks.
    forks = [fork_of(main, 1), fork_of(main, 1)]
    for n, fork in enumerate(forks):
        for _ in range(n + 1):
            chain.process_block(fork.mine(miner=key(9 + n)))
    heads = {main.tip.hash, forks[0].tip.hash, forks[1].tip.hash}
    block1 = chain.index[main.blocks[1].hash]
    assert [c.hash for c in chain.children(block1)] == [
        main.blocks[2].hash,
        forks[0].blocks[2].hash,
        forks[1].blocks[2].hash,
    ]
    assert {e.hash for e in chain.tips()} == heads
    chain.invalidate_block(main.blocks[1].hash)
    assert chain.height == 0
    above = [e for e in chain.index.values() if e.height >= 2]
    assert len(above) == 5 and all(e.failed for e in above)
    db.close()
    db, chain = open_chain(path)
    assert {e.hash for e in chain.tips()} == heads
    assert len(chain.children(chain.index[main.blocks[1].hash])) == 3
    db.close()


def test_restart_keeps_everything(tmp_path):
    path = str(tmp_path / "db")
    db, chain, main = mined_chain(path, 10)
    coins = dict(db.coins())
    db.close()
    db, chain = open_chain(path)
    assert chain.tip.hash == main.tip.hash
    assert dict(db.coins()) == coins
    db.close()
    with pytest.raises(StorageError, match="regtest chain, not devnet"):
        ChainDB(path, "devnet")


class _TracedDB:
    """A plyvel DB whose write batches are recorded with their options."""

    def __init__(self, raw):
        self._raw = raw
        self.batches: list[dict] = []

    def write_batch(self, **options):
        self.batches.append(options)
        return self._raw.write_batch(**options)

    def __getattr__(self, name):
        return getattr(self._raw, name)


def test_every_acknowledged_block_is_written_with_sync(db):
    """Durability past a power cut: LevelDB syncs its log before a write with sync=True
    returns (and with it every write before), so a block the chain reports accepted is
    on disk, not in the page cache. Its header's record goes first, unsynced; the
    block's own batch syncs both. Peers' blocks (durable=False) wait for ``db.sync``."""
    traced = _TracedDB(db._db)
    db._db = traced
    chain = Chain(db, REGTEST)
    builder = ChainBuilder()
    for _ in range(3):
        before = len(traced.batches)
        assert chain.process_block(builder.mine()).status == "accepted"
        syncs = [options.get("sync") for options in traced.batches[before:]]
        assert syncs == [False, True]  # the header, then the block with its coins
        assert db.unsynced is False
    before = len(traced.batches)
    assert chain.process_blocks([builder.mine()], durable=False)[0].status == "accepted"
    assert [o.get("sync") for o in traced.batches[before:]] == [False, False]
    assert db.unsynced is True
    db.sync()
    assert traced.batches[-1].get("sync") is True and db.unsynced is False
    db._db = traced._raw
