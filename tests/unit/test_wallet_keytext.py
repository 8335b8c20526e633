"""Private key strings, signed messages and fee-subtracting coin selection: pure wallet parts."""

from __future__ import annotations

import pytest

from consensus.params import DEVNET, REGTEST
from consensus.signatures import ED25519, SECP256K1, make_lock
from wallet.coinselect import Candidate, select_subtracting_fee
from wallet.errors import InsufficientFunds
from wallet.message import MalformedSignature, sign_message, verify_message
from wallet.privkey import InvalidPrivateKey, decode_privkey, encode_privkey

SECRET = bytes(range(1, 33))


@pytest.mark.parametrize("scheme", [ED25519, SECP256K1])
def test_privkey_round_trip_and_network(scheme):
    text = encode_privkey(scheme.key_type, SECRET, REGTEST)
    assert text.startswith("obrtsec1")
    assert decode_privkey(text, REGTEST) == (scheme.key_type, SECRET)
    with pytest.raises(InvalidPrivateKey):
        decode_privkey(text, DEVNET)
    with pytest.raises(InvalidPrivateKey):
        decode_privkey(text[:-1] + ("q" if text[-1] != "q" else "p"), REGTEST)  # checksum


def test_secp256k1_zero_is_no_key():
    text = encode_privkey(SECP256K1.key_type, bytes(32), REGTEST)
    with pytest.raises(InvalidPrivateKey):
        decode_privkey(text, REGTEST)


@pytest.mark.parametrize("scheme", [ED25519, SECP256K1])
def test_message_signature_binds_key_message_and_network(scheme):
    lock = make_lock(scheme.key_type, scheme.pubkey_from_secret(SECRET))
    sig = sign_message(scheme.key_type, SECRET, "pay me", REGTEST)
    assert verify_message(lock, sig, "pay me", REGTEST)
    assert not verify_message(lock, sig, "pay you", REGTEST)
    assert not verify_message(lock, sig, "pay me", DEVNET)
    other = make_lock(scheme.key_type, scheme.pubkey_from_secret(bytes(31) + b"\x07"))
    assert not verify_message(other, sig, "pay me", REGTEST)
    with pytest.raises(MalformedSignature):
        verify_message(lock, "!!", "pay me", REGTEST)


def test_subtracting_fee_splits_it_and_keeps_the_total():
    coins = [Candidate(bytes([n]) * 36, v, 100) for n, v in enumerate((10_000, 50_000))]
    selection, paid = select_subtracting_fee(coins, [30_000, 15_001], [0, 1], 3, 546)
    assert [c.value for c in selection.inputs] == [50_000]  # largest first, enough alone
    assert selection.change == 50_000 - 45_001  # the change keeps its value: fee from outputs
    assert sum(paid) + selection.fee + selection.change == 50_000
    assert selection.fee == 3 * selection.size
    assert (30_000 - paid[0]) - (15_001 - paid[1]) == selection.fee % 2  # first pays the odd unit
    exact, paid = select_subtracting_fee(coins, [50_000], [0], 3, 546)
    assert exact.change == 0 and paid == [50_000 - exact.fee]  # the whole coin, less the fee
    with pytest.raises(InsufficientFunds):
        select_subtracting_fee(coins, [70_000], [0], 3, 546)
    with pytest.raises(InsufficientFunds):
        select_subtracting_fee(coins, [600], [0], 3, 546)  # too small to pay the fee
