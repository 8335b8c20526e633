"""The escrow and lending contracts: their policies, and the strings the parties hand over.

Escrow (third-party payment), funded by the buyer, refund height T::

    or(thresh(2,pk(buyer),pk(seller),pk(arbiter)),and(pk(buyer),after(T)))

Loan, the borrower's collateral until maturity M::

    or(and(pk(borrower),pk(lender)),and(pk(lender),after(M)))

A contract string is ``obol:`` and the base64 of one canonical MessagePack array
``["obol-contract", version, kind, network, fields...]``: self-describing (it names its
kind and network), checked on reading as strictly as a tx (exact field count and types,
canonical encoding, nothing trailing), so a truncated or altered string is refused whole.

- ``escrow``: policy, funding txid, vout, amount, buyer, seller, arbiter keys, T
- ``loan-offer``: the lender's key, principal, interest, collateral, maturity
- ``loan-request``: the offer, the borrower's key, the borrower's funded PSBT (base64)
- ``loan``: the offer, the borrower's key, the collateral outpoint (txid, vout)

A key is ``[key_type, pubkey]``. Nothing here is secret: every party may hold every string.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgpack

from consensus.errors import RuleError
from consensus.policy import After, Key, Policy, Thresh, encode_policy, policy_lock
from consensus.policy_text import sanity_problem

from .errors import WalletError

PREFIX = "obol:"
MAGIC = "obol-contract"
VERSION = 1
MAX_CONTRACT_SIZE = 200_000  # a loan request carries a PSBT
ROLES_ESCROW = ("buyer", "seller", "arbiter")
ROLES_LOAN = ("lender", "borrower")


class ContractError(WalletError):
    """A contract string that is not one, is damaged, or is for another network or kind
    (RPC_DESERIALIZATION_ERROR)."""


def escrow_policy(buyer: Key, seller: Key, arbiter: Key, refund_height: int) -> Policy:
    return Thresh(
        1,
        (
            Thresh(2, (buyer, seller, arbiter)),
            Thresh(2, (buyer, After(refund_height))),
        ),
    )


def loan_policy(borrower: Key, lender: Key, maturity: int) -> Policy:
    return Thresh(1, (Thresh(2, (borrower, lender)), Thresh(2, (lender, After(maturity)))))


@dataclass(frozen=True, slots=True)
class Escrow:
    network: str
    txid: bytes  # the funding tx, internal byte order
    vout: int
    amount: int
    buyer: Key
    seller: Key
    arbiter: Key
    refund_height: int

    @property
    def tree(self) -> Policy:
        return escrow_policy(self.buyer, self.seller, self.arbiter, self.refund_height)

    @property
    def policy(self) -> bytes:
        return encode_policy(self.tree)

    @property
    def lock(self) -> bytes:
        return policy_lock(self.policy)

    def role_keys(self) -> dict[str, Key]:
        return {"buyer": self.buyer, "seller": self.seller, "arbiter": self.arbiter}


@dataclass(frozen=True, slots=True)
class LoanOffer:
    network: str
    lender: Key
    principal: int
    interest: int
    collateral: int
    maturity: int

    @property
    def repayment(self) -> int:
        return self.principal + self.interest


@dataclass(frozen=True, slots=True)
class LoanRequest:
    offer: LoanOffer
    borrower: Key
    psbt: str  # the borrower's funded part: collateral into the loan policy, its change


@dataclass(frozen=True, slots=True)
class Loan:
    offer: LoanOffer
    borrower: Key
    txid: bytes  # the opening tx
    vout: int  # its collateral output

    @property
    def network(self) -> str:
        return self.offer.network

    @property
    def tree(self) -> Policy:
        return loan_policy(self.borrower, self.offer.lender, self.offer.maturity)

    @property
    def policy(self) -> bytes:
        return encode_policy(self.tree)

    @property
    def lock(self) -> bytes:
        return policy_lock(self.policy)

    def role_keys(self) -> dict[str, Key]:
        return {"lender": self.offer.lender, "borrower": self.borrower}


Contract = Escrow | LoanOffer | LoanRequest | Loan


# --- the string form ---------------------------------------------------------------------


def _key(k: Key) -> list[Any]:
    return [k.key_type, k.pubkey]


def _offer_fields(o: LoanOffer) -> list[Any]:
    return [_key(o.lender), o.principal, o.interest, o.collateral, o.maturity]


def _fields(c: Contract) -> tuple[str, str, list[Any]]:
    if isinstance(c, Escrow):
        keys = [_key(c.buyer), _key(c.seller), _key(c.arbiter)]
        return "escrow", c.network, [c.txid, c.vout, c.amount, *keys, c.refund_height]
    if isinstance(c, LoanOffer):
        return "loan-offer", c.network, _offer_fields(c)
    if isinstance(c, LoanRequest):
        return "loan-request", c.offer.network, [*_offer_fields(c.offer), _key(c.borrower), c.psbt]
    return "loan", c.offer.network, [*_offer_fields(c.offer), _key(c.borrower), c.txid, c.vout]


def encode_contract(c: Contract) -> str:
    kind, network, fields = _fields(c)
    packed = msgpack.packb([MAGIC, VERSION, kind, network, *fields], use_bin_type=True)
    return PREFIX + base64.b64encode(packed).decode()


def _uint(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise ContractError(f"contract field {what} is not a whole number")
    return value


def _read_key(value: Any) -> Key:
    if type(value) is not list or len(value) != 2:
        raise ContractError("contract key is not [type, pubkey]")
    try:
        return Key(value[0], value[1])
    except RuleError as exc:
        raise ContractError(f"contract key: {exc.message}") from exc


def _read_txid(value: Any) -> bytes:
    if type(value) is not bytes or len(value) != 32:
        raise ContractError("contract txid is not 32 bytes")
    return value


def _read_offer(network: str, f: list[Any]) -> LoanOffer:
    return LoanOffer(
        network,
        _read_key(f[0]),
        _uint(f[1], "principal"),
        _uint(f[2], "interest"),
        _uint(f[3], "collateral"),
        _uint(f[4], "maturity"),
    )


_ARITY = {"escrow": 7, "loan-offer": 5, "loan-request": 7, "loan": 8}


def decode_contract(text: str, network: str) -> Contract:
    """The contract ``text`` encodes; ``ContractError`` for anything else, or one of
    another network."""
    if not text.startswith(PREFIX):
        raise ContractError(f"not a contract string (it starts with {PREFIX!r})")
    body = text[len(PREFIX) :].strip()
    if len(body) > MAX_CONTRACT_SIZE * 4 // 3 + 4:
        raise ContractError("contract string too long")
    try:
        data = base64.b64decode(body, validate=True)
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except (binascii.Error, ValueError, msgpack.ExtraData, msgpack.UnpackException) as exc:
        raise ContractError(f"contract string is damaged ({exc})") from exc
    if type(obj) is not list or len(obj) < 4 or obj[0] != MAGIC:
        raise ContractError("not an obol contract")
    if obj[1] != VERSION:
        raise ContractError(f"unsupported contract version {obj[1]!r}")
    kind, net, fields = obj[2], obj[3], obj[4:]
    if kind not in _ARITY:
        raise ContractError(f"unknown contract kind {kind!r}")
    if len(fields) != _ARITY[kind]:
        raise ContractError(f"the {kind} contract has {_ARITY[kind]} fields, not {len(fields)}")
    if net != network:
        raise ContractError(f"this contract is for {net}, not {network}")
    contract: Contract
    if kind == "escrow":
        contract = Escrow(
            net,
            _read_txid(fields[0]),
            _uint(fields[1], "vout"),
            _uint(fields[2], "amount"),
            _read_key(fields[3]),
            _read_key(fields[4]),
            _read_key(fields[5]),
            _uint(fields[6], "refund height"),
        )
        _check_policy(contract)
    elif kind == "loan-offer":
        contract = _read_offer(net, fields)
    elif kind == "loan-request":
        if type(fields[6]) is not str:
            raise ContractError("loan request PSBT is not text")
        contract = LoanRequest(_read_offer(net, fields), _read_key(fields[5]), fields[6])
    else:
        contract = Loan(
            _read_offer(net, fields),
            _read_key(fields[5]),
            _read_txid(fields[6]),
            _uint(fields[7], "vout"),
        )
        _check_policy(contract)
    if encode_contract(contract) != PREFIX + body:
        raise ContractError("contract string is not in its canonical encoding")
    return contract


def _check_policy(c: Escrow | Loan) -> None:
    """The policy is buildable and standard (distinct keys, a height in range)."""
    try:
        problem = sanity_problem(c.tree)
    except RuleError as exc:
        raise ContractError(f"contract policy: {exc.message}") from exc
    if problem is not None:
        raise ContractError(f"contract policy: {problem}")
