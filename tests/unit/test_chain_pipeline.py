"""Runs of blocks handed over together (``Chain.process_blocks``) connect as one path,
each block's signatures settled while the next block is checked. The pipeline changes no
verdict: in every configuration (plain, signature cache, worker pool, coin caches) each
block gets the verdict it gets alone, the first failure in block order is the one
reported, and the coin set ends as if the blocks had come one at a time."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from consensus.coins import CoinViewCache
from consensus.errors import RejectCode
from consensus.params import REGTEST
from consensus.primitives import Block, Tx
from consensus.validation import connect_block
from node.chain.storage import ChainDB
from tests.chain_helpers import ChainBuilder, Utxo, spend
from tests.unit.test_verify_equivalence import ED, SETUPS, Setup, bad_sig


def connect_unchecked(builder: ChainBuilder, block: Block) -> None:
    """Extend ``builder`` with ``block`` without verifying its signatures (to build the
    children of a block whose signatures are bad)."""
    view = CoinViewCache(builder.view)
    undo = connect_block(
        block, view, builder.height + 1, builder.mtp(), builder.params, lambda checks: None
    )
    builder.view.apply(view.changes)
    builder.blocks.append(block)
    builder.undos.append(undo)
    builder.times.append(block.header.time)


def pay(utxos: list[Utxo]) -> list[Tx]:
    return [spend([u], [(u.value - 1000, ED.lock)]) for u in utxos]


def copy_of(builder: ChainBuilder) -> ChainBuilder:
    other = ChainBuilder()
    for block in builder.blocks[1:]:
        other.connect(block)
    return other


@pytest.fixture(scope="module")
def blocks() -> dict[str, list[Block]]:
    chain = ChainBuilder()
    chain.mine_empty(REGTEST.coinbase_maturity + 1)
    fan = spend([chain.coinbase_utxo(1)], [(10_000_000, ED.lock)] * 64)
    chain.mine([fan])
    coins = [chain.utxo(fan, n, ED) for n in range(64)]
    start = list(chain.blocks[1:])

    good = [chain.mine(pay(coins[8 * n : 8 * n + 8])) for n in range(2)]
    base = copy_of(chain)

    # Block 3 has a bad signature in its middle; block 4, its child, is valid on its own.
    bad = base.build([*pay(coins[16:19]), bad_sig(pay(coins[19:20])[0]), *pay(coins[20:24])])
    connect_unchecked(base, bad)
    after_bad = base.build(pay(coins[24:32]))

    # Block 3' has a bad signature; its child breaks another rule (a missing coin), which
    # is found while block 3''s signatures are still out: block 3' is the one reported.
    other = copy_of(chain)
    bad_first = other.build([bad_sig(pay(coins[32:33])[0]), *pay(coins[33:40])])
    connect_unchecked(other, bad_first)
    missing = spend([Utxo(bytes(32), 3, 50_000, ED)], [(40_000, ED.lock)])
    missing_child = other.build([missing])

    good_3 = chain.mine(pay(coins[40:48]))
    good_4 = chain.mine(pay(coins[48:56]))
    return {
        "start": start,
        "run": [*good, bad, after_bad],
        "bad_then_missing": [bad_first, missing_child],
        "recover": [good_3, good_4],
        "final": chain.blocks,
    }


@pytest.fixture
def setups(tmp_path: Path) -> Iterator[dict[str, Setup]]:
    made = {}
    dbs = []
    for name, make in SETUPS.items():
        db = ChainDB(str(tmp_path / name), "regtest")
        dbs.append(db)
        made[name] = make(db)
    yield made
    for setup in made.values():
        if setup.pool is not None:
            setup.pool.close()
    for db in dbs:
        db.close()


def verdicts(results) -> list[tuple[str, str | None]]:
    return [(r.status, r.error.code.value if r.error else None) for r in results]


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_a_run_connects_up_to_its_first_invalid_block(blocks, setups, depth, monkeypatch) -> None:
    monkeypatch.setattr("node.chain.manager.PIPELINE_DEPTH", depth)
    reference = None
    for name, setup in setups.items():
        chain = setup.chain
        assert verdicts(chain.process_blocks(blocks["start"])) == [("accepted", None)] * len(
            blocks["start"]
        ), name
        results = chain.process_blocks(blocks["run"])
        assert verdicts(results) == [
            ("accepted", None),
            ("accepted", None),
            ("invalid", RejectCode.TX_BAD_SIGNATURE.value),
            ("invalid", RejectCode.BLOCK_BAD_PREV.value),
        ], name
        assert chain.tip.hash == blocks["run"][1].hash, name
        assert [b.hash for b in results[-1].update.connected] == [
            b.hash for b in blocks["run"][:2]
        ], name
        # Each block's failure goes with its own result; the child's is its own verdict.
        assert [h for h, _ in results[2].update.invalid] == [blocks["run"][2].hash], name
        assert results[-1].update.invalid == (), name

        results = chain.process_blocks(blocks["bad_then_missing"])
        assert verdicts(results) == [
            ("invalid", RejectCode.TX_BAD_SIGNATURE.value),
            ("invalid", RejectCode.BLOCK_BAD_PREV.value),
        ], name

        assert verdicts(chain.process_blocks(blocks["recover"])) == [("accepted", None)] * 2
        assert chain.tip.hash == blocks["final"][-1].hash, name
        outcome = (dict(chain.db.coins()), chain.db.best_block())
        if reference is None:
            reference = outcome
        assert outcome == reference, name


def test_blocks_one_at_a_time_end_with_the_same_coins(blocks, setups) -> None:
    together, alone = setups["workers"].chain, setups["plain"].chain
    for group in ("start", "run", "bad_then_missing", "recover"):
        together.process_blocks(blocks[group])
        for block in blocks[group]:
            alone.process_block(block)
    assert dict(together.db.coins()) == dict(alone.db.coins())
    assert together.tip.hash == alone.tip.hash == blocks["final"][-1].hash


def test_peers_blocks_wait_for_a_sync_and_a_process_that_dies_keeps_them(
    blocks, setups, tmp_path
) -> None:
    """``durable=False`` writes go to the OS only (``db.unsynced`` until ``db.sync``);
    a process that exits without closing the database still leaves them there."""
    chain = setups["plain"].chain
    chain.process_blocks(blocks["start"], durable=False)
    assert chain.db.unsynced is True
    chain.db.sync()
    assert chain.db.unsynced is False
    chain.process_blocks(blocks["run"][:1], durable=False)
    assert chain.db.unsynced is True
    chain.process_blocks(blocks["run"][1:2])  # durable: synced, and so is all before it
    assert chain.db.unsynced is False

    datadir = tmp_path / "dies"
    script = f"""
import os, pickle, sys
from consensus.params import REGTEST
from node.chain.manager import Chain
from node.chain.storage import ChainDB
blocks = pickle.loads(sys.stdin.buffer.read())
chain = Chain(ChainDB({str(datadir)!r}, "regtest"), REGTEST, coin_cache_size=0)
chain.process_blocks(blocks, durable=False)
assert chain.db.unsynced
os._exit(0)
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(blocks["start"]),
        capture_output=True,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    db = ChainDB(str(datadir), "regtest")
    try:
        assert db.best_block() == blocks["start"][-1].hash
    finally:
        db.close()
