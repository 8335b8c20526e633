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
from consensus.policy import Key, decode_satisfaction, encode_satisfaction
from consensus.policy_text import format_policy, sanity_problem
from consensus.primitives import Tx, TxIn, TxOut
from wallet.contracts import ContractError, Loan, LoanOffer, LoanRequest, loan_policy
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
    key_lock,
    our_signature,
    require_unspent,
    spend_alone,
    submit,
    typed,
)


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
    check_future_height(manager, maturity, "maturity")
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


def check_collateral(manager: WalletManager, loan: Loan) -> CoinState:
    """The loan's collateral coin, found where the loan says and as it says."""
    state = coin_state(manager, loan.txid, loan.vout)
    if state is None:
        raise ContractError(
            f"the loan's opening tx {loan.txid[::-1].hex()} is neither in the chain nor "
            "in the mempool"
        )
    if state.value != loan.offer.collateral or state.lock != loan.lock:
        raise ContractError("the loan disagrees with the chain (collateral or policy)")
    return state


def status(manager: WalletManager, loan: Loan) -> dict[str, Any]:
    """open (collateral locked, before maturity), defaulted (still locked at maturity),
    repaid (spent by lender and borrower together) or claimed (spent by the lender
    alone after maturity): read from the chain and the mempool."""
    state = check_collateral(manager, loan)
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
    _collateral_unspent(manager, loan)
    coin = (loan.txid, loan.vout, loan.offer.collateral, loan.lock)
    return await spend_alone(
        manager, lw, coin, loan.policy, loan.offer.lender, "loan claim", fee_rate
    )


# --- opening: one tx joined from both sides ------------------------------------------------


def _lender_of(lw: LoadedWallet, offer: LoanOffer) -> None:
    if lw.wallet.key_for(key_lock(offer.lender)) is None:
        raise ContractStateError("this wallet is not the lender of this offer")


def accept(
    manager: WalletManager, lw: LoadedWallet, offer: LoanOffer, fee_rate: int | None
) -> LoanRequest:
    """The borrower's part: a new key, the loan policy watched, and a funded PSBT of the
    borrower's coins locking the collateral into it (with the borrower's change)."""
    if manager.tip_height >= offer.maturity:
        raise ContractStateError(f"the offer's maturity {offer.maturity} has passed")
    if lw.wallet.key_for(key_lock(offer.lender)) is not None:
        raise ContractStateError("this wallet made the offer: the borrower accepts it")
    lw.wallet.require_unlocked()
    borrower = new_key(manager, lw, "loan")
    policy = loan_policy(borrower, offer.lender, offer.maturity)
    problem = sanity_problem(policy)
    if problem is not None:
        raise InvalidWalletParameter(f"not a standard loan policy: {problem}")
    draft = Loan(offer, borrower, bytes(32), 0)
    part = handover.funded(manager, lw, [TxOut(offer.collateral, draft.lock)], fee_rate)
    manager.add_policy(lw, draft.policy, "loan")
    return LoanRequest(offer, borrower, handover.encode(part))


def fund(
    manager: WalletManager, lw: LoadedWallet, request: LoanRequest, fee_rate: int | None
) -> tuple[Loan, str]:
    """The lender's part joined to the borrower's into the one opening tx, the lender's
    inputs signed: (the loan, the PSBT for the borrower to sign and broadcast)."""
    offer = request.offer
    _lender_of(lw, offer)
    if manager.tip_height >= offer.maturity:
        raise ContractStateError(f"the offer's maturity {offer.maturity} has passed")
    draft = Loan(offer, request.borrower, bytes(32), 0)
    theirs = handover.decode(manager, request.psbt)
    their_tx = handover.unsigned_tx(theirs)
    if [o.value for o in their_tx.outputs if o.lock == draft.lock] != [offer.collateral]:
        raise ContractStateError("the borrower's part does not lock the agreed collateral")
    if any(handover.is_ours(manager, lw, theirs, n) for n in range(len(their_tx.inputs))):
        raise ContractStateError("the borrower's part spends this wallet's coins")
    lw.wallet.require_unlocked()
    ours = handover.funded(
        manager, lw, [TxOut(offer.principal, key_lock(request.borrower))], fee_rate
    )
    joined = handover.join(manager, [theirs, ours])
    tx = handover.unsigned_tx(joined)
    vout = next(n for n, o in enumerate(tx.outputs) if o.lock == draft.lock)
    manager.add_policy(lw, draft.policy, "loan")
    loan = Loan(offer, request.borrower, tx.txid, vout)
    return loan, handover.encode(handover.sign_ours(manager, lw, joined))


def _check_opening(loan: Loan, tx: Tx) -> None:
    o = loan.offer
    if tx.outputs[loan.vout].value != o.collateral or tx.outputs[loan.vout].lock != loan.lock:
        raise ContractStateError("the opening tx does not lock the agreed collateral")
    to_borrower = sum(x.value for x in tx.outputs if x.lock == key_lock(loan.borrower))
    if to_borrower < o.principal:
        raise ContractStateError("the opening tx does not pay the borrower the principal")


def _check_repayment(loan: Loan, tx: Tx) -> int:
    """The index of the collateral input; the repayment and the collateral's return
    must both be there."""
    o = loan.offer
    index = next(
        (
            n
            for n, i in enumerate(tx.inputs)
            if (i.prev_txid, i.prev_index) == (loan.txid, loan.vout)
        ),
        None,
    )
    if index is None:
        raise ContractStateError("this PSBT neither opens nor repays this loan")
    if sum(x.value for x in tx.outputs if x.lock == key_lock(o.lender)) < o.repayment:
        raise ContractStateError("the repayment does not pay the lender principal and interest")
    if not any(x.lock == key_lock(loan.borrower) for x in tx.outputs):
        raise ContractStateError("the repayment does not give the collateral back")
    if tx.locktime != 0:
        raise ContractStateError("a repayment has locktime 0")
    return index


# --- repayment: one tx, both sign ------------------------------------------------------------


def _collateral_unspent(manager: WalletManager, loan: Loan) -> None:
    require_unspent(check_collateral(manager, loan), "the collateral")


def repay(manager: WalletManager, lw: LoadedWallet, loan: Loan, fee_rate: int | None) -> str:
    """The borrower's repayment tx: the collateral coin and the borrower's coins in,
    principal and interest to the lender, the collateral (less the policy input's fee)
    back to the borrower, change; signed by the borrower. A PSBT for the lender."""
    if "borrower" not in roles_of(lw, loan):
        raise ContractStateError("only the borrower's wallet repays the loan")
    _collateral_unspent(manager, loan)
    lw.wallet.require_unlocked()
    rate = manager.fee_rate(fee_rate)
    o = loan.offer
    back = key_lock(loan.borrower)
    part = handover.funded(manager, lw, [TxOut(o.repayment, key_lock(o.lender))], rate)
    sat = encode_satisfaction([[SIG_PLACEHOLDER, SIG_PLACEHOLDER], None])
    extra = len(
        Tx(
            1, (TxIn(loan.txid, loan.vout, loan.policy, sat),), (TxOut(o.collateral, back),), 0
        ).serialize()
    ) - len(Tx(1, (), (), 0).serialize())
    returned = o.collateral - rate * extra
    if returned <= manager.node.policy.dust_limit:
        raise ContractStateError("the collateral does not cover the fee of its return")
    psbt = handover.add_policy_spend(
        manager,
        part,
        (loan.txid, loan.vout, o.collateral, loan.lock, loan.policy),
        TxOut(returned, back),
    )
    psbt = handover.sign_ours(manager, lw, psbt)
    tx = handover.unsigned_tx(psbt)
    index = _check_repayment(loan, tx)
    sig = our_signature(manager, lw, tx, index, loan.borrower, o.collateral, loan.lock)
    return handover.encode(handover.with_signature(psbt, index, loan.borrower, sig))


async def sign(manager: WalletManager, lw: LoadedWallet, loan: Loan, text: str) -> dict[str, Any]:
    """The second party's step, on the opening tx (the borrower) or the repayment (the
    lender): check the tx against the loan, sign this wallet's part, broadcast once
    complete. Returns what it does, and the txid or the PSBT."""
    psbt = handover.decode(manager, text)
    tx = handover.unsigned_tx(psbt)
    roles = roles_of(lw, loan)
    if not roles:
        raise NotOurPolicy("None of the loan's keys (lender, borrower) is this wallet's")
    lw.wallet.require_unlocked()
    if tx.txid == loan.txid:
        _check_opening(loan, tx)
        what = "opening"
    else:
        _collateral_unspent(manager, loan)
        index = _check_repayment(loan, tx)
        what = "repayment"
        for role in roles:
            key = loan.role_keys()[role]
            if key.pubkey not in handover.signatures(psbt, index):
                sig = our_signature(manager, lw, tx, index, key, loan.offer.collateral, loan.lock)
                psbt = handover.with_signature(psbt, index, key, sig)
    psbt = handover.sign_ours(manager, lw, psbt)
    result: dict[str, Any] = {"tx": what, "roles": roles}
    final = handover.try_finish(manager, psbt)
    if final is None:
        result.update({"complete": False, "psbt": handover.encode(psbt)})
        return result
    await submit(manager, lw, final, f"loan {what}")
    result.update({"complete": True, "txid": final.txid_hex})
    return result
