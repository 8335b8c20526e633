"""The miner: templates within the block limits, the midstate nonce search, and the solver."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import multiprocessing
import time

import pytest

from consensus.builder import make_coinbase
from consensus.hashing import sha256d
from consensus.params import DEVNET, REGTEST, block_subsidy
from consensus.pow import bits_to_target, next_bits, target_to_bits
from consensus.primitives import Tx, TxIn, TxOut
from consensus.validation import check_block, contextual_check_header
from node.mining import miner
from node.mining.miner import (
    MINER_TAG,
    BlockTemplate,
    PowSolver,
    build_template,
    coinbase_extra,
    reserved_block_size,
    scan_chunk,
    scan_nonces,
)
from tests.chain_helpers import ChainBuilder, key, spend

LOCK = key(7).lock
PREV = bytes(range(32))


def fake_tx(n: int, inputs: int = 1, pad: int = 0, parent: Tx | None = None) -> Tx:
    """An unsigned tx: the template only looks at sizes, input counts and parents."""
    prev = [parent.txid] if parent else []
    prev += [sha256d(b"coin %d %d" % (n, i)) for i in range(inputs - len(prev))]
    ins = tuple(TxIn(p, i, b"", bytes(pad)) for i, p in enumerate(prev))
    return Tx(1, ins, (TxOut(1000 + n, LOCK),), 0)


def template(params=REGTEST, txs_with_fees=(), **kw) -> BlockTemplate:
    args = dict(
        prev_hash=PREV,
        height=5,
        bits=params.pow_limit_bits,
        median_time_past=1_799_999_000,
        now=1_800_000_010,
        txs_with_fees=list(txs_with_fees),
        coinbase_lock=LOCK,
    )
    args.update(kw)
    return build_template(params, **args)


def with_work(tpl: BlockTemplate, expected_hashes: int) -> BlockTemplate:
    """``tpl`` with bits whose target needs about ``expected_hashes`` hashes."""
    return dataclasses.replace(tpl, bits=target_to_bits((1 << 256) // expected_hashes - 1))


def brute_force(prefix: bytes, target: int, start: int, count: int) -> int | None:
    for nonce in range(start, start + count):
        if int.from_bytes(sha256d(prefix + nonce.to_bytes(4, "little")), "little") <= target:
            return nonce
    return None


def no_solution_at_extranonce_0(tpl: BlockTemplate, nonce_space: int) -> BlockTemplate:
    """The first of ``tpl``'s time variants whose extranonce 0 has no nonce in the space."""
    for dt in range(1000):
        candidate = dataclasses.replace(tpl, time=tpl.time + dt)
        if scan_nonces(candidate.header_prefix(0), candidate.target, 0, nonce_space) is None:
            return candidate
    raise AssertionError("unreachable for the targets used here")


def extranonce_of(block) -> int:
    extra = block.txs[0].inputs[0].sig
    assert extra[:4] == MINER_TAG
    return int.from_bytes(extra[4:], "little")


def meets_target(block) -> bool:
    return int.from_bytes(block.hash, "little") <= bits_to_target(block.header.bits)


# --- templates ----------------------------------------------------------------------


def test_template_time_is_now_unless_not_above_median_time_past():
    assert template(now=1_800_000_010, median_time_past=1_799_999_000).time == 1_800_000_010
    assert template(now=1_700_000_000, median_time_past=1_799_999_000).time == 1_799_999_001
    assert template(now=1_799_999_000, median_time_past=1_799_999_000).time == 1_799_999_001


def test_template_carries_the_bits_it_is_given():
    bits = next_bits(DEVNET, 49, DEVNET.genesis_time + 200, DEVNET.genesis_time + 10)
    assert bits != DEVNET.pow_limit_bits  # blocks came fast: the target tightened
    assert template(DEVNET, height=50, bits=bits).bits == bits


def test_coinbase_pays_subsidy_plus_fees():
    a, b = fake_tx(1), fake_tx(2)
    tpl = template(txs_with_fees=[(a, 300), (b, 700)])
    assert tpl.txs == (a, b) and tpl.fees == 1000
    block = tpl.block(extranonce=7, nonce=9)
    coinbase = block.txs[0]
    assert block.txs[1:] == (a, b)
    assert coinbase == make_coinbase(
        5, [TxOut(block_subsidy(5, REGTEST) + 1000, LOCK)], coinbase_extra(7)
    )
    assert coinbase.inputs[0].sig == b"obol" + (7).to_bytes(8, "little")
    assert (block.header.prev_hash, block.header.time, block.header.nonce) == (PREV, tpl.time, 9)
    assert tpl.header_prefix(7) == block.header.serialize()[:76]
    assert tpl.header_prefix(8) != tpl.header_prefix(7)  # a new extranonce, a new merkle root


def test_template_respects_size_and_drops_children_of_dropped_txs():
    a = fake_tx(1)
    big = fake_tx(2, pad=400)
    child = fake_tx(3, parent=big)
    d = fake_tx(4)
    room = a.size + child.size + d.size  # child would fit by size, but its parent does not
    assert big.size > child.size + d.size
    params = dataclasses.replace(REGTEST, max_block_size=reserved_block_size(5, LOCK) + room)
    tpl = template(params, [(a, 1), (big, 50), (child, 2), (d, 3)])
    assert tpl.txs == (a, d)
    assert tpl.fees == 4
    largest = tpl.block(extranonce=2**64 - 1, nonce=2**32 - 1)
    assert largest.size <= params.max_block_size
    # Exact fit for all four when there is room: the reserve is not too generous to matter.
    params = dataclasses.replace(params, max_block_size=params.max_block_size + big.size)
    assert template(params, [(a, 1), (big, 50), (child, 2), (d, 3)]).txs == (a, big, child, d)


def test_template_respects_sigcheck_limit():
    a = fake_tx(1, inputs=2)
    b = fake_tx(2, inputs=2)
    child = fake_tx(3, inputs=1, parent=b)
    d = fake_tx(4, inputs=1)
    params = dataclasses.replace(REGTEST, max_block_sigchecks=3)
    tpl = template(params, [(a, 1), (b, 1), (child, 1), (d, 1)])
    assert tpl.txs == (a, d)
    assert sum(len(tx.inputs) for tx in tpl.txs) == params.max_block_sigchecks


def test_template_rejects_a_coinbase_among_txs():
    with pytest.raises(ValueError):
        template(txs_with_fees=[(make_coinbase(5, [TxOut(1, LOCK)]), 0)])


# --- nonce search -------------------------------------------------------------------


def test_scan_nonces_matches_brute_force():
    tpl = template()
    prefix = tpl.header_prefix(0)
    for target in (tpl.target, (1 << 256) >> 6, (1 << 256) >> 10):
        for start in (0, 1, 5000, 2**32 - 3000):
            count = min(3000, 2**32 - start)
            expected = brute_force(prefix, target, start, count)
            assert scan_nonces(prefix, target, start, count) == expected
    assert scan_nonces(prefix, (1 << 256) >> 10, 0, 5000) is not None


def test_scan_nonces_returns_none_when_no_nonce_works():
    prefix = template().header_prefix(0)
    assert scan_nonces(prefix, 1, 0, 5000) is None
    assert scan_nonces(prefix, 0, 0, 100) is None
    assert scan_nonces(prefix, 1 << 255, 10, 0) is None
    with pytest.raises(ValueError):
        scan_nonces(prefix, 1, 2**32 - 1, 2)


def test_scan_chunk_stops_when_the_parent_moved_on(monkeypatch):
    counter = multiprocessing.RawValue("Q", 3)
    monkeypatch.setattr(miner, "_job_counter", counter)
    prefix = template().header_prefix(0)
    assert scan_chunk(prefix, 1, 0, 1 << 16, job=2) == (None, 0)
    assert scan_chunk(prefix, 1, 0, 1000, job=3) == (None, 1000)
    nonce = brute_force(prefix, (1 << 256) >> 8, 0, 5000)
    assert scan_chunk(prefix, (1 << 256) >> 8, 0, 5000, job=3) == (nonce, nonce + 1)


# --- solver -------------------------------------------------------------------------


async def test_mined_block_passes_validation_and_connects():
    chain = ChainBuilder()
    chain.mine_empty(100)
    k1, k2, miner_key = key(1), key(2), key(3)
    coin = chain.coinbase_utxo(1)
    tx1 = spend([coin], [(coin.value - 1000, k1.lock)])
    tx2 = spend([chain.utxo(tx1, 0, k1)], [(coin.value - 1500, k2.lock)])
    now = chain.times[-1] + 5
    tpl = build_template(
        REGTEST,
        prev_hash=chain.tip.hash,
        height=chain.height + 1,
        bits=next_bits(REGTEST, chain.height, chain.times[-1], chain.anchor_time),
        median_time_past=chain.mtp(),
        now=now,
        txs_with_fees=[(tx1, 1000), (tx2, 500)],
        coinbase_lock=miner_key.lock,
    )
    async with PowSolver(workers=2) as solver:
        block = await solver.solve(tpl, lambda: False)
        assert solver._pool is None  # regtest work is trivial: no worker was launched
    assert block is not None
    check_block(block, REGTEST)
    contextual_check_header(
        block.header,
        expected_bits=next_bits(REGTEST, chain.height, chain.times[-1], chain.anchor_time),
        median_time_past=chain.mtp(),
        now=now,
        params=REGTEST,
    )
    chain.connect(block)  # check_block + connect_block against the chain's coins
    assert chain.height == 101
    reward = chain.coinbase_utxo(101, miner_key)
    assert reward.value == block_subsidy(101, REGTEST) + 1500


async def test_pool_solves_a_moderate_target():
    tpl = with_work(template(), 1 << 17)
    assert (1 << 256) // tpl.target > miner.INPROCESS_MAX_HASHES  # really uses the pool
    async with PowSolver(workers=2, chunk_size=1 << 14) as solver:
        block = await solver.solve(tpl, lambda: False)
    assert block is not None and meets_target(block)
    check_block(block, REGTEST)
    assert solver.hashes_done > 0


async def test_pool_returns_none_promptly_when_stale():
    tpl = dataclasses.replace(template(), bits=0x1D00FFFF)  # ~2**32 hashes: never found here
    async with PowSolver(workers=2) as solver:
        loop = asyncio.get_running_loop()
        stale_at = loop.time() + 0.5
        assert await solver.solve(tpl, lambda: loop.time() >= stale_at) is None
        assert loop.time() - stale_at < 0.5
        # The workers dropped the stale chunks: new work is not stuck behind them.
        started = time.monotonic()
        block = await solver.solve(with_work(template(), 1 << 16), lambda: False)
        assert block is not None and meets_target(block)
        assert time.monotonic() - started < 10


async def test_solve_returns_none_in_process_when_stale_from_the_start():
    assert await PowSolver().solve(template(), lambda: True) is None


async def test_pool_needs_start():
    with pytest.raises(RuntimeError):
        await PowSolver().solve(with_work(template(), 1 << 20), lambda: False)


async def test_extranonce_rolls_in_process():
    space = 16
    tpl = no_solution_at_extranonce_0(with_work(template(), 256), space)
    for ext in itertools.count():
        nonce = brute_force(tpl.header_prefix(ext), tpl.target, 0, space)
        if nonce is not None:
            break
    block = await PowSolver(nonce_space=space).solve(tpl, lambda: False)
    assert block is not None and ext > 0
    assert extranonce_of(block) == ext and block.header.nonce == nonce
    assert block.hash == tpl.block(ext, nonce).hash


async def test_extranonce_rolls_in_the_pool():
    space = 1 << 12
    tpl = no_solution_at_extranonce_0(with_work(template(), 1 << 17), space)
    async with PowSolver(
        workers=2, nonce_space=space, chunk_size=1 << 10, poll_interval=0.002
    ) as solver:
        block = await solver.solve(tpl, lambda: False)
    assert block is not None and meets_target(block)
    assert extranonce_of(block) > 0 and block.header.nonce < space
    assert block.hash == tpl.block(extranonce_of(block), block.header.nonce).hash


async def test_hashrate_over_a_window():
    now = [0.0]
    solver = PowSolver(clock=lambda: now[0], hashrate_window=60)
    assert solver.hashrate() == 0.0
    tpl = with_work(template(), 4096)
    assert await solver.solve(tpl, lambda: False) is not None
    assert solver.hashes_done > 0
    now[0] = 10.0
    assert solver.hashrate() == pytest.approx(solver.hashes_done / 10)
    now[0] = 100.0
    assert solver.hashrate() == 0.0
