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
from consensus.params import LOCKTIME_THRESHOLD
from consensus.policy import Key, decode_satisfaction
from consensus.policy_text import format_policy, sanity_problem
from consensus.primitives import TxOut
from wallet.contracts import ContractError, Escrow, escrow_policy
from wallet.errors import NotOurPolicy
from wallet.hd import EXTERNAL_CHAIN

from ..wallets import InvalidWalletParameter, LoadedWallet, WalletManager, format_units
from .spend import ContractStateError, coin_state, key_lock, spend_alone, typed

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
    tip = manager.tip_height
    if not tip < refund_height < LOCKTIME_THRESHOLD:
        raise InvalidWalletParameter(
            f"the refund height must be above the current height {tip} "
            f"(and below {LOCKTIME_THRESHOLD})"
        )
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


def check_funding(manager: WalletManager, escrow: Escrow) -> None:
    state = coin_state(manager, escrow.txid, escrow.vout)
    if state is None:
        raise ContractError(
            f"the escrow's funding tx {escrow.txid[::-1].hex()} is neither in the chain "
            "nor in the mempool"
        )
    if state.value != escrow.amount or state.lock != escrow.lock:
        raise ContractError("the contract disagrees with the chain (amount or policy)")


def status(manager: WalletManager, escrow: Escrow) -> dict[str, Any]:
    """Where the escrow's coin is, read from the chain (and the mempool)."""
    check_funding(manager, escrow)
    state = coin_state(manager, escrow.txid, escrow.vout)
    assert state is not None
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
    check_funding(manager, escrow)
    state = coin_state(manager, escrow.txid, escrow.vout)
    assert state is not None
    if state.spender is not None:
        raise ContractStateError(f"the escrow was already spent by {state.spender.tx.txid_hex}")
    coin = (escrow.txid, escrow.vout, escrow.amount, escrow.lock)
    return await spend_alone(
        manager, lw, coin, escrow.policy, escrow.buyer, "escrow refund", fee_rate
    )
