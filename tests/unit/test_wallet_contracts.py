"""wallet.wallet's contracts: policy locks the wallet holds a key in, kept in its file."""

from __future__ import annotations

import json

import pytest

from consensus.errors import RuleError
from consensus.policy import After, Key, Thresh, encode_policy, policy_lock
from consensus.signatures import ED25519
from node.rpc.errors import RPC_INVALID_ADDRESS_OR_KEY, wallet_error_code
from wallet import keystore
from wallet.errors import NotOurPolicy, WalletError
from wallet.hd import EXTERNAL_CHAIN
from wallet.wallet import Wallet

ENTROPY = bytes(range(32))
OTHER = Key(
    ED25519.key_type,
    bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
)
THIRD = Key(
    ED25519.key_type,
    bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"),
)


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keystore, "KDF_LIMITS", keystore.FAST_KDF_LIMITS)


def wallet_and_policy() -> tuple[Wallet, Key, bytes]:
    wallet = Wallet.create("regtest", ENTROPY, lookahead=3)
    key = wallet.new_key(ED25519.key_type, EXTERNAL_CHAIN)
    mine = Key(key.key_type, key.pubkey)
    data = encode_policy(Thresh(1, (Thresh(2, (mine, OTHER, THIRD)), Thresh(2, (mine, After(50))))))
    return wallet, mine, data


def test_a_policy_with_one_of_our_keys_is_watched():
    wallet, mine, data = wallet_and_policy()
    lock = wallet.add_policy(data)
    assert lock == policy_lock(data)
    assert wallet.policy_for_lock(lock) == data
    assert wallet.owns(lock) and lock in wallet.locks()
    assert wallet.key_for(lock) is None  # no single key signs for it
    assert [k.pubkey for k in wallet.policy_signers(data)] == [mine.pubkey]
    assert wallet.contract_locks() == [lock]
    assert wallet.add_policy(data) == lock and wallet.contract_locks() == [lock]


def test_a_policy_without_our_keys_is_refused_and_nothing_changes():
    wallet, _, _ = wallet_and_policy()
    data = encode_policy(Thresh(2, (OTHER, THIRD)))
    before = wallet.to_json()
    with pytest.raises(NotOurPolicy, match="None of the policy's keys") as info:
        wallet.add_policy(data)
    assert wallet_error_code(info.value) == RPC_INVALID_ADDRESS_OR_KEY
    assert wallet.policy_for_lock(policy_lock(data)) is None
    assert wallet.to_json() == before


def test_bytes_that_are_no_policy_are_refused():
    wallet, _, _ = wallet_and_policy()
    with pytest.raises(RuleError):
        wallet.add_policy(b"\x93\x01\x02")
    assert wallet.contract_locks() == []


def test_policies_are_persisted_in_the_file():
    wallet, _, data = wallet_and_policy()
    lock = wallet.add_policy(data)
    text = json.dumps(wallet.to_json())
    again = Wallet.from_json(json.loads(text))
    assert again.policy_for_lock(lock) == data
    assert again.to_json() == wallet.to_json()


def test_policies_stay_readable_once_the_wallet_is_encrypted():
    wallet, _, data = wallet_and_policy()
    lock = wallet.add_policy(data)
    wallet.encrypt("pw")
    again = Wallet.from_json(json.loads(json.dumps(wallet.to_json())))
    assert again.locked and again.policy_for_lock(lock) == data
    assert "entropy" not in again.to_json()


def test_an_old_wallet_file_without_policies_loads():
    wallet, _, _ = wallet_and_policy()
    obj = wallet.to_json()
    del obj["policies"]
    again = Wallet.from_json(obj)
    assert again.contract_locks() == []
    assert again.to_json()["policies"] == {}


def test_a_damaged_policy_in_the_file_is_reported():
    wallet, _, data = wallet_and_policy()
    wallet.add_policy(data)
    obj = wallet.to_json()
    obj["policies"] = {k: v[:-2] for k, v in obj["policies"].items()}
    with pytest.raises(WalletError, match="damaged"):
        Wallet.from_json(obj)
