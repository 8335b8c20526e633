"""Contract strings (wallet.contracts): any escrow reads back as itself; a cut or changed
string is refused or reads as exactly the string it is."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.policy import Key
from consensus.signatures import ED25519
from tests.unit.test_wallet_contract_strings import CONTRACTS
from wallet.contracts import PREFIX, ContractError, Escrow, decode_contract, encode_contract

heights = st.integers(min_value=1, max_value=499_999_999)
amounts = st.integers(min_value=0, max_value=2**63 - 1)
ed_keys = st.binary(min_size=32, max_size=32).map(lambda b: Key(ED25519.key_type, b))


@given(
    txid=st.binary(min_size=32, max_size=32),
    vout=st.integers(min_value=0, max_value=2**32 - 1),
    amount=amounts,
    keys=st.lists(ed_keys, min_size=3, max_size=3, unique=True),
    height=heights,
)
def test_escrows_round_trip(txid, vout, amount, keys, height):
    escrow = Escrow("regtest", txid, vout, amount, *keys, height)
    assert decode_contract(encode_contract(escrow), "regtest") == escrow


@given(cut=st.integers(min_value=1, max_value=200), data=st.data())
def test_a_cut_or_changed_string_never_reads_as_another_contract(cut, data):
    text = encode_contract(CONTRACTS[data.draw(st.integers(0, len(CONTRACTS) - 1))])
    cut_text = text[: max(len(PREFIX), len(text) - cut)]
    with pytest.raises(ContractError):
        decode_contract(cut_text, "regtest")
    body = base64.b64decode(text[len(PREFIX) :])
    at = data.draw(st.integers(0, len(body) - 1))
    flipped = body[:at] + bytes([body[at] ^ data.draw(st.integers(1, 255))]) + body[at + 1 :]
    changed = PREFIX + base64.b64encode(flipped).decode()
    try:
        decoded = decode_contract(changed, "regtest")
    except ContractError:
        return
    assert encode_contract(decoded) == changed  # a valid string, and exactly this one
