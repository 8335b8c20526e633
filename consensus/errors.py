"""One rule-error type for every consensus rejection, each with a stable reject code.

Logs, RPC errors, events and tests all use the code (Bitcoin Core's reject reasons where
one fits), never the prose.
"""

from __future__ import annotations

from enum import StrEnum


class RejectCode(StrEnum):
    # decoding
    DECODE_MALFORMED = "decode-malformed"
    DECODE_NONCANONICAL = "decode-noncanonical"
    DECODE_OVERSIZE = "decode-oversize"
    # context-free tx checks
    TX_NO_INPUTS = "bad-txns-vin-empty"
    TX_NO_OUTPUTS = "bad-txns-vout-empty"
    TX_OVERSIZE = "bad-txns-oversize"
    TX_OUTPUT_TOO_LARGE = "bad-txns-vout-toolarge"
    TX_OUTPUT_TOTAL_TOO_LARGE = "bad-txns-txouttotal-toolarge"
    TX_DUPLICATE_INPUTS = "bad-txns-inputs-duplicate"
    TX_PREVOUT_NULL = "bad-txns-prevout-null"
    TX_COINBASE_LENGTH = "bad-cb-length"
    TX_COINBASE_SHAPE = "bad-cb-shape"
    # contextual tx checks
    TX_MISSING_OR_SPENT = "bad-txns-inputs-missingorspent"
    TX_PREMATURE_COINBASE_SPEND = "bad-txns-premature-spend-of-coinbase"
    TX_INPUT_VALUES_OUT_OF_RANGE = "bad-txns-inputvalues-outofrange"
    TX_IN_BELOW_OUT = "bad-txns-in-belowout"
    TX_UNKNOWN_KEY_TYPE = "bad-txns-unknown-key-type"
    TX_WRONG_KEY_TYPE = "bad-txns-wrong-key-type"
    TX_LOCK_MISMATCH = "bad-txns-lock-mismatch"
    TX_BAD_SIGNATURE = "bad-txns-sig-invalid"
    TX_HIGH_S = "bad-txns-sig-high-s"
    TX_NONFINAL = "bad-txns-nonfinal"
    TX_BAD_SIG_FLAG = "bad-txns-sig-flag"
    # policy spends (lock kind 0x03)
    POLICY_BAD_ENCODING = "bad-txns-policy-encoding"
    POLICY_TOO_BIG = "bad-txns-policy-toobig"
    POLICY_TOO_DEEP = "bad-txns-policy-toodeep"
    POLICY_TOO_MANY_KEYS = "bad-txns-policy-keys"
    SATISFACTION_BAD_ENCODING = "bad-txns-satisfaction-encoding"
    POLICY_UNSATISFIED = "bad-txns-policy-unsatisfied"
    POLICY_THRESHOLD_NOT_MET = "bad-txns-policy-threshold-unmet"
    POLICY_TOO_MANY_SATISFIED = "bad-txns-policy-threshold-exceeded"
    POLICY_TIMELOCK = "bad-txns-policy-timelock"
    POLICY_WRONG_PREIMAGE = "bad-txns-policy-preimage"
    # headers
    BLOCK_BAD_POW = "high-hash"
    BLOCK_BAD_BITS = "bad-diffbits"
    BLOCK_TIME_TOO_OLD = "time-too-old"
    BLOCK_TIME_TOO_NEW = "time-too-new"
    BLOCK_BAD_VERSION = "bad-version"
    BLOCK_BAD_PREV = "bad-prevblk"
    # context-free block checks
    BLOCK_BAD_MERKLE_ROOT = "bad-txnmrklroot"
    BLOCK_NO_TXS = "bad-blk-length"
    BLOCK_OVERSIZE = "bad-blk-length-toolarge"
    BLOCK_COINBASE_MISSING = "bad-cb-missing"
    BLOCK_COINBASE_MULTIPLE = "bad-cb-multiple"
    BLOCK_DUPLICATE_TX = "bad-txns-duplicate"
    BLOCK_TOO_MANY_SIGCHECKS = "bad-blk-sigops"
    # contextual block checks
    BLOCK_COINBASE_HEIGHT = "bad-cb-height"
    BLOCK_COINBASE_AMOUNT = "bad-cb-amount"
    BLOCK_BAD_GENESIS = "bad-genesis"


class RuleError(Exception):
    """A consensus rule was broken. ``code`` is stable; ``message`` is for people."""

    def __init__(self, code: RejectCode, message: str = "") -> None:
        super().__init__(f"{code.value}: {message}" if message else code.value)
        self.code = code
        self.message = message or code.value


class DecodeError(RuleError):
    """Bytes that are not the one canonical encoding of a well-formed object."""

    def __init__(self, message: str, code: RejectCode = RejectCode.DECODE_MALFORMED) -> None:
        super().__init__(code, message)
