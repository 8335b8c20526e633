"""wallet.contracts: the escrow and loan policies and their contract strings."""

from __future__ import annotations

import base64

import msgpack
import pytest

from consensus.policy import Key, encode_policy, policy_lock
from consensus.policy_text import format_policy
from consensus.signatures import ED25519, SECP256K1
from node.rpc.errors import RPC_DESERIALIZATION_ERROR, wallet_error_code
from wallet.contracts import (
    PREFIX,
    ContractError,
    Escrow,
    Loan,
    LoanOffer,
    LoanRequest,
    decode_contract,
    encode_contract,
)

B = Key(ED25519.key_type, bytes([1]) * 32)
S = Key(ED25519.key_type, bytes([2]) * 32)
A = Key(SECP256K1.key_type, bytes([2]) + bytes([3]) * 32)
ESCROW = Escrow("regtest", bytes(range(32)), 1, 5 * 10**8, B, S, A, 300)
OFFER = LoanOffer("regtest", A, 10**9, 5 * 10**7, 2 * 10**9, 500)
CONTRACTS = [
    ESCROW,
    OFFER,
    LoanRequest(OFFER, B, "cHNidP8="),
    Loan(OFFER, B, bytes(range(32, 64)), 0),
]


def test_the_escrow_policy_is_the_issue_s():
    assert format_policy(ESCROW.tree) == (
        f"or(thresh(2,pk(ed25519:{B.pubkey.hex()}),pk(ed25519:{S.pubkey.hex()}),"
        f"pk(secp256k1:{A.pubkey.hex()})),and(pk(ed25519:{B.pubkey.hex()}),after(300)))"
    )
    assert ESCROW.lock == policy_lock(encode_policy(ESCROW.tree))


def test_the_loan_policy_is_the_issue_s():
    loan = CONTRACTS[3]
    assert format_policy(loan.tree) == (
        f"or(and(pk(ed25519:{B.pubkey.hex()}),pk(secp256k1:{A.pubkey.hex()})),"
        f"and(pk(secp256k1:{A.pubkey.hex()}),after(500)))"
    )


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: type(c).__name__)
def test_round_trip(contract):
    text = encode_contract(contract)
    assert text.startswith(PREFIX)
    assert decode_contract(text, "regtest") == contract


def fields(contract) -> list:
    return msgpack.unpackb(base64.b64decode(encode_contract(contract)[len(PREFIX) :]))


def pack(obj: list) -> str:
    return PREFIX + base64.b64encode(msgpack.packb(obj, use_bin_type=True)).decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("obol", "not a contract string"),
        (encode_contract(ESCROW)[:-8], "damaged"),
        (encode_contract(ESCROW) + "AAAA", "damaged"),
        (encode_contract(ESCROW).replace("obol:", "obol:!"), "damaged"),
        (pack(["other", 1, "escrow", "regtest"]), "not an obol contract"),
        (pack([*fields(ESCROW)[:1], 2, *fields(ESCROW)[2:]]), "unsupported contract version 2"),
        (pack([*fields(ESCROW)[:2], "lottery", *fields(ESCROW)[3:]]), "unknown contract kind"),
        (pack(fields(ESCROW)[:-1]), "has 7 fields, not 6"),
        (pack([*fields(ESCROW)[:4], b"short", *fields(ESCROW)[5:]]), "txid is not 32 bytes"),
        (pack([*fields(ESCROW)[:6], -5, *fields(ESCROW)[7:]]), "amount is not a whole number"),
        (pack([*fields(ESCROW)[:7], [1, b"x"], *fields(ESCROW)[8:]]), "contract key"),
        (pack([*fields(ESCROW)[:-1], 0]), "contract policy"),
        (pack([*fields(ESCROW)[:8], fields(ESCROW)[7], *fields(ESCROW)[9:]]), "contract policy"),
    ],
)
def test_bad_strings_are_refused_whole(text, reason):
    with pytest.raises(ContractError, match=reason) as info:
        decode_contract(text, "regtest")
    assert wallet_error_code(info.value) == RPC_DESERIALIZATION_ERROR


def test_another_network_is_refused():
    with pytest.raises(ContractError, match="for regtest, not devnet"):
        decode_contract(encode_contract(ESCROW), "devnet")


def test_a_non_canonical_encoding_is_refused():
    obj = fields(ESCROW)
    body = msgpack.packb(obj, use_bin_type=True)
    amount_at = body.index(msgpack.packb(ESCROW.amount))
    wide = body[:amount_at] + b"\xcf" + ESCROW.amount.to_bytes(8, "big") + body[amount_at + 5 :]
    text = PREFIX + base64.b64encode(wide).decode()
    with pytest.raises(ContractError, match="canonical"):
        decode_contract(text, "regtest")
