"""devnet's aserti3-2d is anchored at block 1: the target follows one block per spacing."""

from __future__ import annotations

import random
import statistics

import pytest

from consensus.params import DEVNET, REGTEST
from consensus.pow import bits_to_target, next_bits

LIMIT = DEVNET.pow_limit_bits
T1 = 1_900_000_000  # block 1's time: years after genesis, as on any new devnet


def test_block_one_is_mined_at_the_limit_whatever_the_time():
    assert next_bits(DEVNET, 0, DEVNET.genesis_time, None) == LIMIT
    assert next_bits(DEVNET, 0, T1 + 10**6, None) == LIMIT


def test_on_schedule_keeps_the_anchor_bits_and_fast_blocks_tighten_it():
    assert next_bits(DEVNET, 1, T1, T1) == LIMIT
    assert next_bits(DEVNET, 61, T1 + 600, T1) == LIMIT  # exactly 10 s apart
    fast = next_bits(DEVNET, 61, T1 + 60, T1)  # sixty blocks in one minute
    assert bits_to_target(fast) < bits_to_target(LIMIT)
    faster = next_bits(DEVNET, 121, T1 + 60, T1)
    assert bits_to_target(faster) < bits_to_target(fast)
    # a half-life (45 s) ahead of schedule halves the target
    half = next_bits(DEVNET, 61, T1 + 600 - 45, T1)
    assert bits_to_target(half) == pytest.approx(bits_to_target(LIMIT) / 2, rel=0.01)


def mean_interval_of_blocks_60_to_80(hashes_per_s: float, seed: int) -> float:
    """A modelled miner: each block takes an exponential time with mean (expected hashes
    at its target) / hash rate, plus 0.3 s of building and connecting it. Block 1 (the
    anchor) comes at T1."""
    rng = random.Random(seed)
    times = [T1]  # block 1, at the limit
    for height in range(1, 81):
        target = bits_to_target(next_bits(DEVNET, height, int(times[-1]), T1))
        expected_hashes = 2**256 / (target + 1)
        times.append(times[-1] + rng.expovariate(hashes_per_s / expected_hashes) + 0.3)
    return (times[80] - times[60]) / 20


@pytest.mark.parametrize("hashes_per_s", [0.3e6, 1.2e6, 4e6])
def test_a_laptop_settles_near_ten_second_blocks_within_60_blocks(hashes_per_s):
    means = [mean_interval_of_blocks_60_to_80(hashes_per_s, seed) for seed in range(40)]
    assert 8 <= statistics.mean(means) <= 12
    assert sum(7 <= m <= 13 for m in means) >= 30  # most single runs, not only on average


def test_slow_blocks_never_go_above_the_limit():
    assert next_bits(DEVNET, 5, T1 + 10**6, T1) == LIMIT


def test_devnet_needs_the_anchor_time_and_regtest_ignores_it():
    with pytest.raises(ValueError):
        next_bits(DEVNET, 5, T1, None)
    assert next_bits(REGTEST, 5, T1, None) == REGTEST.pow_limit_bits
