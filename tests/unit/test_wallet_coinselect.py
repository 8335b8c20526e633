"""wallet.coinselect and wallet.txbuild on hand-picked cases: the algorithms' choices, the
change-width boundary, dust, and sizes against real encodings."""

from __future__ import annotations

import pytest

from consensus.params import REGTEST
from consensus.primitives import TxOut
from consensus.signatures import ED25519, SECP256K1, make_lock
from tests.chain_helpers import key
from wallet.coinselect import Candidate, select_coins
from wallet.errors import InsufficientFunds
from wallet.txbuild import input_size, output_size, sign_inputs, tx_size, unsigned_tx

DUST = 546
ED_IN = input_size(0, ED25519.key_type)


def coin(n: int, value: int, size: int = ED_IN) -> Candidate:
    return Candidate(bytes([n]) * 32 + bytes(4), value, size)


def test_sizes_of_the_encoding():
    assert ED_IN == 1 + 34 + 1 + 34 + 66
    assert input_size(0, SECP256K1.key_type) == ED_IN + 1
    assert input_size(200, ED25519.key_type) == ED_IN + 1  # uint8 takes 2 bytes
    assert [output_size(v) for v in (127, 128, 255, 256, 65535, 65536, 2**32)] == [
        25,
        26,
        26,
        27,
        27,
        29,
        33,
    ]
    a, b = key(1), key(2, SECP256K1.key_type)
    tx = unsigned_tx([(bytes(32), 0), (bytes([1]) * 32, 300)], [TxOut(10**9, a.lock)] * 16)
    signed = sign_inputs(
        tx,
        {0: (a.key_type, a.secret), 1: (b.key_type, b.secret)},
        [(10**9, a.lock), (10**9, b.lock)],
        REGTEST,
    )
    assert signed.size == tx_size([ED_IN, input_size(300, b.key_type)], [10**9] * 16)


def test_policy_outputs_are_counted_at_their_33_bytes():
    a = key(1)
    policy_lock = bytes([0x03]) + bytes(32)
    outputs = [TxOut(10**9, policy_lock), TxOut(5 * 10**8, a.lock), TxOut(7000, policy_lock)]
    tx = unsigned_tx([(bytes(32), 0)], outputs)
    signed = sign_inputs(tx, {0: (a.key_type, a.secret)}, [(2 * 10**9, a.lock)], REGTEST)
    assert signed.size == tx_size([ED_IN], [o.value for o in outputs], policy_outputs=2)
    selection = select_coins([coin(1, 10**8)], [5 * 10**7], 10, DUST, policy_outputs=1)
    paying = unsigned_tx(
        [(bytes([1]) * 32, 0)], [TxOut(5 * 10**7, policy_lock), TxOut(selection.change, a.lock)]
    )
    signed = sign_inputs(paying, {0: (a.key_type, a.secret)}, [(10**8, a.lock)], REGTEST)
    assert selection.size == signed.size
    assert selection.fee == 10 * signed.size


def test_partial_signing_keeps_other_inputs():
    a = key(1)
    tx = unsigned_tx([(bytes(32), 0), (bytes([1]) * 32, 1)], [TxOut(5000, a.lock)])
    signed = sign_inputs(tx, {1: (a.key_type, a.secret)}, [None, (6000, a.lock)], REGTEST)
    assert signed.inputs[0] == tx.inputs[0]
    assert make_lock(a.key_type, signed.inputs[1].pubkey) == a.lock
    assert len(signed.inputs[1].sig) == 64


def test_exact_match_is_found_by_branch_and_bound():
    rate, pay = 2, 10_000
    second = pay + rate * tx_size([ED_IN, ED_IN], [pay]) - 7_000  # 7000 + it: exact
    pool = [coin(1, 7_000), coin(2, second), coin(3, 50_000)]
    selection = select_coins(pool, [pay], rate, DUST)
    assert selection.algorithm == "bnb"
    assert selection.change == 0
    assert {c.key[0] for c in selection.inputs} == {1, 2}
    assert selection.fee == rate * selection.size


def test_fallback_makes_change_from_the_smallest_sufficient_coin():
    pool = [coin(1, 10**8), coin(2, 10**9), coin(3, 10**10)]
    selection = select_coins(pool, [5 * 10**7], 10, DUST)
    assert selection.algorithm == "single"
    assert [c.key[0] for c in selection.inputs] == [1]
    assert selection.change == 10**8 - 5 * 10**7 - selection.fee
    assert selection.fee == 10 * selection.size


def test_largest_first_when_no_single_coin_is_enough():
    pool = [coin(n, 10**6) for n in range(1, 20)]  # 19 coins: the input header widens at 16
    selection = select_coins(pool, [17 * 10**6], 1, DUST)
    assert selection.algorithm == "largest-first"
    assert len(selection.inputs) == 18
    assert selection.size == tx_size([ED_IN] * 18, [17 * 10**6, selection.change])
    assert selection.fee == selection.size


def test_dust_change_goes_to_the_fee():
    rate = 1
    needed = 10_000 + rate * tx_size([ED_IN], [10_000])
    selection = select_coins([coin(1, needed + 500)], [10_000], rate, DUST)
    assert selection.change == 0
    assert selection.fee == needed + 500 - 10_000


def test_change_width_boundary_caps_the_change():
    """At 65,535/65,536 units no change value pays exactly rate x size: the change is
    capped at 65,535 and the unit left over goes to the fee."""
    rate = 1
    small = tx_size([ED_IN], [100_000, 0xFFFF])  # size with a 3-byte change value
    value = 100_000 + 0x10000 + small  # would leave 65,536 (5 bytes) at the small size
    selection = select_coins([coin(1, value)], [100_000], rate, DUST)
    assert selection.change == 0xFFFF
    assert selection.size == small
    assert selection.fee == rate * small + 1


def test_insufficient_funds_and_uneconomic_coins():
    with pytest.raises(InsufficientFunds):
        select_coins([coin(1, 10_000)], [10_000], 1, DUST)
    with pytest.raises(InsufficientFunds):  # each coin costs more to spend than it holds
        select_coins([coin(n, 100) for n in range(50)], [600], 1, DUST)
    with pytest.raises(InsufficientFunds):
        select_coins([], [600], 1, DUST)
    with pytest.raises(ValueError):
        select_coins([coin(1, 10**8)], [0], 1, DUST)
