"""Coin selection: which coins pay for a set of outputs, the exact fee, and the change.

Two algorithms, tried in order, as in Bitcoin Core:

1. Branch and bound (Murch's, Core's ``SelectCoinsBnB``): a depth-first search for a set of
   coins whose effective values (value minus the fee to spend it) cover the payments plus
   the fee of a change-less tx, exceeding it by at most the cost of making and later
   spending a change output. The excess goes to the fee, and the tx needs no change.
2. A fallback when no such set exists: the smallest single coin that covers everything
   with a change output of at least the dust limit; else the largest coins first until
   they do (or until the coins run out, keeping whatever covers the change-less tx).

The fee is then computed from the final tx's exact encoded size (``wallet.txbuild``):
``fee = fee_rate x size``. A change output is added only if it is worth at least the dust
limit; below that, the leftover is added to the fee (a dust output costs more to spend than
it holds, and the mempool would refuse it). The change value's MessagePack width changes
the size it pays for; at a width boundary (65,535 / 65,536 units, 2^32) no value may fit
exactly, and then the change is capped at the largest value of the narrower width and the
few units of difference go to the fee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus.signatures import ED25519

from .errors import InsufficientFunds
from .txbuild import input_size, output_size, tx_size

BNB_MAX_TRIES = 100_000
# The largest value of each MessagePack unsigned-int width, narrowest first.
_WIDTH_MAX = (127, 255, 0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF)
# A change output is later spent by an input like this one (Ed25519, small index).
_CHANGE_SPEND_SIZE = input_size(0, ED25519.key_type)
_MAX_OUTPUT_SIZE = output_size(_WIDTH_MAX[-1])


@dataclass(frozen=True, slots=True)
class Candidate:
    """A spendable coin as selection sees it: its outpoint key, value and input size."""

    key: bytes
    value: int
    input_size: int


@dataclass(frozen=True, slots=True)
class Selection:
    """The chosen coins and what the tx will look like: ``sum(inputs) == payments + fee +
    change``; ``change`` is 0 when there is no change output."""

    inputs: tuple[Candidate, ...]
    fee: int
    change: int
    size: int
    algorithm: str  # "bnb", "single" or "largest-first"


def cost_of_change(fee_rate: int) -> int:
    """What a change output costs: its own bytes now and an input spending it later."""
    return fee_rate * (_MAX_OUTPUT_SIZE + _CHANGE_SPEND_SIZE)


def max_leftover(fee_rate: int, dust_limit: int) -> int:
    """The most a change-less selection ever adds to ``fee_rate x size``."""
    return max(cost_of_change(fee_rate), dust_limit + fee_rate * _MAX_OUTPUT_SIZE)


def select_coins(
    candidates: Sequence[Candidate],
    payments: Sequence[int],
    fee_rate: int,
    dust_limit: int,
    required: Sequence[Candidate] = (),
    policy_outputs: int = 0,
) -> Selection:
    """Choose coins from ``candidates`` to pay ``payments`` at ``fee_rate`` units per byte.

    ``required`` coins are always spent (fundrawtransaction's preset inputs); then the
    others are added largest first, as in the fallback. ``policy_outputs`` of the payments
    go to 33-byte policy locks, the others (and the change) to 21-byte key locks. Raises
    ``InsufficientFunds`` when no subset can pay the outputs and the fee.
    """
    if fee_rate < 0 or not payments or any(v <= 0 for v in payments):
        raise ValueError("payments must be positive and the fee rate non-negative")
    if required:
        return _with_required(candidates, payments, fee_rate, dust_limit, required, policy_outputs)
    amount = sum(payments)
    pool = sorted(
        (c for c in candidates if c.value - fee_rate * c.input_size > 0),
        key=lambda c: (-(c.value - fee_rate * c.input_size), c.key),
    )
    eff = [c.value - fee_rate * c.input_size for c in pool]
    no_change_target = amount + fee_rate * tx_size([], payments, policy_outputs)
    change_cost = cost_of_change(fee_rate)

    def finalize(coins: Sequence[Candidate], algorithm: str) -> Selection | None:
        return _finalize(coins, payments, fee_rate, dust_limit, algorithm, policy_outputs)

    found = _bnb(eff, no_change_target, change_cost)
    if found is not None:
        selection = finalize([pool[i] for i in found], "bnb")
        if selection is not None and selection.fee - fee_rate * selection.size <= change_cost:
            return selection

    with_change_target = no_change_target + fee_rate * _MAX_OUTPUT_SIZE + dust_limit
    for i in reversed(range(len(pool))):  # smallest effective value first
        if eff[i] >= with_change_target:
            selection = finalize([pool[i]], "single")
            if selection is not None:
                return selection
            break

    chosen: list[Candidate] = []
    best: Selection | None = None
    for coin in pool:
        chosen.append(coin)
        selection = finalize(chosen, "largest-first")
        if selection is not None:
            if selection.change:
                return selection
            best = best or selection
    if best is None:
        raise InsufficientFunds("Insufficient funds")
    return best


def _with_required(
    candidates: Sequence[Candidate],
    payments: Sequence[int],
    fee_rate: int,
    dust_limit: int,
    required: Sequence[Candidate],
    policy_outputs: int,
) -> Selection:
    chosen = list(required)
    pool = sorted(candidates, key=lambda c: (-(c.value - fee_rate * c.input_size), c.key))
    best = _finalize(chosen, payments, fee_rate, dust_limit, "preset", policy_outputs)
    for coin in pool:
        if best is not None:
            break
        chosen.append(coin)
        best = _finalize(chosen, payments, fee_rate, dust_limit, "preset", policy_outputs)
    if best is None:
        raise InsufficientFunds("Insufficient funds")
    return best


def _bnb(values: list[int], target: int, window: int) -> list[int] | None:
    """Indexes of ``values`` (sorted descending) summing to [target, target + window] with
    the least excess, or None. Depth-first, inclusion branch first, as Core's
    ``SelectCoinsBnB``; an excluded value equal to its predecessor is not tried again."""
    available = sum(values)
    if available < target:
        return None
    selected: list[int] = []
    best: list[int] | None = None
    best_excess = window + 1
    total = 0
    index = 0
    for _ in range(BNB_MAX_TRIES):
        backtrack = False
        if total + available < target or total > target + window:
            backtrack = True
        elif total >= target:
            if total - target < best_excess:
                best, best_excess = list(selected), total - target
                if best_excess == 0:
                    break
            backtrack = True
        if backtrack:
            if not selected:
                break
            index -= 1
            while index > selected[-1]:  # values skipped on the way down come back
                available += values[index]
                index -= 1
            total -= values[index]
            selected.pop()
        else:
            available -= values[index]
            skip = selected and selected[-1] != index - 1 and values[index] == values[index - 1]
            if not skip:
                selected.append(index)
                total += values[index]
        index += 1
    return best


def _finalize(
    coins: Sequence[Candidate],
    payments: Sequence[int],
    fee_rate: int,
    dust_limit: int,
    algorithm: str,
    policy_outputs: int = 0,
) -> Selection | None:
    """The exact fee and change for spending ``coins``; None if they do not cover it."""
    total = sum(c.value for c in coins)
    amount = sum(payments)
    sizes = [c.input_size for c in coins]
    size = tx_size(sizes, payments, policy_outputs)
    if total < amount + fee_rate * size:
        return None
    change = _change_value(total - amount, sizes, payments, fee_rate, policy_outputs)
    if change >= dust_limit:
        with_change = tx_size(sizes, [*payments, change], policy_outputs)
        return Selection(tuple(coins), total - amount - change, change, with_change, algorithm)
    return Selection(tuple(coins), total - amount, 0, size, algorithm)


def _change_value(
    available: int, sizes: list[int], payments: Sequence[int], rate: int, policy_outputs: int
) -> int:
    """The change that leaves exactly ``rate x size`` as fee, size counting the change's own
    MessagePack width; at a width boundary where no value fits, the narrower width's
    largest value (see the module docstring). May be negative: then there is no change."""
    previous_max = None
    for width_max in _WIDTH_MAX:
        change = available - rate * tx_size(sizes, [*payments, width_max], policy_outputs)
        if change <= width_max:
            if previous_max is not None and change <= previous_max:
                return previous_max  # no fixed point: cap at the narrower width
            return change
        previous_max = width_max
    raise ValueError("change above the largest 64-bit value")


def select_subtracting_fee(
    candidates: Sequence[Candidate],
    payments: Sequence[int],
    subtract: Sequence[int],
    fee_rate: int,
    dust_limit: int,
    policy_outputs: int = 0,
) -> tuple[Selection, list[int]]:
    """Coins for ``payments`` whose fee is taken from the outputs at indexes ``subtract``
    (Core's subtractfeefromamount): (selection, the payments after the fee came off).

    Coins are taken largest first until they cover the payments alone. The fee is split
    evenly, the first subtracting output paying the remainder, as Core does. A leftover
    below the dust limit pays toward the fee first. The size is that of the payments before
    the fee came off, so at an integer width boundary the fee may exceed rate x size by a
    few units. Raises ``InsufficientFunds`` when the coins fall short or an output would
    not stay above the dust limit.
    """
    amount = sum(payments)
    chosen: list[Candidate] = []
    total = 0
    for coin in sorted(candidates, key=lambda c: (-c.value, c.key)):
        if total >= amount:
            break
        chosen.append(coin)
        total += coin.value
    if total < amount:
        raise InsufficientFunds("Insufficient funds")
    sizes = [c.input_size for c in chosen]
    change = total - amount
    if change >= dust_limit:
        size = tx_size(sizes, [*payments, change], policy_outputs)
        owed = fee_rate * size
    else:
        size = tx_size(sizes, payments, policy_outputs)
        owed = max(0, fee_rate * size - change)
        change = 0
    share, rest = divmod(owed, len(subtract))
    paid = list(payments)
    for n, index in enumerate(subtract):
        paid[index] -= share + (rest if n == 0 else 0)
        if paid[index] < dust_limit:
            raise InsufficientFunds("The transaction amount is too small to pay the fee")
    fee = total - sum(paid) - change
    return Selection(tuple(chosen), fee, change, size, "subtract-fee"), paid
