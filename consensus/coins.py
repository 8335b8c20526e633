"""Coins (unspent outputs) and the coin-view interface validation reads and writes.

Validation never touches storage: it is handed a ``CoinView``. The node backs one with
LevelDB; tests use ``MemoryCoinView``. ``CoinViewCache`` overlays any view, records every
change, and is what a block is connected against, so a failed block leaves the base view
untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Coin:
    value: int
    lock: bytes
    height: int
    coinbase: bool


_new = object.__new__
_COIN_SLOTS = tuple(getattr(Coin, n).__set__ for n in ("value", "lock", "height", "coinbase"))


def new_coin(value: int, lock: bytes, height: int, coinbase: bool) -> Coin:
    """``Coin(value, lock, height, coinbase)`` at a third of the cost of the frozen
    dataclass's ``__init__``: block validation makes one per output."""
    obj = _new(Coin)
    a, b, c, d = _COIN_SLOTS
    a(obj, value)
    b(obj, lock)
    c(obj, height)
    d(obj, coinbase)
    return obj


class CoinView(Protocol):
    def get_coin(self, key: bytes) -> Coin | None:
        """The unspent coin at outpoint key ``txid || u32le(index)``, or None."""
        ...


class MemoryCoinView:
    """A whole coin set in a dict: for tests and for small tools."""

    def __init__(self, coins: dict[bytes, Coin] | None = None) -> None:
        self.coins: dict[bytes, Coin] = dict(coins or {})

    def get_coin(self, key: bytes) -> Coin | None:
        return self.coins.get(key)

    def apply(self, changes: dict[bytes, Coin | None]) -> None:
        for key, coin in changes.items():
            if coin is None:
                self.coins.pop(key, None)
            else:
                self.coins[key] = coin

    def __iter__(self) -> Iterator[tuple[bytes, Coin]]:
        return iter(self.coins.items())

    def __len__(self) -> int:
        return len(self.coins)


_MISSING = object()


class CoinViewCache:
    """A write-back overlay: reads fall through to ``base``; writes stay in ``changes``.

    ``changes`` maps an outpoint key to the new coin, or to None where a coin was spent.
    """

    __slots__ = ("base", "changes")

    def __init__(self, base: CoinView) -> None:
        self.base = base
        self.changes: dict[bytes, Coin | None] = {}

    def get_coin(self, key: bytes) -> Coin | None:
        coin = self.changes.get(key, _MISSING)
        if coin is _MISSING:
            return self.base.get_coin(key)
        return coin  # type: ignore[return-value]

    def add_coin(self, key: bytes, coin: Coin) -> None:
        self.changes[key] = coin

    def spend_coin(self, key: bytes) -> None:
        self.changes[key] = None
