"""A cache of signatures already verified, shared by the mempool and block validation.

A tx is usually verified when it enters the mempool and again when a block containing it
is connected; with the cache the second check is a dictionary lookup. Only successful
verifications are stored, so a bad signature is verified (and rejected) every time: the
cache can make validation faster, never more lenient.

Entries are keyed by a salted 16-byte BLAKE2b of the whole check (key type, public key,
signature, message, each with its length), so the cache holds small keys, and the salt,
random per process, keeps anyone from crafting colliding checks offline. Eviction is FIFO.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from hashlib import blake2b

from consensus.signatures import REGISTRY
from consensus.validation import SigCheck

DEFAULT_MAX_ENTRIES = 200_000


class SigCache:
    """A bounded set of verified signature checks; ``verifier`` is a consensus ``Verifier``.

    Safe to share between the event-loop thread and a validation thread: each dict
    operation runs under one lock, and verification itself runs outside it.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("a signature cache needs room for at least one entry")
        self.max_entries = max_entries
        self.hits = 0  # checks found in the cache
        self.misses = 0  # checks verified for real
        self._salt = os.urandom(16)
        self._entries: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, check: SigCheck) -> bytes:
        key_type, pubkey, sig, msg = check
        h = blake2b(digest_size=16, key=self._salt)
        h.update(key_type.to_bytes(1, "little"))
        for part in (pubkey, sig, msg):
            h.update(len(part).to_bytes(4, "little"))
            h.update(part)
        return h.digest()

    def contains(self, check: SigCheck) -> bool:
        return self._key(check) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def verifier(self, checks: Sequence[SigCheck]) -> None:
        """Verify each check not already cached, in order; cache each that passes.

        Raises the scheme's ``RuleError`` at the first bad signature, exactly as
        ``consensus.validation.verify_sig_checks`` would: cached checks are all valid, so
        skipping them cannot change which check fails first.
        """
        for check in checks:
            key = self._key(check)
            if key in self._entries:
                self.hits += 1
                continue
            self.misses += 1
            key_type, pubkey, sig, msg = check
            REGISTRY[key_type].verify(pubkey, sig, msg)
            self._insert(key)

    def _insert(self, key: bytes) -> None:
        with self._lock:
            self._entries[key] = None
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @property
    def stats(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "entries": len(self._entries),
            "max_entries": self.max_entries,
        }
