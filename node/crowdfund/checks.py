"""The pure rules of a campaign: what a pledge must be, what it counts, and the claim tx.

Every pledge of a campaign signs the same template: version 1, the one goal output,
locktime 0 (an ALL|ANYONECANPAY signature commits to all three), so the creator can put
any set of pledges' inputs under that output and every signature still holds.

A pledge's coin holds the pledged amount plus its *fee share*: the fee its own input adds
to the claim at the campaign's fee rate (a 65-byte signature, one byte more than ALL's).
When the amounts of the chosen pledges sum to the goal exactly, the claim's fee is the sum
of those shares and nothing else: no over-pledged value ever goes to the miner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import combinations

from consensus.errors import RuleError
from consensus.params import NetworkParams
from consensus.primitives import Tx, TxIn, TxOut
from consensus.sighash import SIGHASH_ALL_ACP, sighash_acp
from consensus.signatures import REGISTRY, make_lock
from wallet.psbt import Psbt
from wallet.txbuild import input_size

TEMPLATE_VERSION = 1
TEMPLATE_LOCKTIME = 0
ACP_SIG_SIZE = 65
# The claim drops at most this many pledges to meet the goal exactly: pledges never exceed
# what remains when they are accepted, so a surplus needs a race or a reorg, and then one
# or two pledges too many is what it takes; a larger search would buy nothing real.
MAX_DROPPED = 2


class PledgeCode(Enum):
    MALFORMED = "pledge-malformed"
    WRONG_GOAL = "pledge-wrong-goal"
    NOT_ACP = "pledge-not-anyonecanpay"
    UNSUPPORTED_LOCK = "pledge-unsupported-lock"
    BAD_SIGNATURE = "pledge-bad-signature"
    COIN_SPENT = "pledge-coin-spent"
    TOO_SMALL = "pledge-too-small"
    OVER_GOAL = "pledge-over-goal"
    DUPLICATE = "pledge-duplicate"
    CLOSED = "campaign-closed"
    FULL = "campaign-full"


class PledgeError(Exception):
    """A pledge refused: a stable code, a message, and what remains (for over-goal)."""

    def __init__(self, code: PledgeCode, message: str, remaining: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.remaining = remaining


class ClaimError(Exception):
    """The valid pledges cannot pay the goal exactly."""


@dataclass(frozen=True, slots=True)
class Goal:
    """What every pledge of one campaign pays: ``value`` to ``lock``, at ``fee_rate``."""

    value: int
    lock: bytes
    fee_rate: int

    @property
    def output(self) -> TxOut:
        return TxOut(self.value, self.lock)

    def tx(self, inputs: Sequence[TxIn]) -> Tx:
        return Tx(TEMPLATE_VERSION, tuple(inputs), (self.output,), TEMPLATE_LOCKTIME)


def fee_share(prev_index: int, key_type: int, fee_rate: int) -> int:
    """The fee one pledge input adds to the claim: its signed size (65-byte sig) x rate."""
    return fee_rate * (input_size(prev_index, key_type) + ACP_SIG_SIZE - 64)


def pledge_input(psbt: Psbt) -> TxIn:
    """The one signed input a posted pledge carries: its final sig, or its one partial
    signature (a key input's final sig is that signature)."""
    if len(psbt.tx.inputs) != 1:
        raise PledgeError(PledgeCode.WRONG_GOAL, "a pledge has exactly one input")
    txin, pin = psbt.tx.inputs[0], psbt.inputs[0]
    if pin.final is not None:
        sig = pin.final
    elif len(pin.sigs) == 1:
        sig = pin.sigs[0][1]
    else:
        raise PledgeError(PledgeCode.BAD_SIGNATURE, "the pledge's input is not signed")
    return TxIn(txin.prev_txid, txin.prev_index, txin.pubkey, sig)


def check_pledge(
    tx: Tx, coin: TxOut | None, goal: Goal, remaining: int, params: NetworkParams
) -> int:
    """The amount pledged by ``tx`` (one input spending ``coin``, None when that coin is
    spent or unknown), or the ``PledgeError`` refusing it, checked in this order: pays
    exactly the goal template, an ALL|ANYONECANPAY signature, the coin is unspent, a key
    lock, the key matches the lock, the signature holds, the amount is positive and does
    not exceed ``remaining``."""
    if (
        len(tx.inputs) != 1
        or tx.outputs != (goal.output,)
        or tx.version != TEMPLATE_VERSION
        or tx.locktime != TEMPLATE_LOCKTIME
    ):
        raise PledgeError(
            PledgeCode.WRONG_GOAL, "the pledge does not pay exactly this campaign's goal output"
        )
    inp = tx.inputs[0]
    if len(inp.sig) != ACP_SIG_SIZE or inp.sig[-1] != SIGHASH_ALL_ACP:
        raise PledgeError(
            PledgeCode.NOT_ACP, "a pledge's signature is ALL|ANYONECANPAY: 65 bytes ending 0x81"
        )
    if coin is None:
        raise PledgeError(PledgeCode.COIN_SPENT, "the pledged coin is spent or does not exist")
    scheme = REGISTRY.get(coin.lock[0])
    if scheme is None or len(coin.lock) != 21:
        raise PledgeError(PledgeCode.UNSUPPORTED_LOCK, "a pledge spends a coin of a single key")
    if len(inp.pubkey) != scheme.pubkey_len or make_lock(coin.lock[0], inp.pubkey) != coin.lock:
        raise PledgeError(PledgeCode.BAD_SIGNATURE, "the key does not match the coin's lock")
    msg = sighash_acp(params, tx, 0, coin.value, coin.lock)
    try:
        scheme.verify(inp.pubkey, inp.sig[:64], msg)
    except RuleError as exc:
        raise PledgeError(PledgeCode.BAD_SIGNATURE, "the signature is not valid") from exc
    amount = coin.value - fee_share(inp.prev_index, coin.lock[0], goal.fee_rate)
    if amount <= 0:
        raise PledgeError(PledgeCode.TOO_SMALL, "the coin does not even pay its fee share")
    if amount > remaining:
        raise PledgeError(
            PledgeCode.OVER_GOAL, "the pledge is above what remains of the goal", remaining
        )
    return amount


def choose_claim(amounts: Sequence[tuple[str, int]], goal: int) -> list[str]:
    """The pledges (id, amount) whose amounts sum to ``goal`` exactly, keeping the most:
    all of them, or all but one, or all but two; ``ClaimError`` otherwise."""
    total = sum(a for _, a in amounts)
    if total < goal:
        raise ClaimError(f"the valid pledges sum to {total} of the goal {goal}")
    for dropped in range(min(MAX_DROPPED, len(amounts)) + 1):
        for out in combinations(range(len(amounts)), dropped):
            if total - sum(amounts[i][1] for i in out) == goal:
                return [pid for i, (pid, _) in enumerate(amounts) if i not in out]
    raise ClaimError(
        f"the valid pledges sum to {total}, above the goal {goal}, and no subset without "
        f"up to {MAX_DROPPED} of them meets it exactly: nothing is claimed rather than the "
        "surplus given to miners"
    )


def claim_tx(goal: Goal, inputs: Sequence[TxIn]) -> Tx:
    """The claim: the chosen pledges' signed inputs under the goal output."""
    return goal.tx(inputs)
