"""Encrypted wallets refuse to sign until unlocked; backup and restore on another node."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from .framework import assert_raises_rpc_error, connect_nodes, sync_blocks
from .wallet_helpers import (
    assert_one_line_error,
    obol_wallet,
    obol_wallet_json,
)

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nodes started by these tests use Argon2id's minimum limits (test-only switch)."""
    monkeypatch.setenv("OBOL_TEST_FAST_KDF", "1")


def test_encrypt_unlock_backup_and_restore(start_nodes):
    (a,) = start_nodes(1)
    a.rpc.generate(101)
    first = a.rpc.getnewaddress("first")
    wallet_file = a.netdir / "wallets" / "default" / "wallet.json"
    clear = json.loads(wallet_file.read_text())
    entropy = clear["entropy"]

    done = obol_wallet(a, "encrypt", stdin=PASSPHRASE + "\n")
    assert done.returncode == 0 and "wallet encrypted" in done.stdout
    stored = wallet_file.read_text()
    assert "entropy" not in stored and entropy not in stored and "keystore" in stored
    assert oct(wallet_file.stat().st_mode & 0o777) == "0o600"
    assert a.rpc.getwalletinfo()["unlocked_until"] == 0

    # Locked: no signing, no mnemonic; a wrong passphrase is -14.
    err = assert_raises_rpc_error(-13, None, a.rpc.sendtoaddress, first, 1)
    assert "walletpassphrase" in err.message
    assert_raises_rpc_error(-13, None, a.rpc.dumpmnemonic)
    err = assert_raises_rpc_error(-14, None, a.rpc.walletpassphrase, "wrong", 60)
    assert err.message == "Error: The wallet passphrase entered was incorrect."
    assert_one_line_error(
        obol_wallet(a, "unlock", stdin="wrong\n"), "passphrase entered was incorrect"
    )
    assert_one_line_error(obol_wallet(a, "send", first, "1", "--yes"), "walletpassphrase")
    assert_raises_rpc_error(-15, None, a.rpc.encryptwallet, "again")

    # Addresses from the lookahead still come while locked, until it runs out (-12).
    handed = [a.rpc.getnewaddress() for _ in range(19)]
    assert first not in handed

    def forty_more() -> None:
        for _ in range(40):
            a.rpc.getnewaddress()

    assert_raises_rpc_error(-12, None, forty_more)

    # Unlocked, it signs; locked again, it does not.
    done = obol_wallet(a, "unlock", "--timeout", "60", stdin=PASSPHRASE + "\n")
    assert done.returncode == 0, done.stderr
    assert a.rpc.getwalletinfo()["unlocked_until"] > time.time()
    txid = a.rpc.sendtoaddress(first, 1)
    assert txid in a.rpc.getrawmempool()
    assert obol_wallet(a, "lock").returncode == 0
    assert_raises_rpc_error(-13, None, a.rpc.sendtoaddress, first, 1)

    # A short unlock expires by itself.
    a.rpc.walletpassphrase(PASSPHRASE, 1)
    time.sleep(1.5)
    assert_raises_rpc_error(-13, None, a.rpc.sendtoaddress, first, 1)

    # Passphrase change: the old one stops working.
    a.rpc.walletpassphrasechange(PASSPHRASE, "new passphrase")
    assert_raises_rpc_error(-14, None, a.rpc.walletpassphrase, PASSPHRASE, 10)

    backup = obol_wallet_json(a, "backup", stdin="new passphrase\n")
    words = backup["mnemonic"]
    assert len(words.split()) == 24
    assert words not in wallet_file.read_text()
    assert_one_line_error(obol_wallet(a, "backup", stdin="nope\n"), "incorrect")

    # Restore the phrase into a wallet of a new node: same addresses, same balance.
    (b,) = start_nodes(1, [["--no-wallet"]])
    connect_nodes(b, a)
    sync_blocks([a, b])
    # Like Core without BIP 35, a new peer is not sent the txs already in the mempool.
    for txid in a.rpc.getrawmempool():
        b.rpc.sendrawtransaction(a.rpc.getrawtransaction(txid))
    done = obol_wallet(b, "restore", "restored", stdin=words + "\n")
    assert done.returncode == 0, done.stderr
    restored = b.wallet("restored")
    assert restored.getbalances()["mine"] == a.rpc.getbalances()["mine"]
    assert restored.getbalances()["mine"]["trusted"] > Decimal(0)
    assert restored.getaddressinfo(first)["ismine"] is True
    assert all(restored.getaddressinfo(addr)["ismine"] for addr in handed)
    coins = {(u["txid"], u["vout"], u["address"]) for u in restored.listunspent(0)}
    assert coins == {(u["txid"], u["vout"], u["address"]) for u in a.rpc.listunspent(0)}
    assert_one_line_error(
        obol_wallet(b, "restore", "restored", stdin=words + "\n"), "already exists"
    )
    typo = words.split()
    typo[3] = "zzzz"  # by position: the same word may occur twice in a phrase
    assert_one_line_error(
        obol_wallet(b, "restore", "typo", stdin=" ".join(typo) + "\n"), "word 4 of"
    )
