"""Peer-to-peer lending, as the wallet runs it.

The lender offers principal, interest, collateral and maturity M (``offer``); the
borrower accepts with a funded part (its coins, the collateral into the loan policy, its
change); the lender joins its own part (its coins, the principal to the borrower, its
change) into ONE tx, signs its inputs and hands it back; the borrower checks and signs
its inputs and broadcasts. Repayment is ONE tx too: the collateral coin and the
borrower's coins in, principal plus interest to the lender and the collateral back to the
borrower out, signed by both. From M on, if the collateral is still there, the lender
alone takes it (``claim``).

Payments go to the plain address of the receiving party's loan key, so each signer can
check exactly what a tx pays. ``status`` reads the loan's state from where the collateral
coin is on the chain (and in the mempool), not from any note kept by a wallet.
"""

from __future__ import annotations

from typing import Any

from consensus.address import encode_address
from consensus.params import LOCKTIME_THRESHOLD
from consensus.policy import Key, decode_satisfaction
from consensus.policy_text import format_policy
from wallet.contracts import ContractError, Loan, LoanOffer
from wallet.hd import EXTERNAL_CHAIN

from ..wallets import InvalidWalletParameter, LoadedWallet, WalletManager, format_units
from .spend import ContractStateError, coin_state, key_lock, spend_alone, typed


def roles_of(lw: LoadedWallet, loan: Loan) -> list[str]:
    return [r for r, k in loan.role_keys().items() if lw.wallet.key_for(key_lock(k))]


def new_key(manager: WalletManager, lw: LoadedWallet, label: str) -> Key:
    key = manager.new_key(lw, lw.wallet.default_key_type, EXTERNAL_CHAIN, label)
    return Key(key.key_type, key.pubkey)


def offer(
    manager: WalletManager,
    lw: LoadedWallet,
    principal: int,
    interest: int,
    collateral: int,
    maturity: int,
) -> LoanOffer:
    """The lender's terms, under a new key of the lender's wallet."""
    tip = manager.tip_height
    if not tip < maturity < LOCKTIME_THRESHOLD:
        raise InvalidWalletParameter(
            f"the maturity height must be above the current height {tip} "
            f"(and below {LOCKTIME_THRESHOLD})"
        )
    dust = manager.node.policy.dust_limit
    if principal <= dust or collateral <= dust:
        raise InvalidWalletParameter("the principal and the collateral must be above dust")
    if manager.spendable(lw) < principal:
        raise InvalidWalletParameter(
            f"this wallet cannot lend {format_units(principal)} OBOL "
            f"(spendable: {format_units(manager.spendable(lw))})"
        )
    lender = new_key(manager, lw, "loan")
    return LoanOffer(lw.wallet.network, lender, principal, interest, collateral, maturity)


def check_collateral(manager: WalletManager, loan: Loan) -> None:
    state = coin_state(manager, loan.txid, loan.vout)
    if state is None:
        raise ContractError(
            f"the loan's opening tx {loan.txid[::-1].hex()} is neither in the chain nor "
            "in the mempool"
        )
    if state.value != loan.offer.collateral or state.lock != loan.lock:
        raise ContractError("the loan disagrees with the chain (collateral or policy)")


def status(manager: WalletManager, loan: Loan) -> dict[str, Any]:
    """open (collateral locked, before maturity), defaulted (still locked at maturity),
    repaid (spent by lender and borrower together) or claimed (spent by the lender
    alone after maturity): read from the chain and the mempool."""
    check_collateral(manager, loan)
    state = coin_state(manager, loan.txid, loan.vout)
    assert state is not None
    tip = manager.tip_height
    o = loan.offer
    out: dict[str, Any] = {
        "address": encode_address(loan.lock, manager.params),
        "policy": format_policy(loan.tree),
        "txid": loan.txid[::-1].hex(),
        "vout": loan.vout,
        "principal": format_units(o.principal),
        "interest": format_units(o.interest),
        "collateral": format_units(o.collateral),
        "maturity": o.maturity,
        "height": tip,
        "roles": {r: typed(k) for r, k in loan.role_keys().items()},
    }
    if state.spender is None:
        out["state"] = "open" if tip < o.maturity else "defaulted"
        out["confirmations"] = state.confirmations
        return out
    spender = state.spender
    index = next(
        n
        for n, i in enumerate(spender.tx.inputs)
        if (i.prev_txid, i.prev_index) == (loan.txid, loan.vout)
    )
    sat = decode_satisfaction(spender.tx.inputs[index].sig)
    out["state"] = "repaid" if type(sat) is list and sat[0] is not None else "claimed"
    out["spent_by"] = spender.tx.txid_hex
    out["confirmations"] = 0 if spender.height is None else tip - spender.height + 1
    return out


async def claim(
    manager: WalletManager, lw: LoadedWallet, loan: Loan, fee_rate: int | None
) -> tuple[str, int]:
    """The lender alone takes the collateral: (txid, fee); refused by the node before
    maturity (bad-txns-policy-timelock)."""
    if "lender" not in roles_of(lw, loan):
        raise ContractStateError("only the lender's wallet can claim the collateral")
    check_collateral(manager, loan)
    state = coin_state(manager, loan.txid, loan.vout)
    assert state is not None
    if state.spender is not None:
        raise ContractStateError(f"the collateral was already spent by {state.spender.tx.txid_hex}")
    coin = (loan.txid, loan.vout, loan.offer.collateral, loan.lock)
    return await spend_alone(
        manager, lw, coin, loan.policy, loan.offer.lender, "loan claim", fee_rate
    )
