"""Relay policy: what this node accepts into its mempool, beyond what consensus allows.

Policy is local and may differ between nodes; consensus may not. A tx that breaks policy
can still be valid in a block (an output with an unknown key type, a fee below the relay
minimum...), so policy failures are ``PolicyError`` and never ``consensus.errors.RuleError``.

Defaults follow Bitcoin Core's, translated to obol's units: amounts in base units, sizes are
the length of the tx encoding (no weight), fee rates in units per byte. Core's default
``minrelaytxfee`` of 1000 sat/kvB is 1 unit per byte here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum

from consensus.coins import Coin
from consensus.policy import decode_policy
from consensus.policy_text import sanity_problem
from consensus.primitives import POLICY_LOCK_KIND, Tx
from consensus.signatures import REGISTRY


@dataclass(frozen=True, slots=True)
class Policy:
    """Mempool and relay limits. All sizes are bytes of ``tx.serialize()``."""

    min_relay_fee_rate: int = 1  # units per byte; below it a tx is not relayed or kept
    max_replacement_evictions: int = 100  # Core's MAX_REPLACEMENT_CANDIDATES (BIP 125 rule 5)
    incremental_relay_fee_rate: int = 1  # units per byte added to an evicted package's rate
    dust_limit: int = 546  # an output worth less than this costs more to spend than it holds
    max_tx_size: int = 100_000
    max_mempool_bytes: int = 300_000_000  # sum of encoded tx sizes, not memory usage
    expiry_seconds: int = 336 * 60 * 60  # two weeks, Core's -mempoolexpiry
    max_ancestors: int = 25  # in-mempool ancestors, the tx itself included
    max_descendants: int = 25  # in-mempool descendants of any ancestor, itself included
    max_orphans: int = 100
    orphan_expiry_seconds: int = 20 * 60
    max_orphan_tx_size: int = 100_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value < 0:
                raise ValueError(f"policy {f.name} must be a non-negative integer")
        if self.max_ancestors < 1 or self.max_descendants < 1:
            raise ValueError("ancestor and descendant limits count the tx itself: at least 1")


# The opt-in replace-by-fee signal. The tx format has no per-input sequence number (BIP
# 125 signals through nSequence), so the signal is bit 1 of the tx version: version 2 (or
# any version with that bit) says "this tx may be replaced while unconfirmed". Consensus
# ignores the version; only mempool policy reads it.
REPLACEABLE_VERSION_BIT = 0x2
REPLACEABLE_TX_VERSION = 2
FINAL_TX_VERSION = 1


def signals_replaceable(version: int) -> bool:
    return bool(version & REPLACEABLE_VERSION_BIT)


class PolicyCode(StrEnum):
    """Stable reject reasons, spelled as Bitcoin Core spells them."""

    COINBASE = "coinbase"  # a coinbase only exists inside its block
    TX_SIZE = "tx-size"
    NONSTANDARD_KEY_TYPE = "bad-txns-nonstandard-keytype"
    # a policy spend that consensus allows but no sane policy needs (a key used twice,
    # a way to spend without any signature), as Core's "non-mandatory-script-verify-flag"
    NONSTANDARD_POLICY = "bad-txns-nonstandard-policy"
    DUST = "dust"
    ALREADY_IN_MEMPOOL = "txn-already-in-mempool"
    CONFLICT = "txn-mempool-conflict"  # first seen wins: no replacement
    ALREADY_KNOWN = "txn-already-known"  # already confirmed
    MISSING_INPUTS = "missing-inputs"
    MIN_RELAY_FEE = "min relay fee not met"
    MEMPOOL_MIN_FEE = "mempool min fee not met"  # the rolling floor after evictions
    TOO_LONG_CHAIN = "too-long-mempool-chain"
    MEMPOOL_FULL = "mempool full"
    # Replace-by-fee (BIP 125 as Core enforces it)
    TOO_MANY_REPLACEMENTS = "too many potential replacements"
    REPLACEMENT_ADDS_UNCONFIRMED = "replacement-adds-unconfirmed"
    INSUFFICIENT_FEE = "insufficient fee"
    SPENDS_CONFLICTING = "bad-txns-spends-conflicting-tx"


class PolicyError(Exception):
    """A tx this node will not keep or relay, though a block may still contain it.

    ``orphan`` is True when a tx with missing inputs was kept in the orphan pool (it is
    retried when a parent arrives); ``missing_parents`` lists the txids it waits for, so
    the caller can ask the peer for them.
    """

    def __init__(
        self,
        code: PolicyCode,
        message: str = "",
        *,
        orphan: bool = False,
        missing_parents: Sequence[bytes] = (),
    ) -> None:
        super().__init__(f"{code.value}: {message}" if message else code.value)
        self.code = code
        self.message = message or code.value
        self.orphan = orphan
        self.missing_parents = tuple(missing_parents)


def check_standard(tx: Tx, policy: Policy) -> None:
    """The standardness of a tx on its own (Core's ``IsStandardTx``): not a coinbase, not
    too big, every output to a known kind of lock and above the dust limit."""
    if tx.is_coinbase:
        raise PolicyError(PolicyCode.COINBASE, "a coinbase is only valid in its block")
    size = tx.size
    if size > policy.max_tx_size:
        raise PolicyError(PolicyCode.TX_SIZE, f"{size} bytes, limit {policy.max_tx_size}")
    for n, out in enumerate(tx.outputs):
        if out.lock[0] not in REGISTRY and out.lock[0] != POLICY_LOCK_KIND:
            raise PolicyError(PolicyCode.NONSTANDARD_KEY_TYPE, f"output {n} has unknown key type")
        if out.value < policy.dust_limit:
            raise PolicyError(PolicyCode.DUST, f"output {n} below {policy.dust_limit}")


def check_standard_inputs(tx: Tx, spent: Sequence[Coin]) -> None:
    """The standardness of the policies a tx reveals, which consensus has already accepted
    (Core's ``AreInputsStandard``): no key a satisfaction could use twice, no way to spend
    without a signature."""
    for n, (inp, coin) in enumerate(zip(tx.inputs, spent, strict=True)):
        if coin.lock[0] == POLICY_LOCK_KIND:
            problem = sanity_problem(decode_policy(inp.pubkey))
            if problem is not None:
                raise PolicyError(PolicyCode.NONSTANDARD_POLICY, f"input {n}: {problem}")
