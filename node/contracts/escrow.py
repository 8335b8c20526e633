"""Escrow for third-party payments, as the wallet runs it.

The buyer creates and funds the escrow (``create``) and hands the contract string to the
seller and the arbiter, who ``import_escrow`` it: their wallet checks the string against
the chain (the coin exists, with this amount and this policy's lock) and watches the
contract. Then one of the three ways out:

- release: buyer and seller sign a tx paying the seller;
- dispute: the arbiter and either party sign a tx paying the party the arbiter sides with;
- refund: from the refund height T on, the buyer alone takes the coins back.

Each payout goes to the plain address of the receiving party's contract key, so every
signer can check exactly what a tx pays before signing. ``status`` reads where the coin
is from the chain and the mempool, not from any note kept by a wallet.
"""

from __future__ import annotations

from typing import Any

from consensus.address import encode_address
from consensus.policy import Key, decode_satisfaction
from consensus.policy_text import format_policy, sanity_problem
from consensus.primitives import Tx, TxOut
from wallet.contracts import ContractError, Escrow, escrow_policy
from wallet.errors import NotOurPolicy
from wallet.hd import EXTERNAL_CHAIN

from ..wallets.manager import InvalidWalletParameter, LoadedWallet, WalletManager, format_units
from . import handover
from .spend import (
    SIG_PLACEHOLDER,
    CoinState,
    ContractStateError,
    check_future_height,
    coin_state,
    fee_for,
    key_lock,
    our_signature,
    require_unspent,
    spend_alone,
    spend_tx,
    submit,
    typed,
)

ROLES = ("buyer", "seller", "arbiter")


def roles_of(lw: LoadedWallet, escrow: Escrow) -> list[str]:
    """The roles whose key this wallet holds."""
    return [r for r, k in escrow.role_keys().items() if lw.wallet.key_for(key_lock(k))]


async def create(
    manager: WalletManager,
    lw: LoadedWallet,
    seller: Key,
    arbiter: Key,
    amount: int,
    refund_height: int,
    fee_rate: int | None,
) -> Escrow:
    """A new buyer key, the escrow's policy watched, and a payment of ``amount`` to it."""
    check_future_height(manager, refund_height, "refund")
    if amount <= manager.node.policy.dust_limit:
        raise InvalidWalletParameter("the escrow amount is too small (dust)")
    if seller == arbiter:
        raise InvalidWalletParameter("the seller and the arbiter need different keys")
    for key in (seller, arbiter):
        if lw.wallet.key_for(key_lock(key)) is not None:
            raise InvalidWalletParameter(
                f"{typed(key)} is this wallet's own key: the seller and the arbiter "
                "hold their own keys"
            )
    lw.wallet.require_unlocked()
    buyer_key = manager.new_key(lw, lw.wallet.default_key_type, EXTERNAL_CHAIN)
    buyer = Key(buyer_key.key_type, buyer_key.pubkey)
    policy = escrow_policy(buyer, seller, arbiter, refund_height)
    problem = sanity_problem(policy)
    if problem is not None:
        raise InvalidWalletParameter(f"not a standard escrow policy: {problem}")
    draft = Escrow(lw.wallet.network, bytes(32), 0, amount, buyer, seller, arbiter, refund_height)
    tx, _ = await manager.send(lw, [TxOut(amount, draft.lock)], fee_rate, comment="escrow")
    manager.add_policy(lw, draft.policy, "escrow")
    vout = next(n for n, o in enumerate(tx.outputs) if o.lock == draft.lock)
    return Escrow(draft.network, tx.txid, vout, amount, buyer, seller, arbiter, refund_height)


def import_escrow(manager: WalletManager, lw: LoadedWallet, escrow: Escrow) -> list[str]:
    """Check the contract against the chain and watch it; the roles this wallet holds."""
    check_funding(manager, escrow)
    roles = roles_of(lw, escrow)
    if not roles:
        raise NotOurPolicy("None of the escrow's keys (buyer, seller, arbiter) is this wallet's")
    manager.add_policy(lw, escrow.policy, "escrow")
    return roles


def check_funding(manager: WalletManager, escrow: Escrow) -> CoinState:
    """The escrow's coin, found where the contract says and as it says."""
    state = coin_state(manager, escrow.txid, escrow.vout)
    if state is None:
        raise ContractError(
            f"the escrow's funding tx {escrow.txid[::-1].hex()} is neither in the chain "
            "nor in the mempool"
        )
    if state.value != escrow.amount or state.lock != escrow.lock:
        raise ContractError("the contract disagrees with the chain (amount or policy)")
    return state


def status(manager: WalletManager, escrow: Escrow) -> dict[str, Any]:
    """Where the escrow's coin is, read from the chain (and the mempool)."""
    state = check_funding(manager, escrow)
    params = manager.params
    out: dict[str, Any] = {
        "address": encode_address(escrow.lock, params),
        "policy": format_policy(escrow.tree),
        "txid": escrow.txid[::-1].hex(),
        "vout": escrow.vout,
        "amount": format_units(escrow.amount),
        "refund_height": escrow.refund_height,
        "height": manager.tip_height,
        "roles": {r: typed(k) for r, k in escrow.role_keys().items()},
    }
    if state.spender is None:
        out["state"] = "funded" if state.confirmations else "funding"
        out["confirmations"] = state.confirmations
        return out
    spender = state.spender
    paid = {
        role: sum(o.value for o in spender.tx.outputs if o.lock == key_lock(key))
        for role, key in escrow.role_keys().items()
    }
    winner = max(paid, key=lambda r: paid[r])
    out["state"] = {"seller": "released", "buyer": "refunded"}.get(winner, "paid")
    out["paid_to"] = winner
    out["signed_by"] = signers(escrow, spender.tx.inputs[0].sig)
    out["spent_by"] = spender.tx.txid_hex
    out["confirmations"] = 0 if spender.height is None else manager.tip_height - spender.height + 1
    return out


def signers(escrow: Escrow, sat_bytes: bytes) -> list[str]:
    """The roles whose signature a spend of the escrow used."""
    sat = decode_satisfaction(sat_bytes)
    if type(sat) is not list or len(sat) != 2:
        return []
    if sat[0] is not None:
        return [r for r, s in zip(ROLES, sat[0], strict=False) if s is not None]
    return ["buyer"]


async def refund(
    manager: WalletManager, lw: LoadedWallet, escrow: Escrow, fee_rate: int | None
) -> tuple[str, int]:
    """The buyer alone takes the coins back: (txid, fee); refused by the node before the
    refund height (bad-txns-policy-timelock)."""
    if "buyer" not in roles_of(lw, escrow):
        raise ContractStateError("only the buyer's wallet can take the refund")
    _unspent(manager, escrow)
    coin = (escrow.txid, escrow.vout, escrow.amount, escrow.lock)
    return await spend_alone(
        manager, lw, coin, escrow.policy, escrow.buyer, "escrow refund", fee_rate
    )


# --- release and dispute: two of the three sign -------------------------------------------


def _unspent(manager: WalletManager, escrow: Escrow) -> None:
    require_unspent(check_funding(manager, escrow), "the escrow")


def payout(manager: WalletManager, escrow: Escrow, to_role: str, rate: int) -> Tx:
    """The tx paying the whole escrow, less the fee, to ``to_role``'s key (locktime 0)."""
    to = key_lock(escrow.role_keys()[to_role])
    draft = spend_tx(escrow.txid, escrow.vout, escrow.policy, [TxOut(escrow.amount, to)], 0)
    fee = fee_for(draft, [[SIG_PLACEHOLDER, SIG_PLACEHOLDER, None], None], rate)
    if escrow.amount - fee <= manager.node.policy.dust_limit:
        raise ContractStateError("the escrow amount does not cover the fee")
    return spend_tx(escrow.txid, escrow.vout, escrow.policy, [TxOut(escrow.amount - fee, to)], 0)


def start(
    manager: WalletManager,
    lw: LoadedWallet,
    escrow: Escrow,
    to_role: str,
    fee_rate: int | None,
) -> str:
    """The first signature of a payout to ``to_role`` (the seller on release, the party the
    arbiter sides with in a dispute): a PSBT for the second signer."""
    if to_role not in ("buyer", "seller"):
        raise InvalidWalletParameter("the escrow pays the buyer or the seller")
    ours = roles_of(lw, escrow)
    if not ours:
        raise NotOurPolicy("None of the escrow's keys (buyer, seller, arbiter) is this wallet's")
    _unspent(manager, escrow)
    lw.wallet.require_unlocked()
    tx = payout(manager, escrow, to_role, manager.fee_rate(fee_rate))
    key = escrow.role_keys()[ours[0]]
    sig = our_signature(manager, lw, tx, 0, key, escrow.amount, escrow.lock)
    psbt = handover.policy_spend_psbt(manager, tx, [(escrow.amount, escrow.lock)])
    return handover.encode(handover.with_signature(psbt, 0, key, sig))


def check_payout(escrow: Escrow, tx: Tx) -> str:
    """The role ``tx`` pays: it must spend the escrow's coin alone, at locktime 0, and pay
    it all but a fee (at most a tenth of it: the first signer cannot burn the escrow in
    fees) to the buyer's or the seller's key."""
    if len(tx.inputs) != 1 or (tx.inputs[0].prev_txid, tx.inputs[0].prev_index) != (
        escrow.txid,
        escrow.vout,
    ):
        raise ContractStateError("this PSBT does not spend the escrow's coin (alone)")
    if len(tx.outputs) != 1 or tx.locktime != 0:
        raise ContractStateError("this PSBT is no payout of the escrow")
    (out,) = tx.outputs
    for role in ("seller", "buyer"):
        if out.lock == key_lock(escrow.role_keys()[role]):
            fee = escrow.amount - out.value
            if not 0 < fee <= escrow.amount // 10:
                raise ContractStateError(f"the payout's fee {format_units(fee)} OBOL is wrong")
            return role
    raise ContractStateError("this PSBT pays neither the buyer nor the seller of the escrow")


async def sign(
    manager: WalletManager, lw: LoadedWallet, escrow: Escrow, text: str
) -> dict[str, Any]:
    """The second signature: check the payout against the contract, sign, and broadcast
    once two of the three signed. Returns what it pays, and the txid or the PSBT."""
    psbt = handover.decode(manager, text)
    tx = handover.unsigned_tx(psbt)
    to_role = check_payout(escrow, tx)
    _unspent(manager, escrow)
    ours = roles_of(lw, escrow)
    if not ours:
        raise NotOurPolicy("None of the escrow's keys (buyer, seller, arbiter) is this wallet's")
    lw.wallet.require_unlocked()
    sigs = handover.signatures(psbt, 0)
    for role in ours:
        key = escrow.role_keys()[role]
        if key.pubkey not in sigs and len(sigs) < 2:
            sig = our_signature(manager, lw, tx, 0, key, escrow.amount, escrow.lock)
            psbt = handover.with_signature(psbt, 0, key, sig)
            sigs = handover.signatures(psbt, 0)
    signed_by = [r for r in ROLES if escrow.role_keys()[r].pubkey in sigs]
    result: dict[str, Any] = {
        "paid_to": to_role,
        "amount": format_units(tx.outputs[0].value),
        "signed_by": signed_by,
    }
    final = handover.try_finish(manager, psbt)
    if final is None:
        result["psbt"] = handover.encode(psbt)
        result["complete"] = False
        return result
    await submit(manager, lw, final, f"escrow paid to the {to_role}")
    result["txid"] = final.txid_hex
    result["complete"] = True
    return result
