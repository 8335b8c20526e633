"""The policy vectors in data/policy_vectors.json, checked against the implementation:
policy encodings with their locks and addresses, invalid policies with their reject codes,
both sighashes (ALL and ALL|ANYONECANPAY), and satisfactions with their verdicts; and the
file against data/make_policy_vectors.py, which writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consensus.address import decode_address, encode_address
from consensus.coins import Coin, MemoryCoinView
from consensus.encoding import decode_tx
from consensus.errors import RuleError
from consensus.params import REGTEST
from consensus.policy import decode_policy, encode_policy, policy_lock
from consensus.policy_text import format_policy, parse_policy
from consensus.sighash import sighash, sighash_acp
from consensus.validation import check_tx_contextual
from tests.unit.data.make_policy_vectors import render

TEXT = (Path(__file__).parent / "data" / "policy_vectors.json").read_text()
VECTORS = json.loads(TEXT)


def test_generator_writes_the_file() -> None:
    assert render() == TEXT


@pytest.mark.parametrize("v", VECTORS["policies"], ids=lambda v: v["description"])
def test_policy_vector(v: dict) -> None:
    data = bytes.fromhex(v["policy"])
    assert encode_policy(decode_policy(data)) == data
    assert encode_policy(parse_policy(v["text"], sane=False)) == data
    assert format_policy(decode_policy(data)) == v["text"]
    lock = policy_lock(data)
    assert lock.hex() == v["lock"]
    assert encode_address(lock, REGTEST) == v["address"]
    assert decode_address(v["address"], REGTEST) == lock


@pytest.mark.parametrize("v", VECTORS["invalid_policies"], ids=lambda v: v["description"])
def test_invalid_policy_vector(v: dict) -> None:
    with pytest.raises(RuleError) as exc:
        decode_policy(bytes.fromhex(v["policy"]))
    assert exc.value.code.value == v["error"]


@pytest.mark.parametrize("v", VECTORS["sighashes"], ids=lambda v: f"input{v['input']}")
def test_sighash_vector(v: dict) -> None:
    tx = decode_tx(bytes.fromhex(v["tx"]))
    n, value, lock = v["input"], v["spent_value"], bytes.fromhex(v["spent_lock"])
    assert sighash(REGTEST, tx.txid, n, value, lock).hex() == v["sighash_all"]
    assert sighash_acp(REGTEST, tx, n, value, lock).hex() == v["sighash_acp"]


@pytest.mark.parametrize("v", VECTORS["satisfactions"], ids=lambda v: v["description"])
def test_satisfaction_vector(v: dict) -> None:
    tx = decode_tx(bytes.fromhex(v["tx"]))
    assert tx.inputs[0].sig.hex() == v["satisfaction"]
    coin = Coin(v["spent_value"], bytes.fromhex(v["spent_lock"]), 1, False)
    view = MemoryCoinView({tx.inputs[0].outpoint_key: coin})
    try:
        check_tx_contextual(tx, view, v["height"], v["median_time_past"], REGTEST)
        result = "valid"
    except RuleError as exc:
        result = exc.code.value
    assert result == v["result"]
