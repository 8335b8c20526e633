"""devnet's aserti3-2d is anchored at block 1: the target follows one block per spacing."""

from __future__ import annotations

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
    # a half-life (600 s) ahead of schedule halves the target
    half = next_bits(DEVNET, 61, T1, T1)
    assert bits_to_target(half) == pytest.approx(bits_to_target(LIMIT) / 2, rel=0.01)


def test_slow_blocks_never_go_above_the_limit():
    assert next_bits(DEVNET, 5, T1 + 10**6, T1) == LIMIT


def test_devnet_needs_the_anchor_time_and_regtest_ignores_it():
    with pytest.raises(ValueError):
        next_bits(DEVNET, 5, T1, None)
    assert next_bits(REGTEST, 5, T1, None) == REGTEST.pow_limit_bits
