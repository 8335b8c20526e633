"""Chain.process_raw_block: a block decoded while its first txs are already connected (their
signature checks with the workers) gets exactly the verdict, and leaves exactly the coins,
of the same block decoded first and then processed; a block that is not one, or that the
precheck refuses, changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.builder import make_block
from consensus.errors import DecodeError, RejectCode
from consensus.params import REGTEST
from consensus.primitives import Block, Tx
from node.chain.manager import Chain
from node.chain.storage import ChainDB
from node.verify.sigcache import SigCache
from node.verify.sigpool import SigPool
from tests.chain_helpers import ChainBuilder
from tests.unit.test_verify_equivalence import SETUPS, Scenario, _mempool, build_scenario


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario()


def run_raw(scenario: Scenario, chain: Chain, cache: SigCache | None) -> list[tuple]:
    verdicts = []
    for n, (block, _, _) in enumerate(scenario.steps):
        if n == scenario.warm_before and cache is not None:
            mempool = _mempool(chain, cache)
            for tx in scenario.mempool_txs:
                mempool.accept(tx)
        result = chain.process_raw_block(block.serialize())
        verdicts.append((result.status, result.error.code.value if result.error else None))
    chain.invalidate_block(scenario.invalidate)
    chain.reconsider_block(scenario.invalidate)
    return verdicts


@pytest.mark.parametrize("name", list(SETUPS))
def test_raw_blocks_get_the_verdicts_and_coins_of_decoded_ones(scenario, tmp_path, name) -> None:
    setup = SETUPS[name](ChainDB(str(tmp_path / "raw"), "regtest"))
    reference = SETUPS["plain"](ChainDB(str(tmp_path / "plain"), "regtest"))
    try:
        verdicts = run_raw(scenario, setup.chain, setup.cache)
        expected = [(s, code.value if code else None) for _, s, code in scenario.steps]
        assert verdicts == expected
        for block, _, _ in scenario.steps:
            reference.chain.process_block(block)
        reference.chain.invalidate_block(scenario.invalidate)
        reference.chain.reconsider_block(scenario.invalidate)
        assert dict(setup.chain.db.coins()) == dict(reference.chain.db.coins())
        assert setup.chain.tip.hash == reference.chain.tip.hash
    finally:
        for s in (setup, reference):
            if s.pool is not None:
                s.pool.close()
            s.chain.db.close()


def _pooled_chain(path: Path) -> tuple[Chain, SigPool]:
    pool = SigPool(SigCache(), workers=2, chunk_size=4)
    pool.start()
    return Chain(ChainDB(str(path), "regtest"), REGTEST, sig_pool=pool), pool


@pytest.fixture
def pooled(tmp_path: Path):
    made = [_pooled_chain(tmp_path / "a"), _pooled_chain(tmp_path / "b")]
    yield made
    for chain, pool in made:
        pool.close()
        chain.db.close()


def test_early_checks_are_adopted_not_sent_twice(scenario, pooled) -> None:
    (raw_chain, raw_pool), (chain, pool) = pooled
    steps = scenario.steps
    big = next(n for n, (b, _, _) in enumerate(steps) if len(b.txs) > 60)
    for block, _, _ in steps[:big]:
        assert raw_chain.process_block(block).status == "accepted"
        assert chain.process_block(block).status == "accepted"
    block = steps[big][0]
    raw_before, before = raw_pool.chunks_sent, pool.chunks_sent
    assert raw_chain.process_raw_block(block.serialize()).status == "accepted"
    assert chain.process_block(block).status == "accepted"
    # The early checks were the block's checks: sent once, as by the decoded path.
    assert pool.chunks_sent - before > 10
    assert raw_pool.chunks_sent - raw_before == pool.chunks_sent - before
    assert dict(raw_chain.db.coins()) == dict(chain.db.coins())
    # A block's checks are verified, not stored in the cache (only the mempool stores).
    assert pool.cache.misses > 0 and len(pool.cache) == 0 == len(raw_pool.cache)


def test_not_a_block_or_refused_changes_nothing(scenario, pooled) -> None:
    chain, _ = pooled[0]
    steps = scenario.steps
    for block, _, _ in steps[:5]:
        chain.process_block(block)
    nxt = steps[5][0]
    index_size, tip = len(chain.index), chain.tip
    with pytest.raises(DecodeError):
        chain.process_raw_block(nxt.serialize()[:-3])

    def refuse(block: Block) -> None:
        raise LookupError("refused")

    with pytest.raises(LookupError):
        chain.process_raw_block(nxt.serialize(), precheck=refuse)
    assert (len(chain.index), chain.tip) == (index_size, tip)
    assert chain.process_raw_block(nxt.serialize()).status == "accepted"


def test_a_block_without_a_coinbase_first_gets_check_blocks_verdict(pooled) -> None:
    chain, _ = pooled[0]
    builder = ChainBuilder()
    builder.mine_empty(3)
    for block in builder.blocks[1:]:
        chain.process_block(block)
    no_inputs = Tx(1, (), builder.tip.txs[0].outputs, 0)
    odd = builder.build([])
    odd = make_block(odd.header.prev_hash, [no_inputs], odd.header.time, odd.header.bits)
    # A first tx without inputs: the early connect must not trip over it.
    result = chain.process_raw_block(odd.serialize())
    assert result.status == "invalid"
    assert result.error is not None and result.error.code is RejectCode.BLOCK_COINBASE_MISSING
