"""Wallet errors, one class per reason a user is told.

The RPC layer answers each class with the Bitcoin Core RPC error code named in its docstring
(the table is ``node/rpc/errors.py``) and ``str(err)`` as the message; the CLI prints it on
one line, so messages are written for the user and never contain
secrets (no mnemonic words, no keys, no passphrases).
"""

from __future__ import annotations

UNLOCK_NEEDED = "Error: Please enter the wallet passphrase with walletpassphrase first."


class WalletError(Exception):
    """Base class of every error the wallet reports to a user (RPC_WALLET_ERROR)."""


class InvalidMnemonic(WalletError):
    """A recovery phrase with an unknown word, a wrong word count or a bad checksum.

    Core has no mnemonics; the phrase is a bad argument, so RPC_INVALID_PARAMETER.
    """


class WrongPassphrase(WalletError):
    """The passphrase did not decrypt the keystore (RPC_WALLET_PASSPHRASE_INCORRECT)."""


class KeystoreCorrupt(WalletError):
    """The encrypted keystore blob is malformed: a damaged or foreign file (RPC_WALLET_ERROR)."""


class WalletLocked(WalletError):
    """Signing needs the seed but the wallet is encrypted and locked (RPC_WALLET_UNLOCK_NEEDED)."""


class WalletWrongEncState(WalletError):
    """E.g. ``encryptwallet`` on an encrypted wallet or ``walletlock`` on a plain one
    (RPC_WALLET_WRONG_ENC_STATE)."""


class KeypoolRanOut(WalletError):
    """A locked wallet has handed out every pre-derived address (RPC_WALLET_KEYPOOL_RAN_OUT):
    deriving more needs the seed, so the user must unlock first."""


class InsufficientFunds(WalletError):
    """The spendable coins do not cover the amount and the fee (RPC_WALLET_INSUFFICIENT_FUNDS)."""


class NotOurPolicy(WalletError):
    """A policy address to watch holds none of this wallet's keys: it could never sign for
    it, so it is no contract of this wallet (RPC_INVALID_ADDRESS_OR_KEY)."""
