"""A cache of signatures already verified, shared by the mempool and block validation.

A tx is usually verified when it enters the mempool and again when a block containing it
is connected; with the cache the second check is a dictionary lookup. Only successful
verifications are stored, so a bad signature is verified (and rejected) every time: the
cache can make validation faster, never more lenient. Only the mempool stores; a block's
checks are looked up and not stored (``block_verifier``), as Bitcoin Core's block
connection does: nothing asks for them again, and during a sync they would fill the cache
with some 30 MB of entries that evict the mempool's.

It also remembers, by wtxid, txs whose every input check passed (``add_tx``): block
validation then skips those txs' input checks altogether, as Bitcoin Core's script
execution cache does. Those checks depend only on the tx and the outputs it spends, and
the wtxid covers the whole tx, keys and signatures included.

Entries are keyed by a salted 16-byte BLAKE2b of the whole check (key type, public key,
signature, message, with their lengths up front), so the cache holds small keys, and the
salt, random per process, keeps anyone from crafting colliding checks offline. The key is
one BLAKE2b call over one joined string: on a block whose signatures are all cached it is
most of what checking a signature costs. Eviction is FIFO.
"""

from __future__ import annotations

import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from hashlib import blake2b
from itertools import islice

from consensus.primitives import Tx
from consensus.signatures import REGISTRY
from consensus.validation import SigCheck

DEFAULT_MAX_ENTRIES = 200_000
DEFAULT_MAX_TXS = 50_000
_LENGTHS = struct.Struct("<BHHH").pack  # key type, then the lengths of pubkey, sig, msg


class SigCache:
    """A bounded set of verified signature checks; ``verifier`` is a consensus ``Verifier``.

    Safe to share between the event-loop thread and a validation thread: each dict
    operation runs under one lock, and verification itself runs outside it.
    """

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, max_txs: int = DEFAULT_MAX_TXS
    ) -> None:
        if max_entries < 1 or max_txs < 0:
            raise ValueError("a signature cache needs room for at least one entry")
        self.max_entries = max_entries
        self.max_txs = max_txs
        self._txs: dict[bytes, None] = {}
        self.hits = 0  # checks found in the cache
        self.misses = 0  # checks verified for real
        self._salt = os.urandom(16)
        self._entries: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, check: SigCheck) -> bytes:
        """The cache's name for ``check``."""
        key_type, pubkey, sig, msg = check
        head = _LENGTHS(key_type, len(pubkey), len(sig), len(msg))
        return blake2b(b"".join((self._salt, head, pubkey, sig, msg)), digest_size=16).digest()

    def contains(self, check: SigCheck) -> bool:
        return self.key(check) in self._entries

    def has_key(self, key: bytes) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def verifier(self, checks: Sequence[SigCheck]) -> None:
        """Verify each check not already cached, in order; cache each that passes (the
        mempool's ``Verifier``).

        Raises the scheme's ``RuleError`` at the first bad signature, exactly as
        ``consensus.validation.verify_sig_checks`` would: cached checks are all valid, so
        skipping them cannot change which check fails first.
        """
        self._verify(checks, store=True)

    def block_verifier(self, checks: Sequence[SigCheck]) -> None:
        """``verifier`` without storing what passes: for a block's checks."""
        self._verify(checks, store=False)

    def _verify(self, checks: Sequence[SigCheck], store: bool) -> None:
        entries = self._entries
        for check in checks:
            key = self.key(check)
            if key in entries:
                self.hits += 1
                continue
            self.misses += 1
            key_type, pubkey, sig, msg = check
            REGISTRY[key_type].verify(pubkey, sig, msg)
            if store:
                self.add_keys((key,))

    def add_tx(self, tx: Tx) -> None:
        """Record that every input check of ``tx`` passed (its keys match the locks it
        spends, its signatures verify)."""
        if not self.max_txs:
            return
        with self._lock:
            txs = self._txs
            txs[tx.wtxid] = None
            if len(txs) > self.max_txs:
                for wtxid in list(islice(txs, len(txs) - self.max_txs + self.max_txs // 10)):
                    del txs[wtxid]

    def has_tx(self, wtxid: bytes) -> bool:
        return wtxid in self._txs

    def add_keys(self, keys: Iterable[bytes]) -> None:
        """Record checks (by ``key``) that were verified elsewhere and passed."""
        with self._lock:
            entries = self._entries
            for key in keys:
                entries[key] = None
            while len(entries) > self.max_entries:
                entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._txs.clear()

    @property
    def stats(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "entries": len(self._entries),
            "max_entries": self.max_entries,
        }
