"""How blocks, headers, txs and coins look in JSON: Bitcoin Core's field names.

Where Bitcoin has a script, obol has a lock (21 bytes, 33 for a policy); it is shown under Core's
``scriptPubKey`` name with ``hex``, ``address`` and ``type`` so clients find it where they
expect it.
"""

from __future__ import annotations

from typing import Any

from consensus.address import encode_address
from consensus.compact import decode_compact
from consensus.errors import RuleError
from consensus.hashing import hash_to_hex
from consensus.params import NetworkParams
from consensus.policy import After, Key, Policy, Thresh, decode_policy, decode_satisfaction
from consensus.policy_text import format_policy
from consensus.primitives import POLICY_LOCK_KIND, Block, BlockHeader, Tx
from consensus.sighash import SIGHASH_ALL_ACP
from consensus.signatures import REGISTRY

from ..chain.index import FAILED_MASK, VALID_CHAIN, BlockIndex
from ..chain.manager import Chain
from .jsonfmt import Amount

DIFF1_TARGET = 0x00000000FFFF0000000000000000000000000000000000000000000000000000


def difficulty(bits: int) -> float:
    """Bitcoin Core's difficulty: the 0x1d00ffff target over this one."""
    target = decode_compact(bits)[0]
    return DIFF1_TARGET / target if target else 0.0


def lock_json(lock: bytes, params: NetworkParams) -> dict[str, Any]:
    scheme = REGISTRY.get(lock[0])
    kind = "policy" if lock[0] == POLICY_LOCK_KIND else scheme.name if scheme else "nonstandard"
    out: dict[str, Any] = {"hex": lock.hex(), "type": kind}
    if kind != "nonstandard":
        out["address"] = encode_address(lock, params)
    return out


def _sighash_name(sig: bytes) -> str:
    if len(sig) != 65:
        return "ALL"
    return "ALL|ANYONECANPAY" if sig[64] == SIGHASH_ALL_ACP else f"invalid flag {sig[64]:#04x}"


def policy_spend_json(pubkey: bytes, sig: bytes) -> dict[str, Any] | None:
    """A policy spend made readable: the policy as text and what the satisfaction used
    (each signing key with its sighash, time locks, preimages); None for a key spend.

    Only the spent lock tells a policy spend apart, and a view of a lone tx has none: the
    input is shown as a policy spend when its fields decode as a policy and a satisfaction
    of its shape, which a 32- or 33-byte public key practically never does."""
    try:
        policy = decode_policy(pubkey)
        sat = decode_satisfaction(sig)
    except RuleError:
        return None
    used: list[dict[str, Any]] = []
    if sat is None or not _used_nodes(policy, sat, used):
        return None
    return {"text": format_policy(policy), "used": used}


def _used_nodes(policy: Policy, sat: Any, out: list[dict[str, Any]]) -> bool:
    """Append the used leaves of ``policy`` under ``sat``; False if the shapes differ."""
    if type(policy) is Thresh:
        if type(sat) is not list or len(sat) != len(policy.subs):
            return False
        return all(
            s is None or _used_nodes(p, s, out) for p, s in zip(policy.subs, sat, strict=True)
        )
    if type(policy) is Key:
        if type(sat) is not bytes:
            return False
        out.append({"fragment": format_policy(policy), "sighash": _sighash_name(sat)})
    elif type(policy) is After:
        if sat is not True:
            return False
        out.append({"fragment": format_policy(policy)})
    else:
        if type(sat) is not bytes:
            return False
        out.append({"fragment": format_policy(policy), "preimage": sat.hex()})
    return True


def tx_json(tx: Tx, params: NetworkParams) -> dict[str, Any]:
    vin: list[dict[str, Any]] = []
    if tx.is_coinbase:
        cb = tx.inputs[0]
        vin.append(
            {
                "coinbase": cb.sig.hex(),
                "height": int.from_bytes(cb.pubkey, "little"),
            }
        )
    else:
        for i in tx.inputs:
            entry: dict[str, Any] = {
                "txid": hash_to_hex(i.prev_txid),
                "vout": i.prev_index,
                "pubkey": i.pubkey.hex(),
                "sig": i.sig.hex(),
            }
            spend = policy_spend_json(i.pubkey, i.sig)
            if spend is not None:
                entry["policy"] = spend
            elif len(i.sig) == 65:
                entry["sighash"] = _sighash_name(i.sig)
            vin.append(entry)
    size = tx.size
    return {
        "txid": tx.txid_hex,
        "hash": hash_to_hex(tx.wtxid),
        "version": tx.version,
        "size": size,
        "vsize": size,
        "weight": size * 4,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": [
            {"value": Amount(o.value), "n": n, "scriptPubKey": lock_json(o.lock, params)}
            for n, o in enumerate(tx.outputs)
        ],
    }


def _header_fields(chain: Chain, entry: BlockIndex) -> dict[str, Any]:
    header: BlockHeader = entry.header
    active = chain.contains(entry)
    nxt = chain.at_height(entry.height + 1) if active else None
    out: dict[str, Any] = {
        "hash": header.hash_hex,
        "confirmations": chain.height - entry.height + 1 if active else -1,
        "height": entry.height,
        "version": header.version,
        "versionHex": f"{header.version:08x}",
        "merkleroot": hash_to_hex(header.merkle_root),
        "time": header.time,
        "mediantime": chain.median_time_past(entry),
        "nonce": header.nonce,
        "bits": f"{header.bits:08x}",
        "difficulty": difficulty(header.bits),
        "chainwork": f"{entry.chainwork:064x}",
        "nTx": entry.ntx,
    }
    if entry.parent is not None:
        out["previousblockhash"] = entry.parent.header.hash_hex
    if nxt is not None:
        out["nextblockhash"] = nxt.header.hash_hex
    return out


def header_json(chain: Chain, entry: BlockIndex) -> dict[str, Any]:
    return _header_fields(chain, entry)


def block_json(chain: Chain, entry: BlockIndex, block: Block, verbosity: int) -> dict[str, Any]:
    out = _header_fields(chain, entry)
    size = block.size
    out["size"] = size
    out["strippedsize"] = size
    out["weight"] = size * 4
    if verbosity >= 2:
        fees = block_fees(chain, entry.hash, block)
        out["tx"] = [
            {**tx_json(tx, chain.params), **fee_and_hex(tx, fee)}
            for tx, fee in zip(block.txs, fees, strict=True)
        ]
    else:
        out["tx"] = [tx.txid_hex for tx in block.txs]
    # Core puts the tx list before these; field order does not matter to JSON clients.
    return out


def block_fees(chain: Chain, block_hash: bytes, block: Block) -> list[int | None]:
    """Each tx's fee from the block's undo data (None for the coinbase, and for every tx
    when the undo data is gone)."""
    undo = chain.get_undo(block_hash)
    if undo is None:
        return [None] * len(block.txs)
    fees: list[int | None] = [None]
    start = 0
    for tx in block.txs[1:]:
        spent = undo[start : start + len(tx.inputs)]
        start += len(tx.inputs)
        fees.append(sum(c.value for c in spent) - sum(o.value for o in tx.outputs))
    return fees


def fee_and_hex(tx: Tx, fee: int | None) -> dict[str, Any]:
    """getblock verbosity 2's extra fields per tx, as Core: fee (not for a coinbase), hex."""
    out: dict[str, Any] = {} if fee is None else {"fee": Amount(fee)}
    out["hex"] = tx.serialize().hex()
    return out


def chain_tip_status(chain: Chain, entry: BlockIndex) -> str:
    if chain.contains(entry):
        return "active"
    if entry.status & FAILED_MASK:
        return "invalid"
    node: BlockIndex | None = entry
    while node is not None and not chain.contains(node):
        if not node.have_data:
            return "headers-only"
        node = node.parent
    return "valid-fork" if entry.status & VALID_CHAIN else "valid-headers"
