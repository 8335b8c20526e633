"""Coin selection properties: never overspends, never leaves dust change, and charges
exactly ``fee rate x final size`` (the leftover of a change-less tx and the width-boundary
cap being the two documented exceptions); sizes match real signed txs."""

from __future__ import annotations

import hashlib

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from consensus.params import REGTEST
from consensus.primitives import TxOut
from consensus.signatures import ED25519, REGISTRY, SECP256K1, make_lock
from wallet.coinselect import Candidate, Selection, max_leftover, select_coins
from wallet.errors import InsufficientFunds
from wallet.txbuild import input_size, sign_inputs, tx_size, unsigned_tx

DUST = 546
KEY_TYPES = (ED25519.key_type, SECP256K1.key_type)

coin_st = st.tuples(
    st.integers(1, 10**10),  # value
    st.integers(0, 70_000),  # output index (its width changes the input size)
    st.sampled_from(KEY_TYPES),
)
coins_st = st.lists(coin_st, min_size=0, max_size=25)
payments_st = st.lists(st.integers(DUST, 5 * 10**9), min_size=1, max_size=3)
rate_st = st.integers(1, 300)


def candidates(coins: list[tuple[int, int, int]]) -> list[Candidate]:
    return [
        Candidate(
            hashlib.sha256(b"%d" % n).digest() + index.to_bytes(4, "little"),
            value,
            input_size(index, key_type),
        )
        for n, (value, index, key_type) in enumerate(coins)
    ]


def check(selection: Selection, pool: list[Candidate], payments: list[int], rate: int) -> None:
    keys = [c.key for c in selection.inputs]
    assert len(keys) == len(set(keys)), "a coin used twice"
    assert set(selection.inputs) <= set(pool)
    total = sum(c.value for c in selection.inputs)
    assert total == sum(payments) + selection.fee + selection.change, "money created or lost"
    assert selection.change == 0 or selection.change >= DUST, "dust change"
    outputs = [*payments, selection.change] if selection.change else payments
    assert selection.size == tx_size([c.input_size for c in selection.inputs], outputs)
    leftover = selection.fee - rate * selection.size
    assert leftover >= 0, "fee below the rate"
    if selection.change and selection.change not in (0xFFFF, 0xFFFF_FFFF):
        assert leftover == 0, "fee differs from rate x size"
    elif selection.change:
        assert leftover < 4 * rate  # the change-width boundary cap
    else:
        assert leftover <= max_leftover(rate, DUST)


@settings(max_examples=400, deadline=None)
@given(coins_st, payments_st, rate_st)
def test_selection_is_exact_and_never_overspends(coins, payments, rate):
    pool = candidates(coins)
    try:
        selection = select_coins(pool, payments, rate, DUST)
    except InsufficientFunds:
        useful = [c for c in pool if c.value > rate * c.input_size]
        needed = sum(payments) + rate * tx_size([c.input_size for c in useful], payments)
        assert sum(c.value for c in useful) < needed, "funds were there"
        return
    check(selection, pool, payments, rate)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 10**8), min_size=1, max_size=12), rate_st, st.data())
def test_an_exact_match_needs_no_change(values, rate, data):
    """Coins whose effective values sum to the target exactly are found by branch and
    bound, and the fee is then rate x size to the unit."""
    pool = candidates([(v + rate * input_size(0, ED25519.key_type), 0, 1) for v in values])
    chosen = data.draw(st.lists(st.sampled_from(range(len(pool))), min_size=1, unique=True))
    target = sum(values[i] for i in chosen)
    amount = target - rate * tx_size([], [target])  # the tx's cost besides its inputs
    assume(amount >= DUST and target - amount == rate * tx_size([], [amount]))
    selection = select_coins(pool, [amount], rate, DUST)
    check(selection, pool, [amount], rate)
    assert selection.algorithm == "bnb"
    assert selection.change == 0 and selection.fee == rate * selection.size


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(10**6, 10**10), st.sampled_from(KEY_TYPES)), min_size=1, max_size=6
    ),
    st.integers(DUST, 10**8),
    rate_st,
)
def test_sizes_match_real_signed_txs(coins, amount, rate):
    secrets = [hashlib.sha256(b"key %d" % n).digest() for n in range(len(coins))]
    locks = [
        make_lock(kt, REGISTRY[kt].pubkey_from_secret(s))
        for (_, kt), s in zip(coins, secrets, strict=True)
    ]
    pool = candidates([(value, n, kt) for n, (value, kt) in enumerate(coins)])
    try:
        selection = select_coins(pool, [amount], rate, DUST)
    except InsufficientFunds:
        return
    by_key = {c.key: n for n, c in enumerate(pool)}
    order = [by_key[c.key] for c in selection.inputs]
    outputs = [TxOut(amount, locks[0])]
    if selection.change:
        outputs.append(TxOut(selection.change, locks[-1]))
    tx = unsigned_tx([(pool[n].key[:32], n) for n in order], outputs)
    signed = sign_inputs(
        tx,
        {i: (coins[n][1], secrets[n]) for i, n in enumerate(order)},
        [(coins[n][0], locks[n]) for n in order],
        REGTEST,
    )
    assert signed.size == selection.size
