"""A rolling filter: remembers at least the last ``capacity`` items added, in fixed memory,
and says yes, rarely, to an item never added.

Bitcoin Core keeps each peer's known txs and addresses, and the recently rejected and
recently confirmed txids, in rolling bloom filters (``CRollingBloomFilter``): ~0.5 MB for
50,000 txids, where an exact set of them takes ~9 MB here, and Core has one known-tx set per
peer. A bloom filter costs one probe per hash function (20 at Core's 1e-6), and each probe is
a step of Python here. This filter keeps one 32-bit fingerprint per item instead, in buckets
that ``find`` searches at C speed: a lookup is one hash and a search or three.

- Three generations of ``capacity / 2`` items each (Core's layout). When the newest is full,
  the oldest is dropped and an empty one becomes the newest: the last ``capacity`` items are
  always in (two full generations and the current one), never more than 1.5 x ``capacity``.
- A generation is a table of buckets of 16 slots, 8 items each on average. A bucket fills in
  order, its fill count beside it; a full bucket spills into the next one.
- An item's bucket and fingerprint come from its ``hash()``. For bytes and str that is SipHash
  with a random key per process (unless ``PYTHONHASHSEED`` fixes it): a peer cannot craft txids
  that collide here, as Core's filters are keyed with a random tweak.
- A lookup compares its fingerprint with ~8 slots in each generation: a false positive has
  odds of about 24 in 2**32 (6e-9; Core's tx filters allow 1e-6).
- 12 bytes per item of capacity: 600 KB for 50,000, taken as items arrive.
"""

from __future__ import annotations

import mmap
from collections.abc import Hashable, Iterable

_SLOTS = 16  # per bucket
_SLOT_BYTES = 4
_BUCKET_BYTES = _SLOTS * _SLOT_BYTES
_MEAN_FILL = _SLOTS // 2
_GENERATIONS = 3


class RollingFilter:
    """Items are bytes, str, or tuples of them and ints (anything whose ``hash()`` is keyed)."""

    __slots__ = ("_buckets", "_count", "_empty", "_fills", "_per_generation", "_tables")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a rolling filter needs a capacity of at least 1, not {capacity}")
        self._per_generation = (capacity + 1) // 2
        self._buckets = -(-self._per_generation // _MEAN_FILL)
        self._empty = True
        self._fresh()

    def _fresh(self) -> None:
        # Newest first. A bucket's fill count says how many of its slots are taken.
        self._tables = [self._new_table() for _ in range(_GENERATIONS)]
        self._fills = [bytearray(self._buckets) for _ in range(_GENERATIONS)]
        self._count = 0  # items in the newest generation

    def _new_table(self) -> mmap.mmap:
        # An anonymous mapping reads as zeros and takes memory only where written: an
        # idle peer's filter costs next to nothing, and a dropped generation's memory
        # goes back to the system with its mapping.
        return mmap.mmap(-1, self._buckets * _BUCKET_BYTES)

    def clear(self) -> None:
        if self._empty:
            return  # the relay clears its rejects at every new tip: mostly a no-op
        self._fresh()
        self._empty = True

    def _locate(self, item: Hashable) -> tuple[bytes, int]:
        h = hash(item) & 0xFFFF_FFFF_FFFF_FFFF
        return (h & 0xFFFF_FFFF).to_bytes(_SLOT_BYTES, "little"), (h >> 32) % self._buckets

    def _search(self, generation: int, fingerprint: bytes, bucket: int) -> bool:
        table, fills, buckets = self._tables[generation], self._fills[generation], self._buckets
        while True:
            fill = fills[bucket]
            start = bucket * _BUCKET_BYTES
            end = start + fill * _SLOT_BYTES
            at = table.find(fingerprint, start, end)
            while at > 0 and at % _SLOT_BYTES:  # a match across two slots is not one
                at = table.find(fingerprint, at + 1, end)
            if at >= 0:
                return True
            if fill < _SLOTS:
                return False  # the item would have spilled past this bucket only if it were full
            bucket = bucket + 1 if bucket + 1 < buckets else 0

    def __contains__(self, item: Hashable) -> bool:
        fingerprint, bucket = self._locate(item)
        for generation in range(_GENERATIONS):
            if self._search(generation, fingerprint, bucket):
                return True
        return False

    def add(self, item: Hashable) -> None:
        """Remember ``item`` as the most recent (again, if it is in an older generation)."""
        fingerprint, bucket = self._locate(item)
        if self._search(0, fingerprint, bucket):
            return
        if self._count == self._per_generation:
            self._tables.pop()
            self._fills.pop()
            self._tables.insert(0, self._new_table())
            self._fills.insert(0, bytearray(self._buckets))
            self._count = 0
        self._count += 1
        self._empty = False
        table, fills, buckets = self._tables[0], self._fills[0], self._buckets
        while fills[bucket] == _SLOTS:
            bucket = bucket + 1 if bucket + 1 < buckets else 0
        fill = fills[bucket]
        at = bucket * _BUCKET_BYTES + fill * _SLOT_BYTES
        table[at : at + _SLOT_BYTES] = fingerprint
        fills[bucket] = fill + 1

    def update(self, items: Iterable[Hashable]) -> None:
        for item in items:
            self.add(item)
