"""wallet.wallet: keys and lookahead, the file format, encryption and restore."""

from __future__ import annotations

import json

import pytest

from consensus.signatures import ED25519, SECP256K1, make_lock
from wallet import keystore
from wallet.errors import (
    InvalidMnemonic,
    KeypoolRanOut,
    WalletError,
    WalletLocked,
    WalletWrongEncState,
    WrongPassphrase,
)
from wallet.hd import EXTERNAL_CHAIN, INTERNAL_CHAIN, account_path, derive_path
from wallet.mnemonic import entropy_to_mnemonic, mnemonic_to_seed
from wallet.wallet import Wallet, key_type_from_name, mnemonic_entropy

ENTROPY = bytes(range(32))
WORDS = entropy_to_mnemonic(ENTROPY)


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keystore, "KDF_LIMITS", keystore.FAST_KDF_LIMITS)


def fresh() -> Wallet:
    return Wallet.create("regtest", ENTROPY, lookahead=5)


def test_keys_follow_the_derivation_paths():
    wallet = fresh()
    seed = mnemonic_to_seed(WORDS)
    for key_type, curve in ((ED25519.key_type, "ed25519"), (SECP256K1.key_type, "secp256k1")):
        for chain in (EXTERNAL_CHAIN, INTERNAL_CHAIN):
            key = wallet.new_key(key_type, chain)
            assert key.index == 0 and key.chain == chain
            expected = derive_path(seed, account_path(key_type, chain, 0), curve).public_key
            assert key.pubkey == expected
            assert key.lock == make_lock(key_type, expected)
            kt, secret = wallet.secret_for(key.lock)
            assert kt == key_type
            assert derive_path(seed, key.path, curve).private_key == secret


def test_lookahead_moves_with_use_and_survives_the_file():
    wallet = fresh()
    assert len(wallet.locks()) == 4 * 5
    keys = [wallet.new_key(ED25519.key_type, EXTERNAL_CHAIN) for _ in range(3)]
    assert [k.index for k in keys] == [0, 1, 2]
    assert wallet.keypool_size(EXTERNAL_CHAIN) == 5
    far = [k for k in wallet.unused_keys() if k.chain == EXTERNAL_CHAIN and k.key_type == 1]
    assert max(k.index for k in far) == 7
    assert wallet.mark_used(far[-1].lock) is True  # a payment to the last lookahead key
    assert wallet.mark_used(far[-1].lock) is False
    assert wallet.new_key(ED25519.key_type, EXTERNAL_CHAIN).index == 8
    wallet.labels[keys[0].lock] = "rent"

    again = Wallet.from_json(json.loads(json.dumps(wallet.to_json())))
    assert again.to_json() == wallet.to_json()
    assert again.new_key(ED25519.key_type, EXTERNAL_CHAIN).index == 9
    assert again.labels[keys[0].lock] == "rent"


def test_restore_from_the_phrase_finds_the_same_keys():
    original = fresh()
    restored = Wallet.create("regtest", mnemonic_entropy(WORDS.upper() + "\n"), lookahead=5)
    assert set(restored.locks()) == set(original.locks())
    with pytest.raises(InvalidMnemonic):
        mnemonic_entropy(" ".join([*WORDS.split()[:-1], "abandon"]))


def test_encryption_hides_the_secret_and_locks():
    wallet = fresh()
    handed = wallet.new_key(ED25519.key_type, EXTERNAL_CHAIN)
    wallet.encrypt("pass")
    assert wallet.encrypted and wallet.locked
    text = json.dumps(wallet.to_json())
    assert ENTROPY.hex() not in text and "entropy" not in text
    with pytest.raises(WalletLocked):
        wallet.secret_for(handed.lock)
    with pytest.raises(WalletLocked):
        wallet.mnemonic()
    assert wallet.mnemonic("pass") == WORDS
    with pytest.raises(WrongPassphrase):
        wallet.mnemonic("nope")
    with pytest.raises(WalletWrongEncState):
        wallet.encrypt("again")

    # Locked: the lookahead keeps handing out addresses until it runs out.
    for _ in range(5):
        wallet.new_key(ED25519.key_type, EXTERNAL_CHAIN)
    with pytest.raises(KeypoolRanOut):
        wallet.new_key(ED25519.key_type, EXTERNAL_CHAIN)

    loaded = Wallet.from_json(json.loads(text))
    assert loaded.locked
    with pytest.raises(WrongPassphrase):
        loaded.unlock("nope")
    loaded.unlock("pass")
    assert loaded.secret_for(handed.lock)[0] == ED25519.key_type
    loaded.change_passphrase("pass", "new")
    loaded.lock()
    with pytest.raises(WrongPassphrase):
        loaded.unlock("pass")
    loaded.unlock("new")
    assert loaded.mnemonic() == WORDS


def test_plain_wallets_refuse_lock_operations():
    wallet = fresh()
    for call in (lambda: wallet.lock(), lambda: wallet.unlock("x")):
        with pytest.raises(WalletWrongEncState):
            call()


@pytest.mark.parametrize(
    "damage",
    [
        lambda o: o.pop("keys"),
        lambda o: o.update(version=2),
        lambda o: o.update(format="other"),
        lambda o: o.update(entropy="zz"),
        lambda o: o.update(keystore="00"),  # both secrets
        lambda o: o.update(default_key_type="rsa"),
    ],
)
def test_damaged_files_are_wallet_errors(damage):
    obj = fresh().to_json()
    damage(obj)
    with pytest.raises(WalletError):
        Wallet.from_json(obj)


def test_key_type_names():
    assert key_type_from_name("ed25519") == 1
    assert key_type_from_name("secp256k1") == 2
    with pytest.raises(ValueError):
        key_type_from_name("legacy")
