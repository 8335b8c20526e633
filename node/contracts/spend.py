"""Spending a contract coin: the tx, this wallet's signature on its input, submission.

A policy input carries the policy in its ``pubkey`` field, which the txid covers, so the
policy is in place before anyone signs; the satisfaction (``sig``) is left out of the
txid. The fee is the fee rate times the size of the tx with its final satisfaction, known
in advance from the branch the flow spends (every signature is 64 bytes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from consensus.errors import RuleError
from consensus.params import LOCKTIME_THRESHOLD
from consensus.policy import Key, encode_satisfaction
from consensus.primitives import Tx, TxIn, TxOut, outpoint_key
from consensus.sighash import sighash
from consensus.signatures import REGISTRY, make_lock
from wallet.errors import WalletError
from wallet.wallet import SentRecord

from ..mempool.policy import FINAL_TX_VERSION, PolicyError
from ..wallets.manager import InvalidWalletParameter, LoadedWallet, WalletManager, WalletTx

log = logging.getLogger("obol.contracts")

SIG_PLACEHOLDER = bytes(64)


class NodeRefused(WalletError):
    """The node's mempool refused a contract tx; the message carries its reject code
    (RPC_VERIFY_REJECTED)."""


class ContractStateError(WalletError):
    """The step does not fit the contract's state on the chain (RPC_INVALID_PARAMETER)."""


@dataclass(frozen=True, slots=True)
class CoinState:
    """Where a contract coin is: unspent (confirmations), or spent by ``spender``."""

    value: int
    lock: bytes
    confirmations: int  # 0 while its tx is in the mempool
    spender: WalletTx | None


def require_unspent(state: CoinState, what: str) -> None:
    """Refuse a step on a contract coin (``what``: "the escrow") already spent, in a
    block or in the mempool."""
    if state.spender is not None:
        raise ContractStateError(f"{what} was already spent by {state.spender.tx.txid_hex}")


def check_future_height(manager: WalletManager, height: int, what: str) -> None:
    """A contract's time lock (``what``: "refund", "maturity") is a height to come."""
    tip = manager.tip_height
    if not tip < height < LOCKTIME_THRESHOLD:
        raise InvalidWalletParameter(
            f"the {what} height must be above the current height {tip} "
            f"(and below {LOCKTIME_THRESHOLD})"
        )


def key_lock(key: Key) -> bytes:
    """The plain address of a party's contract key: where a contract pays that party."""
    return make_lock(key.key_type, key.pubkey)


def typed(key: Key) -> str:
    return f"{REGISTRY[key.key_type].name}:{key.pubkey.hex()}"


def coin_state(manager: WalletManager, txid: bytes, vout: int) -> CoinState | None:
    """The contract coin at (txid, vout) from the chain and the mempool; None if no such
    output exists (its tx neither confirmed nor in the mempool)."""
    node = manager.node
    tx, height = _find_tx(manager, txid)
    if tx is None or vout >= len(tx.outputs):
        return None
    out = tx.outputs[vout]
    confirmations = 0 if height is None else manager.tip_height - height + 1
    key = outpoint_key(txid, vout)
    spender = None
    if node.chain.db.get_coin(key) is None or node.mempool.spender_of(key) is not None:
        for wtx in manager.history([out.lock]):
            if any(i.outpoint_key == key for i in wtx.tx.inputs):
                spender = wtx
                break
    return CoinState(out.value, out.lock, confirmations, spender)


def _find_tx(manager: WalletManager, txid: bytes) -> tuple[Tx | None, int | None]:
    node = manager.node
    entry = node.mempool.get(txid)
    if entry is not None:
        return entry.tx, None
    where = node.chain.db.tx_location(txid)
    if where is None:
        return None, None
    block_hash, position = where
    index_entry = node.chain.index.get(block_hash)
    if index_entry is None:
        return None, None
    block = node.chain.db.block(index_entry.height, block_hash)
    if block is None:
        return None, None
    return block.txs[position], index_entry.height


def spend_tx(
    txid: bytes,
    vout: int,
    policy: bytes,
    outputs: Iterable[TxOut],
    locktime: int,
) -> Tx:
    """The unsigned tx spending one contract coin (its input holding the policy)."""
    return Tx(FINAL_TX_VERSION, (TxIn(txid, vout, policy, b""),), tuple(outputs), locktime)


def fee_for(tx: Tx, placeholder_sat: Any, rate: int) -> int:
    """The fee of ``tx`` once its single input carries a satisfaction of this shape."""
    inp = tx.inputs[0]
    final = Tx(
        tx.version,
        (TxIn(inp.prev_txid, inp.prev_index, inp.pubkey, encode_satisfaction(placeholder_sat)),),
        tx.outputs,
        tx.locktime,
    )
    return rate * len(final.serialize())


def our_signature(
    manager: WalletManager, lw: LoadedWallet, tx: Tx, index: int, key: Key, value: int, lock: bytes
) -> bytes:
    """This wallet's signature (ALL) for input ``index`` of ``tx`` with its contract key."""
    key_type, secret = lw.wallet.secret_for(key_lock(key))
    digest = sighash(manager.params, tx.txid, index, value, lock)
    return REGISTRY[key_type].sign(secret, digest)


def with_satisfaction(tx: Tx, sat: Any) -> Tx:
    inp = tx.inputs[0]
    signed = TxIn(inp.prev_txid, inp.prev_index, inp.pubkey, encode_satisfaction(sat))
    return Tx(tx.version, (signed, *tx.inputs[1:]), tx.outputs, tx.locktime)


async def submit(manager: WalletManager, lw: LoadedWallet, tx: Tx, comment: str) -> None:
    """Submit a finished contract tx and keep it as sent (so it is rebroadcast);
    ``NodeRefused`` with the node's reject code."""
    try:
        await manager.node.submit_tx(tx)
    except (RuleError, PolicyError) as exc:
        raise NodeRefused(f"the node refused the transaction: {exc.code.value}") from exc
    now = manager.node.clock.now()
    lw.wallet.sent[tx.txid] = SentRecord(now, tx.serialize(), comment)
    lw.save()
    log.info("wallet %s: %s %s", lw.name, comment, tx.txid_hex)


async def spend_alone(
    manager: WalletManager,
    lw: LoadedWallet,
    coin: tuple[bytes, int, int, bytes],
    policy: bytes,
    key: Key,
    comment: str,
    fee_rate: int | None,
) -> tuple[str, int]:
    """Spend a contract coin (txid, vout, value, lock) by the time-locked branch
    ``[None, [sig, true]]`` of a policy ``or(..., and(pk(key), after(T)))``, paying its
    value less the fee to ``key``'s plain address: (txid, fee). The locktime is the
    current height, so before T the node refuses the tx (bad-txns-policy-timelock)."""
    txid, vout, value, lock = coin
    lw.wallet.require_unlocked()
    rate = manager.fee_rate(fee_rate)
    locktime = manager.tip_height
    to = key_lock(key)
    draft = spend_tx(txid, vout, policy, [TxOut(value, to)], locktime)
    fee = fee_for(draft, [None, [SIG_PLACEHOLDER, True]], rate)
    if value - fee <= manager.node.policy.dust_limit:
        raise ContractStateError("the contract's coin does not cover the fee")
    tx = spend_tx(txid, vout, policy, [TxOut(value - fee, to)], locktime)
    sig = our_signature(manager, lw, tx, 0, key, value, lock)
    signed = with_satisfaction(tx, [None, [sig, True]])
    await submit(manager, lw, signed, comment)
    return signed.txid_hex, fee
