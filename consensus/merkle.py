"""RFC 6962 Merkle Tree Hash.

Leaves are hashed as sha256(0x00 || leaf) and nodes as sha256(0x01 || left || right), the
tree split at the largest power of two below n. Unlike Bitcoin's tree no leaf is ever
duplicated, so two different lists of transactions cannot share a root (CVE-2012-2459).
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

EMPTY_ROOT = sha256(b"").digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle Tree Hash of ``leaves`` (raw leaf bytes)."""
    if not leaves:
        return EMPTY_ROOT
    level = [sha256(b"\x00" + leaf).digest() for leaf in leaves]
    # Bottom-up: pairing left to right and carrying an odd last node up unchanged gives
    # exactly the RFC's top-down split at the largest power of two below n.
    while len(level) > 1:
        nxt = [
            sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
