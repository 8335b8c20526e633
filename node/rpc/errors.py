"""RPC errors with Bitcoin Core's numeric codes (src/rpc/protocol.h).

Clients written for Bitcoin Core switch on these numbers, so they are copied verbatim rather than
invented; a method signals a failure by raising ``RpcError(code, message)``.
"""

from __future__ import annotations

from typing import Any

from wallet.contracts import ContractError
from wallet.errors import (
    InsufficientFunds,
    InvalidMnemonic,
    KeypoolRanOut,
    NotOurPolicy,
    WalletError,
    WalletLocked,
    WalletWrongEncState,
    WrongPassphrase,
)

from ..contracts.spend import ContractStateError, NodeRefused
from ..wallets.manager import (
    InvalidTxid,
    InvalidWalletParameter,
    WalletAlreadyExists,
    WalletAlreadyLoaded,
    WalletNotFound,
    WalletNotSpecified,
)

# Standard JSON-RPC 2.0 errors. The server maps INVALID_REQUEST to HTTP 400 and METHOD_NOT_FOUND
# to HTTP 404 for legacy (1.x) requests, so methods must not use them for application errors.
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_INVALID_PARAMS = -32602
RPC_INTERNAL_ERROR = -32603
RPC_PARSE_ERROR = -32700

# General application defined errors.
RPC_MISC_ERROR = -1  # an exception thrown in command handling
RPC_TYPE_ERROR = -3  # unexpected type passed as parameter
RPC_INVALID_ADDRESS_OR_KEY = -5
RPC_OUT_OF_MEMORY = -7
RPC_INVALID_PARAMETER = -8  # invalid, missing or duplicate parameter
RPC_DATABASE_ERROR = -20
RPC_DESERIALIZATION_ERROR = -22  # error parsing or validating structure in raw format
RPC_VERIFY_ERROR = -25  # general error during transaction or block submission
RPC_VERIFY_REJECTED = -26  # rejected by network rules; message carries the reject reason
RPC_VERIFY_ALREADY_IN_CHAIN = -27  # Core's RPC_VERIFY_ALREADY_IN_UTXO_SET since v23
RPC_IN_WARMUP = -28
RPC_METHOD_DEPRECATED = -32

# P2P client errors.
RPC_CLIENT_NOT_CONNECTED = -9
RPC_CLIENT_IN_INITIAL_DOWNLOAD = -10
RPC_CLIENT_NODE_ALREADY_ADDED = -23
RPC_CLIENT_NODE_NOT_ADDED = -24
RPC_CLIENT_NODE_NOT_CONNECTED = -29
RPC_CLIENT_INVALID_IP_OR_SUBNET = -30
RPC_CLIENT_P2P_DISABLED = -31
RPC_CLIENT_MEMPOOL_DISABLED = -33
RPC_CLIENT_NODE_CAPACITY_REACHED = -34

# Wallet errors.
RPC_WALLET_ERROR = -4
RPC_WALLET_INSUFFICIENT_FUNDS = -6
RPC_WALLET_INVALID_LABEL_NAME = -11
RPC_WALLET_KEYPOOL_RAN_OUT = -12
RPC_WALLET_UNLOCK_NEEDED = -13
RPC_WALLET_PASSPHRASE_INCORRECT = -14
RPC_WALLET_WRONG_ENC_STATE = -15
RPC_WALLET_ENCRYPTION_FAILED = -16
RPC_WALLET_ALREADY_UNLOCKED = -17
RPC_WALLET_NOT_FOUND = -18
RPC_WALLET_NOT_SPECIFIED = -19
RPC_WALLET_ALREADY_LOADED = -35
RPC_WALLET_ALREADY_EXISTS = -36


class RpcError(Exception):
    """An error answered to the client as ``{"code": code, "message": message}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    def __repr__(self) -> str:
        return f"RpcError({self.code}, {self.message!r})"


WRONG_PASSPHRASE = "Error: The wallet passphrase entered was incorrect."

# The code each wallet error is answered with, by the nearest class listed here: the wallet
# knows its reasons, the RPC layer knows Core's numbers for them.
WALLET_ERROR_CODES: dict[type[WalletError], int] = {
    WalletError: RPC_WALLET_ERROR,
    InvalidMnemonic: RPC_INVALID_PARAMETER,
    WrongPassphrase: RPC_WALLET_PASSPHRASE_INCORRECT,
    WalletLocked: RPC_WALLET_UNLOCK_NEEDED,
    WalletWrongEncState: RPC_WALLET_WRONG_ENC_STATE,
    KeypoolRanOut: RPC_WALLET_KEYPOOL_RAN_OUT,
    InsufficientFunds: RPC_WALLET_INSUFFICIENT_FUNDS,
    NotOurPolicy: RPC_INVALID_ADDRESS_OR_KEY,
    ContractError: RPC_DESERIALIZATION_ERROR,
    WalletNotFound: RPC_WALLET_NOT_FOUND,
    WalletNotSpecified: RPC_WALLET_NOT_SPECIFIED,
    WalletAlreadyLoaded: RPC_WALLET_ALREADY_LOADED,
    WalletAlreadyExists: RPC_WALLET_ALREADY_EXISTS,
    InvalidTxid: RPC_INVALID_ADDRESS_OR_KEY,
    InvalidWalletParameter: RPC_INVALID_PARAMETER,
    NodeRefused: RPC_VERIFY_REJECTED,
    ContractStateError: RPC_INVALID_PARAMETER,
}


def wallet_error_code(exc: WalletError) -> int:
    return next(WALLET_ERROR_CODES[c] for c in type(exc).__mro__ if c in WALLET_ERROR_CODES)


def from_wallet_error(exc: WalletError) -> RpcError:
    """The RPC error a wallet error is answered with (a wrong passphrase in Core's words)."""
    if isinstance(exc, WrongPassphrase):
        return RpcError(RPC_WALLET_PASSPHRASE_INCORRECT, WRONG_PASSPHRASE)
    return RpcError(wallet_error_code(exc), str(exc))
