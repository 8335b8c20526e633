"""The network's hash rate, as the chain's work shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..chain.manager import Chain


def network_hashps(chain: Chain, nblocks: int, height: int = -1) -> float:
    """Core's getnetworkhashps: the work of the ``nblocks`` blocks up to ``height`` (the tip
    for -1; 120 blocks for 0 or less) divided by the seconds they took."""
    tip = chain.at_height(height) if 0 <= height <= chain.height else chain.tip
    if tip is None or tip.height == 0:
        return 0.0
    if nblocks <= 0:
        nblocks = 120
    nblocks = min(nblocks, tip.height)
    start = (
        chain.at_height(tip.height - nblocks)
        if chain.contains(tip)
        else tip.ancestor(tip.height - nblocks)
    )
    assert start is not None
    span = tip.header.time - start.header.time
    if span <= 0:
        return 0.0
    return (tip.chainwork - start.chainwork) / span
