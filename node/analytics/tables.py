"""The export's tables: their Parquet schemas, and the rows of a run of blocks.

Hashes are hex in the order people see them (``getblock``'s); amounts are integers of
base units; heights and positions are int64, which every reader (DuckDB, pandas, Polars,
Spark) maps to its own integer without a cast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from consensus.address import encode_address
from consensus.coins import Coin
from consensus.errors import RuleError
from consensus.hashing import hash_to_hex
from consensus.params import NetworkParams, block_subsidy
from consensus.policy import After, Key, Policy, Thresh, decode_policy
from consensus.policy_text import format_policy
from consensus.primitives import POLICY_LOCK_KIND, Block, Tx
from consensus.signatures import REGISTRY, make_lock
from wallet.contracts import escrow_policy, loan_policy

from ..rpc.views import policy_spend_json

# DataType, not the narrower types the stubs give: a schema's (name, type) list mixes them.
I64: pa.DataType = pa.int64()
STR: pa.DataType = pa.string()
BOOL: pa.DataType = pa.bool_()

SCHEMAS: dict[str, pa.Schema] = {
    "blocks": pa.schema(
        [
            ("height", I64),
            ("hash", STR),
            ("prev_hash", STR),
            ("time", I64),
            ("mediantime", I64),
            ("version", I64),
            ("bits", I64),
            ("nonce", I64),
            ("merkle_root", STR),
            ("size", I64),
            ("n_tx", I64),
            ("subsidy", I64),
            ("fees", I64),
            ("output_value", I64),
        ]
    ),
    "txs": pa.schema(
        [
            ("height", I64),
            ("block_hash", STR),
            ("position", I64),
            ("txid", STR),
            ("version", I64),
            ("locktime", I64),
            ("size", I64),
            ("is_coinbase", BOOL),
            ("n_inputs", I64),
            ("n_outputs", I64),
            ("input_value", I64),
            ("output_value", I64),
            ("fee", I64),
        ]
    ),
    "inputs": pa.schema(
        [
            ("height", I64),
            ("txid", STR),
            ("vin", I64),
            ("prev_txid", STR),
            ("prev_vout", I64),
            ("pubkey", STR),
            ("sig_size", I64),
            ("sighash", STR),
            ("is_policy", BOOL),
        ]
    ),
    "outputs": pa.schema(
        [
            ("height", I64),
            ("txid", STR),
            ("vout", I64),
            ("value", I64),
            ("lock_kind", STR),
            ("lock", STR),
            ("address", STR),
            ("is_coinbase", BOOL),
        ]
    ),
    "spends": pa.schema(
        [
            ("height", I64),
            ("txid", STR),
            ("vin", I64),
            ("prev_txid", STR),
            ("prev_vout", I64),
            ("value", I64),
            ("lock_kind", STR),
            ("address", STR),
            ("created_height", I64),
            ("coinbase", BOOL),
        ]
    ),
    "policy_spends": pa.schema(
        [
            ("height", I64),
            ("txid", STR),
            ("vin", I64),
            ("prev_txid", STR),
            ("prev_vout", I64),
            ("value", I64),
            ("address", STR),
            ("policy", STR),
            ("branch", STR),
            ("keys_used", I64),
            ("contract", STR),
            ("event", STR),
            ("borrower", STR),
            ("lender", STR),
            ("maturity", I64),
            ("buyer", STR),
            ("seller", STR),
            ("arbiter", STR),
            ("refund_height", I64),
            ("signers", STR),
        ]
    ),
    "pledges": pa.schema(
        [
            ("height", I64),
            ("txid", STR),
            ("vin", I64),
            ("prev_txid", STR),
            ("prev_vout", I64),
            ("value", I64),
            ("backer", STR),
            ("payee", STR),
            ("goal", I64),
        ]
    ),
}
TABLES = tuple(SCHEMAS)


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """One active-chain block as the chain thread read it: the export's unit of work."""

    height: int
    hash: bytes
    mediantime: int
    block: Block
    undo: tuple[Coin, ...]


class _Locks:
    """Lock kind and address per lock, remembered: bech32m in Python costs more than the
    rest of a row, and a chain pays the same few addresses again and again."""

    def __init__(self, params: NetworkParams) -> None:
        self.params = params
        self._seen: dict[bytes, tuple[str, str | None]] = {}

    def __call__(self, lock: bytes) -> tuple[str, str | None]:
        found = self._seen.get(lock)
        if found is None:
            scheme = REGISTRY.get(lock[0])
            if lock[0] == POLICY_LOCK_KIND:
                kind = "policy"
            else:
                kind = scheme.name if scheme else "nonstandard"
            address = None if kind == "nonstandard" else encode_address(lock, self.params)
            found = self._seen[lock] = (kind, address)
        return found


def loan_terms(policy_field: bytes) -> tuple[bytes, bytes, int] | None:
    """(borrower lock, lender lock, maturity) when the policy is the lending contract's
    (``wallet.contracts.loan_policy``) with two different keys, else None."""
    match _decoded(policy_field):
        case (
            Thresh(
                subs=(
                    Thresh(subs=(Key() as borrower, Key() as lender)),
                    Thresh(subs=(_, After(n=maturity))),
                )
            ) as policy
        ) if borrower != lender and policy == loan_policy(borrower, lender, maturity):
            return (
                make_lock(borrower.key_type, borrower.pubkey),
                make_lock(lender.key_type, lender.pubkey),
                maturity,
            )
    return None


def escrow_terms(policy_field: bytes) -> tuple[Key, Key, Key, int] | None:
    """(buyer, seller, arbiter, refund height) when the policy is the escrow contract's
    (``wallet.contracts.escrow_policy``) with three different keys, else None."""
    match _decoded(policy_field):
        case (
            Thresh(
                subs=(
                    Thresh(subs=(Key() as b, Key() as s, Key() as a)),
                    Thresh(subs=(_, After(n=refund))),
                )
            ) as policy
        ) if len({b, s, a}) == 3 and policy == escrow_policy(b, s, a, refund):
            return b, s, a, refund
    return None


def _decoded(policy_field: bytes) -> Policy | None:
    try:
        return decode_policy(policy_field)
    except RuleError:
        return None


def build_rows(records: list[BlockRecord], params: NetworkParams) -> dict[str, pa.Table]:
    """Every table's rows for ``records`` (consecutive blocks of the active chain)."""
    cols: dict[str, dict[str, list[Any]]] = {
        name: {f.name: [] for f in schema} for name, schema in SCHEMAS.items()
    }
    locks = _Locks(params)
    b, t = cols["blocks"], cols["txs"]
    for rec in records:
        block, height = rec.block, rec.height
        block_hex = hash_to_hex(rec.hash)
        header = block.header
        spent_at = 0
        fees = 0
        output_value = 0
        for position, tx in enumerate(block.txs):
            txid = tx.txid_hex
            coinbase = position == 0
            out_value = _output_rows(cols, locks, height, txid, tx, coinbase)
            output_value += out_value
            in_value = None
            if not coinbase:
                in_value = _input_rows(cols, locks, height, txid, tx, rec.undo, spent_at)
                spent_at += len(tx.inputs)
                fees += in_value - out_value
            t["height"].append(height)
            t["block_hash"].append(block_hex)
            t["position"].append(position)
            t["txid"].append(txid)
            t["version"].append(tx.version)
            t["locktime"].append(tx.locktime)
            t["size"].append(tx.size)
            t["is_coinbase"].append(coinbase)
            t["n_inputs"].append(0 if coinbase else len(tx.inputs))
            t["n_outputs"].append(len(tx.outputs))
            t["input_value"].append(in_value)
            t["output_value"].append(out_value)
            t["fee"].append(None if in_value is None else in_value - out_value)
        b["height"].append(height)
        b["hash"].append(block_hex)
        b["prev_hash"].append(hash_to_hex(header.prev_hash))
        b["time"].append(header.time)
        b["mediantime"].append(rec.mediantime)
        b["version"].append(header.version)
        b["bits"].append(header.bits)
        b["nonce"].append(header.nonce)
        b["merkle_root"].append(hash_to_hex(header.merkle_root))
        b["size"].append(block.size)
        b["n_tx"].append(len(block.txs))
        b["subsidy"].append(block_subsidy(height, params))
        b["fees"].append(fees)
        b["output_value"].append(output_value)
    return {name: pa.table(cols[name], schema=schema) for name, schema in SCHEMAS.items()}


_Cols = dict[str, dict[str, list[Any]]]


def _output_rows(cols: _Cols, locks: _Locks, height: int, txid: str, tx: Tx, coinbase: bool) -> int:
    """The ``outputs`` rows of ``tx``; the value they carry."""
    o = cols["outputs"]
    out_value = 0
    for vout, out in enumerate(tx.outputs):
        kind, address = locks(out.lock)
        out_value += out.value
        o["height"].append(height)
        o["txid"].append(txid)
        o["vout"].append(vout)
        o["value"].append(out.value)
        o["lock_kind"].append(kind)
        o["lock"].append(out.lock.hex())
        o["address"].append(address)
        o["is_coinbase"].append(coinbase)
    return out_value


def _input_rows(
    cols: _Cols,
    locks: _Locks,
    height: int,
    txid: str,
    tx: Tx,
    undo: Sequence[Coin],
    first: int,
) -> int:
    """The ``inputs``, ``spends``, ``policy_spends`` and ``pledges`` rows of a non-coinbase
    ``tx`` whose spent coins are ``undo[first:]``; the value it spends."""
    i, s, p = cols["inputs"], cols["spends"], cols["policy_spends"]
    in_value = 0
    all_acp = True
    any_policy = False
    for vin, txin in enumerate(tx.inputs):
        coin = undo[first + vin]
        in_value += coin.value
        prev = hash_to_hex(txin.prev_txid)
        kind, address = locks(coin.lock)
        policy = kind == "policy"
        any_policy = any_policy or policy
        all_acp = all_acp and len(txin.sig) == 65
        i["height"].append(height)
        i["txid"].append(txid)
        i["vin"].append(vin)
        i["prev_txid"].append(prev)
        i["prev_vout"].append(txin.prev_index)
        i["pubkey"].append(txin.pubkey.hex())
        i["sig_size"].append(len(txin.sig))
        i["sighash"].append(
            None if policy else "ALL|ANYONECANPAY" if len(txin.sig) == 65 else "ALL"
        )
        i["is_policy"].append(policy)
        s["height"].append(height)
        s["txid"].append(txid)
        s["vin"].append(vin)
        s["prev_txid"].append(prev)
        s["prev_vout"].append(txin.prev_index)
        s["value"].append(coin.value)
        s["lock_kind"].append(kind)
        s["address"].append(address)
        s["created_height"].append(coin.height)
        s["coinbase"].append(coin.coinbase)
        if policy:
            _policy_row(p, locks, height, txid, vin, prev, txin, coin, address)
    # A crowdfunding claim (node/crowdfund's template): one output, the goal, and every
    # input a backer's coin signed ALL|ANYONECANPAY.
    if all_acp and not any_policy and len(tx.outputs) == 1:
        _pledge_rows(cols["pledges"], locks, height, txid, tx, undo, first)
    return in_value


def _pledge_rows(
    g: dict[str, list[Any]],
    locks: _Locks,
    height: int,
    txid: str,
    tx: Tx,
    undo: Sequence[Coin],
    first: int,
) -> None:
    goal = tx.outputs[0]
    payee = locks(goal.lock)[1]
    for vin, txin in enumerate(tx.inputs):
        coin = undo[first + vin]
        g["height"].append(height)
        g["txid"].append(txid)
        g["vin"].append(vin)
        g["prev_txid"].append(hash_to_hex(txin.prev_txid))
        g["prev_vout"].append(txin.prev_index)
        g["value"].append(coin.value)
        g["backer"].append(locks(coin.lock)[1])
        g["payee"].append(payee)
        g["goal"].append(goal.value)


def _policy_row(p, locks, height, txid, vin, prev, txin, coin, address) -> None:
    shown = policy_spend_json(txin.pubkey, txin.sig)
    used = shown["used"] if shown else []
    p["height"].append(height)
    p["txid"].append(txid)
    p["vin"].append(vin)
    p["prev_txid"].append(prev)
    p["prev_vout"].append(txin.prev_index)
    p["value"].append(coin.value)
    p["address"].append(address)
    p["policy"].append(shown["text"] if shown else None)
    p["branch"].append(" + ".join(u["fragment"] for u in used) if shown else None)
    p["keys_used"].append(sum(1 for u in used if "sighash" in u))
    fragments = [u["fragment"] for u in used]
    terms = loan_terms(txin.pubkey)
    escrow = None if terms else escrow_terms(txin.pubkey)
    row: dict[str, Any] = dict.fromkeys(CONTRACT_COLUMNS)
    if terms is not None:
        borrower, lender, maturity = terms
        claimed = any("after" in f for f in fragments)
        row.update(
            contract="loan",
            event="claimed" if claimed else "repaid",
            borrower=locks(borrower)[1],
            lender=locks(lender)[1],
            maturity=maturity,
            signers="lender" if claimed else "borrower+lender",
        )
    elif escrow is not None:
        buyer, seller, arbiter, refund_height = escrow
        roles = {"buyer": buyer, "seller": seller, "arbiter": arbiter}
        signed = [r for r, k in roles.items() if format_policy(k) in fragments]
        if any("after" in f for f in fragments):
            event = "refunded"
        elif "arbiter" in signed:
            event = "arbitrated"
        else:
            event = "released"
        row.update(
            contract="escrow",
            event=event,
            buyer=locks(make_lock(buyer.key_type, buyer.pubkey))[1],
            seller=locks(make_lock(seller.key_type, seller.pubkey))[1],
            arbiter=locks(make_lock(arbiter.key_type, arbiter.pubkey))[1],
            refund_height=refund_height,
            signers="+".join(signed),
        )
    for name, value in row.items():
        p[name].append(value)


CONTRACT_COLUMNS = (
    "contract",
    "event",
    "borrower",
    "lender",
    "maturity",
    "buyer",
    "seller",
    "arbiter",
    "refund_height",
    "signers",
)
