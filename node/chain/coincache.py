"""A bounded, write-through coin cache in front of the chainstate database.

Validating a block looks up every coin it spends. Most were created a few blocks earlier,
or were just looked up by the mempool when the tx arrived, so keeping recent coins in a
dict turns a LevelDB read and a strict decode into one dictionary lookup.

Write-through, not write-back: every block's coin changes still go to LevelDB in that
block's own batch, with the best-block marker, and the cache learns them only after the
batch is written (``apply``). The database therefore never depends on the cache, a kill
at any instant loses nothing, and a restart starts with an empty cache. A write-back
cache would also spare the puts and deletes of coins that live only a few blocks, but
the address index holds a copy of every coin and is read straight from LevelDB by the
RPC, wallets and explorer: deferring coin writes means deferring those too and merging
unwritten changes into every such read. bench/NOTES.md has what the writes cost.

Thread safety: the chain thread applies changes and reads; the event loop (mempool, RPC)
reads too. Lookups that hit need no lock. A miss reads the database outside the lock and
stores what it read only if no ``apply`` happened meanwhile (a generation count), so a
coin read just before a block spent it can never be cached after the block's changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from itertools import islice

from consensus.coins import Coin

DEFAULT_MAX_COINS = 200_000
# When full, this fraction of the oldest entries goes at once: one scan of the dict's
# head per many inserts, instead of one per insert.
_EVICT_FRACTION = 0.1


class CoinCache:
    """``get_coin`` of a ``CoinView``, cached; ``apply`` after each committed batch.

    ``max_coins=0`` disables caching (every lookup reads the database): the verdicts and
    the coin set are the same either way, which the tests check.
    """

    def __init__(
        self, fetch: Callable[[bytes], Coin | None], max_coins: int = DEFAULT_MAX_COINS
    ) -> None:
        if max_coins < 0:
            raise ValueError("max_coins cannot be negative")
        self._fetch = fetch
        self.max_coins = max_coins
        self._coins: dict[bytes, Coin] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._coins)

    def get_coin(self, key: bytes) -> Coin | None:
        coin = self._coins.get(key)
        if coin is not None:
            self.hits += 1
            return coin
        self.misses += 1
        generation = self._generation
        coin = self._fetch(key)
        if coin is not None and self.max_coins:
            with self._lock:
                if generation == self._generation:
                    self._coins[key] = coin
                    self._evict()
        return coin

    def apply(self, changes: Mapping[bytes, Coin | None]) -> None:
        """The coin changes of a batch just written: spent coins go, new coins come in."""
        with self._lock:
            self._generation += 1
            coins = self._coins
            if not self.max_coins:
                return
            for key, coin in changes.items():
                if coin is None:
                    coins.pop(key, None)
                else:
                    coins[key] = coin
            self._evict()

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._coins.clear()

    def _evict(self) -> None:
        coins = self._coins
        excess = len(coins) - self.max_coins
        if excess > 0:
            drop = excess + int(self.max_coins * _EVICT_FRACTION)
            for key in list(islice(coins, drop)):
                del coins[key]

    @property
    def stats(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "entries": len(self._coins),
            "max_entries": self.max_coins,
        }
