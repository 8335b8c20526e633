"""Building a policy's satisfaction from the signatures and preimages at hand.

A satisfaction must use **exactly** k children of every used threshold (docs/PROTOCOL.md,
"Satisfactions"), so a finalizer holding three signatures of a 2-of-3 uses two of them.
``plan`` finds the cheapest way to satisfy a policy, allowing items that are not there
yet, each counted as missing: the plan with the fewest missing items wins, then the one
with the fewest time locks (a branch that needs no time lock is preferred when both
work, as Miniscript's satisfier prefers it: it stays valid whatever the locktime), then
the smallest satisfaction. Within one threshold the children are independent, so taking
the k cheapest children by that order is the cheapest choice for the threshold.

A plan with nothing missing is the satisfaction to put in the input; otherwise its
missing keys, hashes and time locks are what the input still needs. Whether ``after(n)``
holds depends on the tx's locktime only (consensus checks nothing else); whether the tx
can be mined at the current height is the tx's finality, the same for every branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consensus.params import LOCKTIME_THRESHOLD
from consensus.policy import After, Key, Policy, Thresh

# Stand-ins for missing items in a plan's tree: the size of a 64-byte signature and a
# 32-byte preimage, so an incomplete plan still estimates the final size.
_SIG_STAND_IN = bytes(64)
_PREIMAGE_STAND_IN = bytes(32)


@dataclass(frozen=True, slots=True)
class Plan:
    """The cheapest satisfaction of a policy, with what it still lacks."""

    sat: Any  # the satisfaction tree; stand-ins where items are missing
    missing_keys: tuple[Key, ...]
    missing_hashes: tuple[bytes, ...]
    missing_after: tuple[int, ...]
    timelocks: int  # used after(n) nodes
    size: int  # bytes of the encoded satisfaction

    @property
    def complete(self) -> bool:
        return not (self.missing_keys or self.missing_hashes or self.missing_after)

    @property
    def cost(self) -> tuple[int, int, int]:
        missing = len(self.missing_keys) + len(self.missing_hashes) + len(self.missing_after)
        return (missing, self.timelocks, self.size)


def after_holds(n: int, locktime: int) -> bool:
    """Whether ``after(n)`` holds for a tx of ``locktime`` (same domain, not below)."""
    return (locktime < LOCKTIME_THRESHOLD) == (n < LOCKTIME_THRESHOLD) and locktime >= n


def _array_header(n: int) -> int:
    return 1 if n <= 15 else 3


def plan(
    policy: Policy,
    sigs: Mapping[Key, bytes],
    preimages: Mapping[bytes, bytes],
    locktime: int,
) -> Plan:
    """The cheapest plan for ``policy`` given valid ``sigs`` (by key) and ``preimages``
    (by their sha256), for a tx of ``locktime``."""
    if type(policy) is Key:
        sig = sigs.get(policy)
        if sig is None:
            return Plan(_SIG_STAND_IN, (policy,), (), (), 0, 66)
        return Plan(sig, (), (), (), 0, 2 + len(sig))
    if type(policy) is After:
        missing = () if after_holds(policy.n, locktime) else (policy.n,)
        return Plan(True, (), (), missing, 1, 1)
    if type(policy) is Thresh:
        subs = [plan(sub, sigs, preimages, locktime) for sub in policy.subs]
        order = sorted(range(len(subs)), key=lambda n: (subs[n].cost, n))
        chosen = sorted(order[: policy.k])
        used = [subs[n] for n in chosen]
        return Plan(
            [subs[n].sat if n in chosen else None for n in range(len(subs))],
            tuple(k for p in used for k in p.missing_keys),
            tuple(h for p in used for h in p.missing_hashes),
            tuple(a for p in used for a in p.missing_after),
            sum(p.timelocks for p in used),
            _array_header(len(subs)) + sum(p.size for p in used) + len(subs) - policy.k,
        )
    preimage = preimages.get(policy.hash)
    if preimage is None:
        return Plan(_PREIMAGE_STAND_IN, (), (policy.hash,), (), 0, 34)
    return Plan(preimage, (), (), (), 0, 34)
