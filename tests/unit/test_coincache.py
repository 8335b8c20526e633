"""The write-through coin cache: it answers as the database would, stays bounded, and
never keeps a coin read just before a block spent it."""

from __future__ import annotations

from consensus.coins import Coin
from node.chain.coincache import CoinCache

LOCK = bytes(21)


def key(n: int) -> bytes:
    return n.to_bytes(36, "big")


def coin(n: int) -> Coin:
    return Coin(n, LOCK, 1, False)


class FakeDB:
    def __init__(self) -> None:
        self.coins: dict[bytes, Coin] = {}
        self.reads = 0

    def get_coin(self, k: bytes) -> Coin | None:
        self.reads += 1
        return self.coins.get(k)


def test_reads_through_once_then_from_memory():
    db = FakeDB()
    db.coins[key(1)] = coin(1)
    cache = CoinCache(db.get_coin)
    assert cache.get_coin(key(1)) == coin(1)
    assert cache.get_coin(key(1)) == coin(1)
    assert cache.get_coin(key(2)) is None
    assert cache.get_coin(key(2)) is None  # misses are not cached: absent coins may appear
    assert db.reads == 3
    assert (cache.hits, cache.misses) == (1, 3)


def test_apply_forgets_spent_coins_and_learns_new_ones():
    db = FakeDB()
    db.coins[key(1)] = coin(1)
    cache = CoinCache(db.get_coin)
    cache.get_coin(key(1))
    del db.coins[key(1)]
    db.coins[key(2)] = coin(2)
    cache.apply({key(1): None, key(2): coin(2)})
    assert cache.get_coin(key(1)) is None
    assert cache.get_coin(key(2)) == coin(2)
    assert db.reads == 2  # key(1) read again after it was spent; key(2) never read


def test_stays_bounded():
    db = FakeDB()
    cache = CoinCache(db.get_coin, max_coins=100)
    cache.apply({key(n): coin(n) for n in range(1000)})
    assert len(cache) <= 100
    assert cache.get_coin(key(999)) == coin(999)  # the newest stay


def test_a_coin_spent_while_being_read_is_not_cached():
    """The database read happens outside the lock; a block spending the coin may be
    applied meanwhile. The stale read must not end up in the cache."""
    db = FakeDB()
    db.coins[key(1)] = coin(1)
    spent_during_read = {key(1)}

    def fetch(k: bytes) -> Coin | None:
        found = db.get_coin(k)
        if k in spent_during_read:
            spent_during_read.discard(k)
            del db.coins[k]
            cache.apply({k: None})  # the chain thread commits a block spending it
        return found

    cache = CoinCache(fetch)
    assert cache.get_coin(key(1)) == coin(1)  # what the database said at the time
    assert cache.get_coin(key(1)) is None


def test_size_zero_disables_caching():
    db = FakeDB()
    db.coins[key(1)] = coin(1)
    cache = CoinCache(db.get_coin, max_coins=0)
    cache.apply({key(2): coin(2)})
    cache.get_coin(key(1))
    cache.get_coin(key(1))
    assert len(cache) == 0 and db.reads == 2
