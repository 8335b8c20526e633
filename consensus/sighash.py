"""What input i of a transaction signs.

``sha256d(b"OBOL/sighash" || magic || txid || u32le(i) || u64le(spent value) || spent lock)``:
the network (no replay across networks), the whole tx (its txid leaves signatures out), the
input's position, and the coin it spends (value and lock, so a signer never has to trust
someone else's word for the amount).
"""

from __future__ import annotations

from .hashing import sha256d
from .params import NetworkParams

SIGHASH_TAG = b"OBOL/sighash"


def sighash_head(params: NetworkParams, txid: bytes) -> bytes:
    """What every input's sighash of a tx starts with: validation builds it once per tx."""
    return SIGHASH_TAG + params.magic + txid


def sighash_from_head(head: bytes, index: int, value: int, lock: bytes) -> bytes:
    """``sighash`` given ``sighash_head(params, txid)``."""
    return sha256d(b"".join((head, index.to_bytes(4, "little"), value.to_bytes(8, "little"), lock)))


def sighash(params: NetworkParams, txid: bytes, index: int, value: int, lock: bytes) -> bytes:
    return sighash_from_head(sighash_head(params, txid), index, value, lock)
