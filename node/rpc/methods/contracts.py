"""Wallet RPCs for contracts: policy addresses a wallet holds a key in, and the escrow
and lending flows (``node.contracts``).

``addmultisigaddress`` (Bitcoin Core's name, parameters and result, with "policy" where
Core has "redeemScript") and ``addpolicyaddress`` make the wallet watch a policy address:
its coins show in balances (``getbalances``' "contract"), ``listunspent`` and history,
and are never picked by a plain payment. A policy none of whose keys is the wallet's is
refused (-5): the wallet could never sign for it.

Each flow step returns what happened and ``next``: what the next party has to do, with
the string to hand over. Contract strings that are damaged, of another network or that
disagree with the chain give -22; a step that does not fit the contract's state -8; a tx
the node refuses -26 with its reject code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consensus.address import AddressError, decode_address, encode_address
from consensus.errors import RuleError
from consensus.policy import Key, Policy, encode_policy
from consensus.policy_text import PolicySyntaxError, format_policy, parse_policy
from wallet.contracts import Escrow, Loan, LoanOffer, LoanRequest, decode_contract, encode_contract

from ...contracts import escrow as escrow_flow
from ...contracts import loan as loan_flow
from ...contracts.spend import ContractStateError, typed
from ..errors import RPC_INVALID_PARAMETER, RpcError
from ..jsonfmt import Amount, parse_amount
from ..params import as_int, as_list, as_str
from ..registry import MethodTable, RpcRequest
from .policies import multisig_policy, parse_key
from .wallet import as_fee_rate

if TYPE_CHECKING:
    from ...wallets.manager import LoadedWallet
    from ..services import NodeServices


rpc = MethodTable()


def resolve(node: NodeServices, /, request: RpcRequest) -> LoadedWallet:
    return node.wallets.resolve(request.wallet_name)


def wallet_key(node: NodeServices, /, lw: LoadedWallet, value: Any) -> Key:
    """A public key, or (as Core takes it) an address of one of this wallet's keys."""
    try:
        lock = decode_address(as_str(value), node.params)
    except AddressError:
        return parse_key(value)
    key = lw.wallet.key_for(lock)
    if key is None:
        raise RpcError(RPC_INVALID_PARAMETER, f"{value} is not a key address of this wallet")
    return Key(key.key_type, key.pubkey)


def watch(node: NodeServices, /, lw: LoadedWallet, policy: Policy, label: Any) -> dict[str, Any]:
    try:
        data = encode_policy(policy)
    except RuleError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, f"Policy is too big: {exc}") from exc
    lock = node.wallets.add_policy(lw, data, as_str(label))
    return {
        "address": encode_address(lock, node.params),
        "policy": data.hex(),
        "descriptor": format_policy(policy),
    }


@rpc.method(category="wallet")
def addmultisigaddress(
    node: NodeServices,
    /,
    request: RpcRequest,
    nrequired: Any,
    keys: Any,
    label: Any = "",
    address_type: Any = None,
) -> dict[str, Any]:
    """addmultisigaddress nrequired ["key",...] ( "label" "address_type" )

    Watch the nrequired-of-n policy of these keys (hex or typed public keys, or
    addresses of this wallet's keys), one of which must be this wallet's: its
    address, encoding ("policy", Core's "redeemScript") and text ("descriptor")."""
    lw = resolve(node, request)
    required = as_int(nrequired, "nrequired")
    pubkeys = [wallet_key(node, lw, k) for k in as_list(keys)]
    if address_type is not None and as_str(address_type) != "bech32m":
        raise RpcError(RPC_INVALID_PARAMETER, "obol policy addresses are bech32m")
    return watch(node, lw, multisig_policy(required, pubkeys), label)


@rpc.method(category="wallet")
def addpolicyaddress(
    node: NodeServices, /, request: RpcRequest, policy: Any, label: Any = ""
) -> dict[str, Any]:
    """addpolicyaddress "policy-text" ( "label" )

    Watch the address of a policy in its text form (pk(KEY), thresh(k,...),
    and(...), or(...), after(N), sha256(H)) that holds a key of this wallet:
    its address, encoding and text."""
    lw = resolve(node, request)
    try:
        parsed = parse_policy(as_str(policy))
    except PolicySyntaxError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, f"Policy parse failed: {exc}") from exc
    return watch(node, lw, parsed, label)


def read_contract(node: NodeServices, /, value: Any, kind: type, what: str) -> Any:
    contract = decode_contract(as_str(value), node.params.name)
    if not isinstance(contract, kind):
        raise ContractStateError(f"this contract string is not {what}")
    return contract


def read_escrow(node: NodeServices, /, value: Any) -> Escrow:
    return read_contract(node, value, Escrow, "an escrow")


@rpc.method(category="wallet")
async def escrowcreate(
    node: NodeServices,
    /,
    request: RpcRequest,
    seller_key: Any,
    arbiter_key: Any,
    amount: Any,
    refund_height: Any,
    fee_rate: Any = None,
) -> dict[str, Any]:
    """escrowcreate "seller_key" "arbiter_key" amount refund_height ( fee_rate )

    As the buyer: a new key of this wallet, the escrow policy
    or(thresh(2,pk(buyer),pk(seller),pk(arbiter)),and(pk(buyer),after(refund_height)))
    watched, and amount paid into it. Returns the contract string for the seller and
    the arbiter to import, the funding txid and the address."""
    lw = resolve(node, request)
    escrow = await escrow_flow.create(
        node.wallets,
        lw,
        parse_key(seller_key),
        parse_key(arbiter_key),
        parse_amount(amount, allow_zero=False),
        as_int(refund_height, "refund_height"),
        as_fee_rate(fee_rate),
    )
    contract = encode_contract(escrow)
    return {
        "contract": contract,
        "txid": escrow.txid[::-1].hex(),
        "vout": escrow.vout,
        "address": encode_address(escrow.lock, node.params),
        "buyer_key": typed(escrow.buyer),
        "next": "give the contract to the seller and the arbiter: "
        f"obol wallet escrow import {contract}",
    }


@rpc.method(category="wallet")
def escrowimport(node: NodeServices, /, request: RpcRequest, contract: Any) -> dict[str, Any]:
    """escrowimport "contract"

    As the seller or the arbiter: check the escrow against the chain (its coin, amount
    and policy) and watch it. Returns this wallet's roles and the escrow's state."""
    lw = resolve(node, request)
    escrow = read_escrow(node, contract)
    roles = escrow_flow.import_escrow(node.wallets, lw, escrow)
    return {
        **escrow_flow.status(node.wallets, escrow),
        "wallet_roles": roles,
        "next": "release (buyer and seller): obol wallet escrow release CONTRACT; "
        "dispute (the arbiter with one party): obol wallet escrow dispute CONTRACT "
        "--to buyer|seller",
    }


@rpc.method(category="wallet")
def escrowstatus(node: NodeServices, /, contract: Any) -> dict[str, Any]:
    """escrowstatus "contract"

    The escrow's state from the chain: funding, funded, released (paid to the seller)
    or refunded (paid to the buyer), with the spending tx and who signed it."""
    return escrow_flow.status(node.wallets, read_escrow(node, contract))


@rpc.method(category="wallet")
async def escrowrefund(
    node: NodeServices, /, request: RpcRequest, contract: Any, fee_rate: Any = None
) -> dict[str, Any]:
    """escrowrefund "contract" ( fee_rate )

    As the buyer, from the refund height on: take the coins back alone. Before it the
    node refuses the tx (bad-txns-policy-timelock)."""
    lw = resolve(node, request)
    escrow = read_escrow(node, contract)
    txid, fee = await escrow_flow.refund(node.wallets, lw, escrow, as_fee_rate(fee_rate))
    return {
        "txid": txid,
        "fee": Amount(fee),
        "next": "nothing: the refund is broadcast; check it with "
        "obol wallet escrow status CONTRACT",
    }


def first_signature(
    node: NodeServices, /, request: RpcRequest, contract: Any, to_role: str, fee_rate: Any
) -> dict[str, Any]:
    lw = resolve(node, request)
    escrow = read_escrow(node, contract)
    psbt = escrow_flow.start(node.wallets, lw, escrow, to_role, as_fee_rate(fee_rate))
    return {
        "psbt": psbt,
        "paid_to": to_role,
        "next": f"the other signer checks and signs it: obol wallet escrow sign CONTRACT {psbt}",
    }


@rpc.method(category="wallet")
def escrowrelease(
    node: NodeServices, /, request: RpcRequest, contract: Any, fee_rate: Any = None
) -> dict[str, Any]:
    """escrowrelease "contract" ( fee_rate )

    As the buyer (or the seller): sign a tx paying the escrow, less the fee, to the
    seller. Returns the PSBT for the other party to sign with escrowsign."""
    return first_signature(node, request, contract, "seller", fee_rate)


@rpc.method(category="wallet")
def escrowdispute(
    node: NodeServices, /, request: RpcRequest, contract: Any, to: Any, fee_rate: Any = None
) -> dict[str, Any]:
    """escrowdispute "contract" "buyer|seller" ( fee_rate )

    As the arbiter: sign a tx paying the escrow, less the fee, to the party named.
    Returns the PSBT for that party to sign with escrowsign."""
    return first_signature(node, request, contract, as_str(to), fee_rate)


@rpc.method(category="wallet")
async def escrowsign(
    node: NodeServices, /, request: RpcRequest, contract: Any, psbt: Any
) -> dict[str, Any]:
    """escrowsign "contract" "psbt"

    Check a payout PSBT against the escrow (it spends the escrow's coin and pays it,
    less a fee, to the buyer or the seller), sign it, and broadcast it once two of the
    three have signed: the txid, else the PSBT to hand on."""
    lw = resolve(node, request)
    escrow = read_escrow(node, contract)
    result = await escrow_flow.sign(node.wallets, lw, escrow, as_str(psbt))
    if result["complete"]:
        result["next"] = "nothing: the payout is broadcast"
    else:
        result["next"] = "another signer signs it: obol wallet escrow sign CONTRACT PSBT"
    return result


@rpc.method(category="wallet")
def loanoffer(
    node: NodeServices,
    /,
    request: RpcRequest,
    principal: Any,
    interest: Any,
    collateral: Any,
    maturity: Any,
) -> dict[str, Any]:
    """loanoffer principal interest collateral maturity

    As the lender: the terms under a new key of this wallet. The borrower accepts the
    offer string with loanaccept; after the maturity height, collateral not repaid
    is the lender's."""
    lw = resolve(node, request)
    offer = loan_flow.offer(
        node.wallets,
        lw,
        parse_amount(principal, allow_zero=False),
        parse_amount(interest),
        parse_amount(collateral, allow_zero=False),
        as_int(maturity, "maturity"),
    )
    text = encode_contract(offer)
    return {
        "offer": text,
        "lender_key": typed(offer.lender),
        "next": f"give the offer to the borrower: obol wallet loan accept {text}",
    }


@rpc.method(category="wallet")
def loanstatus(node: NodeServices, /, contract: Any) -> dict[str, Any]:
    """loanstatus "loan"

    The loan's state from the chain: open, defaulted (maturity passed, collateral not
    repaid), repaid, or claimed (by the lender after maturity)."""
    return loan_flow.status(node.wallets, read_contract(node, contract, Loan, "a loan"))


@rpc.method(category="wallet")
async def loanclaim(
    node: NodeServices, /, request: RpcRequest, contract: Any, fee_rate: Any = None
) -> dict[str, Any]:
    """loanclaim "loan" ( fee_rate )

    As the lender, from the maturity height on, the loan not repaid: take the
    collateral alone. Before it the node refuses the tx (bad-txns-policy-timelock)."""
    lw = resolve(node, request)
    loan = read_contract(node, contract, Loan, "a loan")
    txid, fee = await loan_flow.claim(node.wallets, lw, loan, as_fee_rate(fee_rate))
    return {"txid": txid, "fee": Amount(fee), "next": "nothing: the claim is broadcast"}


@rpc.method(category="wallet")
def loanaccept(
    node: NodeServices, /, request: RpcRequest, offer: Any, fee_rate: Any = None
) -> dict[str, Any]:
    """loanaccept "offer" ( fee_rate )

    As the borrower: a new key, the loan policy watched, and this wallet's part of the
    opening tx (its coins locking the collateral, its change) as a funded PSBT.
    Returns the request for the lender's loanfund."""
    lw = resolve(node, request)
    terms = read_contract(node, offer, LoanOffer, "a loan offer")
    req = loan_flow.accept(node.wallets, lw, terms, as_fee_rate(fee_rate))
    text = encode_contract(req)
    return {
        "request": text,
        "borrower_key": typed(req.borrower),
        "next": f"give the request to the lender: obol wallet loan fund {text}",
    }


@rpc.method(category="wallet")
def loanfund(
    node: NodeServices, /, request: RpcRequest, loan_request: Any, fee_rate: Any = None
) -> dict[str, Any]:
    """loanfund "request" ( fee_rate )

    As the lender: this wallet's part (the principal to the borrower) joined with the
    borrower's into the one opening tx (joinpsbts), the lender's inputs signed.
    Returns the loan string, for loanstatus, loanrepay and loanclaim, and the PSBT
    the borrower signs and broadcasts with loansign."""
    lw = resolve(node, request)
    req = read_contract(node, loan_request, LoanRequest, "a loan request")
    loan, psbt = loan_flow.fund(node.wallets, lw, req, as_fee_rate(fee_rate))
    text = encode_contract(loan)
    return {
        "loan": text,
        "psbt": psbt,
        "txid": loan.txid[::-1].hex(),
        "next": f"the borrower checks, signs and broadcasts it: obol wallet loan sign {text} PSBT",
    }


@rpc.method(category="wallet")
async def loansign(
    node: NodeServices, /, request: RpcRequest, contract: Any, psbt: Any
) -> dict[str, Any]:
    """loansign "loan" "psbt"

    Check the opening tx (as the borrower) or the repayment (as the lender) against
    the loan, sign this wallet's part, and broadcast once complete: the txid, else
    the PSBT to hand on."""
    lw = resolve(node, request)
    loan = read_contract(node, contract, Loan, "a loan")
    result = await loan_flow.sign(node.wallets, lw, loan, as_str(psbt))
    result["next"] = (
        "nothing: the tx is broadcast; see obol wallet loan status LOAN"
        if result["complete"]
        else "the other party signs it: obol wallet loan sign LOAN PSBT"
    )
    return result


@rpc.method(category="wallet")
def loanrepay(
    node: NodeServices, /, request: RpcRequest, contract: Any, fee_rate: Any = None
) -> dict[str, Any]:
    """loanrepay "loan" ( fee_rate )

    As the borrower: the one repayment tx (principal and interest to the lender, the
    collateral back to this wallet), signed by this wallet. Returns the PSBT the
    lender signs and broadcasts with loansign."""
    lw = resolve(node, request)
    loan = read_contract(node, contract, Loan, "a loan")
    psbt = loan_flow.repay(node.wallets, lw, loan, as_fee_rate(fee_rate))
    return {
        "psbt": psbt,
        "next": f"the lender checks, signs and broadcasts it: obol wallet loan sign LOAN {psbt}",
    }
