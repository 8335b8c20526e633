"""MuHash3072 against Bitcoin Core's own test vector (src/test/crypto_tests.cpp)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from node.chain.muhash import PRIME, MuHash, product


def from_int(i: int) -> bytes:
    return bytes([i]) + bytes(31)


def test_core_vector() -> None:
    acc = MuHash()
    acc.insert(from_int(0))
    acc.insert(from_int(1))
    acc.remove(from_int(2))
    # Core prints the uint256, i.e. the digest's bytes reversed
    assert acc.digest()[::-1].hex() == (
        "10d312b100cbd32ada024a6646e40d3482fcff103668d2625f10002a607d5863"
    )


def test_order_free_and_removal_cancels() -> None:
    rng = random.Random(19)
    items = [rng.randbytes(40) for _ in range(12)]
    forward, backward = MuHash(), MuHash()
    for item in items:
        forward.insert(item)
    for item in reversed(items):
        backward.insert(item)
    backward.insert(b"extra")
    backward.remove(b"extra")
    assert forward.digest() == backward.digest()
    assert MuHash.deserialize(forward.serialize()).digest() == forward.digest()
    assert forward.digest() != MuHash().digest()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=90), max_size=40))
def test_a_folded_product_equals_one_division_per_element(items: list[bytes]) -> None:
    """product() reduces by the prime's special form; plain % after each multiplication
    of the single elements must give the same number."""
    expected = 1
    for item in items:
        expected = expected * int(product((item,))) % int(PRIME)
    assert int(product(items)) == expected
    folded, one_by_one = MuHash(), MuHash()
    folded.insert_all(items[::2])
    folded.remove_all(items[1::2])
    for n, item in enumerate(items):
        (one_by_one.insert if n % 2 == 0 else one_by_one.remove)(item)
    assert folded.serialize() == one_by_one.serialize()
