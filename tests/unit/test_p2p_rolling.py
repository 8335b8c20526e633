"""The rolling filter behind the relay's known, rejected and confirmed txids and each peer's
known addresses. An int hashes to itself, so ints choose their own bucket and fingerprint:
bucket ``n >> 32``, fingerprint the low 32 bits."""

from __future__ import annotations

import os
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2p.rolling import RollingFilter


def in_bucket(bucket: int, fingerprint: int) -> int:
    return bucket << 32 | fingerprint


@given(st.integers(1, 40), st.lists(st.binary(min_size=1, max_size=4), max_size=200))
def test_the_last_capacity_items_are_always_in(capacity: int, items: list[bytes]) -> None:
    f = RollingFilter(capacity)
    for item in items:
        f.add(item)
    assert all(item in f for item in items[-capacity:])


def test_at_most_one_and_a_half_capacity_is_remembered():
    f = RollingFilter(100)  # three generations of 50
    items = [i.to_bytes(4, "big") + b"item" for i in range(400)]
    f.update(items)
    assert [item for item in items[:250] if item in f] == []
    assert all(item in f for item in items[250:])


def test_adding_again_makes_an_item_recent():
    f = RollingFilter(4)  # generations of 2
    f.update([b"a", b"b", b"c", b"d", b"a", b"e", b"f", b"g", b"h"])
    assert b"a" in f
    assert b"b" not in f


def test_a_full_bucket_spills_into_the_next_and_wraps_around():
    f = RollingFilter(200)  # 100 a generation: 13 buckets of 16 slots
    last = 12
    spilled = [in_bucket(last, n) for n in range(1, 41)]  # fills 12 and 0, half of 1
    f.update(spilled)
    f.add(in_bucket(0, 7))  # its own bucket is full: lands in 1
    assert all(item in f for item in spilled)
    assert in_bucket(0, 7) in f
    assert in_bucket(last, 99) not in f
    assert in_bucket(0, 99) not in f


def test_a_match_across_two_slots_is_not_a_match():
    f = RollingFilter(200)
    f.update([in_bucket(0, 0x04030201), in_bucket(0, 0x08070605)])  # bytes 01 02 .. 08
    assert in_bucket(0, 0x06050403) not in f
    assert in_bucket(0, 0x08070605) in f


def test_clear_forgets_everything_and_the_filter_still_works():
    f = RollingFilter(10)
    f.update([b"x", b"y", b"z"])
    f.clear()
    assert b"x" not in f and b"y" not in f
    f.add(b"x")
    assert b"x" in f


def test_false_positives_are_rare():
    f = RollingFilter(50_000)
    f.update(os.urandom(32) for _ in range(50_000))
    # ~6e-9 per lookup: 100,000 lookups expect 0.0006; an 8-bit fingerprint would give ~9,000.
    assert sum(os.urandom(32) in f for _ in range(100_000)) <= 1


def test_memory_is_fixed_at_creation():
    tracemalloc.start()
    try:
        f = RollingFilter(50_000)
        f.update(os.urandom(32) for _ in range(200_000))
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size < 700_000  # ~610 KB; an OrderedDict of 50,000 txids took ~8.5 MB


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="capacity of at least 1"):
        RollingFilter(0)
