"""Chain data for the explorer: blocks with what their txs spent, txs, addresses, series.

Everything here is public chain data (the same a full node shows anyone), shaped with
Bitcoin Core's field names from ``node.rpc.views`` plus the extras an explorer needs:
each input's ``prevout`` (as Core's ``getblock`` verbosity 3), each tx's fee, whether each
output is spent, and per-address balances from the node's address index. Amounts are
``Amount`` so they serialize with exactly eight decimals.

The functions read the chain and the database they are given and never mutate anything.
Those marked "chain thread" read several LevelDB keys that must agree with each other
(coins and history of an address), so the caller runs them on the node's chain thread,
where no block connects halfway through.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consensus.address import AddressError, decode_address, encode_address
from consensus.coins import Coin
from consensus.hashing import hash_to_hex, hex_to_hash
from consensus.params import NetworkParams, block_subsidy
from consensus.primitives import Block, Tx, outpoint_key

from ..chain import addressquery
from ..chain.index import BlockIndex
from ..chain.manager import Chain
from ..mempool.pool import MEMPOOL_HEIGHT, Mempool, MempoolEntry
from ..rpc.jsonfmt import Amount
from ..rpc.views import block_json, difficulty, lock_json, tx_json

_HASH = re.compile(r"[0-9a-fA-F]{64}")
MAX_HEIGHT_DIGITS = 10  # a height fits in a u32; longer digit strings are not heights


def parse_hash(text: str) -> bytes | None:
    """A block hash or txid as shown (64 hex digits, byte-reversed), or None."""
    return hex_to_hash(text) if _HASH.fullmatch(text) else None


def spent_coins_per_tx(block: Block, undo: Sequence[Coin]) -> list[tuple[Coin, ...]]:
    """The coins each tx of a connected block spent, from its undo data (coinbase: none)."""
    out: list[tuple[Coin, ...]] = [()]
    at = 0
    for tx in block.txs[1:]:
        n = len(tx.inputs)
        out.append(tuple(undo[at : at + n]))
        at += n
    return out


def _coin_json(coin: Coin, params: NetworkParams) -> dict[str, Any]:
    return {
        "generated": coin.coinbase,
        "height": None if coin.height == MEMPOOL_HEIGHT else coin.height,
        "value": Amount(coin.value),
        "scriptPubKey": lock_json(coin.lock, params),
    }


def tx_view(
    tx: Tx,
    params: NetworkParams,
    spent: Sequence[Coin | None] | None,
    output_spenders: Sequence[tuple[bool, bytes | None]] | None = None,
) -> dict[str, Any]:
    """``tx_json`` plus each input's ``prevout`` and the fee (when the spent coins are
    known), and each output's ``spent``/``spentby`` (when given)."""
    out = tx_json(tx, params)
    if not tx.is_coinbase and spent is not None:
        for vin, coin in zip(out["vin"], spent, strict=True):
            if coin is not None:
                vin["prevout"] = _coin_json(coin, params)
        if all(coin is not None for coin in spent):
            fee = sum(c.value for c in spent if c is not None) - sum(o.value for o in tx.outputs)
            out["fee"] = Amount(fee)
    if output_spenders is not None:
        for vout, (is_spent, spender) in zip(out["vout"], output_spenders, strict=True):
            vout["spent"] = is_spent
            if spender is not None:
                vout["spentby"] = hash_to_hex(spender)
    out["value_out"] = Amount(sum(o.value for o in tx.outputs))
    return out


def output_spenders(
    chain: Chain, mempool: Mempool, tx: Tx, confirmed: bool
) -> list[tuple[bool, bytes | None]]:
    """(spent, mempool spender) per output: a confirmed output is spent once its coin is
    gone from the coin set; any output may be spent by a mempool tx."""
    result = []
    for n in range(len(tx.outputs)):
        key = outpoint_key(tx.txid, n)
        spender = mempool.spender_of(key)
        in_chain_spent = confirmed and chain.db.get_coin(key) is None
        result.append((in_chain_spent or spender is not None, spender))
    return result


def block_view(chain: Chain, entry: BlockIndex, block: Block) -> dict[str, Any]:
    """``getblock`` verbosity 2 plus prevouts and fees (only for blocks on the best chain:
    others have no undo data), the coinbase's total (``reward``) and the subsidy."""
    out = block_json(chain, entry, block, 1)
    undo = chain.db.undo(entry.height, entry.hash) if chain.contains(entry) else None
    spent = spent_coins_per_tx(block, undo) if undo is not None else None
    txs = []
    for position, tx in enumerate(block.txs):
        txs.append(tx_view(tx, chain.params, spent[position] if spent is not None else None))
    out["tx"] = txs
    out["reward"] = Amount(sum(o.value for o in block.txs[0].outputs))
    out["subsidy"] = Amount(block_subsidy(entry.height, chain.params))
    if spent is not None:
        out["fees"] = Amount(sum(int(t["fee"]) for t in txs[1:]))
    return out


def block_summary(chain: Chain, entry: BlockIndex) -> dict[str, Any]:
    raw = chain.db.block_raw(entry.height, entry.hash)
    return {
        "hash": entry.header.hash_hex,
        "height": entry.height,
        "time": entry.header.time,
        "nTx": entry.ntx,
        "size": len(raw) if raw is not None else None,
        "difficulty": difficulty(entry.header.bits),
    }


def recent_blocks(chain: Chain, count: int, before: int | None = None) -> list[dict[str, Any]]:
    """Summaries of up to ``count`` best-chain blocks, newest first, below ``before``."""
    top = chain.height if before is None else min(before - 1, chain.height)
    heights = range(top, max(top - count, -1), -1)
    entries = [chain.at_height(h) for h in heights]
    return [block_summary(chain, e) for e in entries if e is not None]


def headers_from(chain: Chain, entry: BlockIndex, count: int) -> list[BlockIndex]:
    """``entry`` and up to ``count - 1`` of its best-chain successors (Core's REST
    headers: a block off the best chain has no successors)."""
    out = [entry]
    if chain.contains(entry):
        for height in range(entry.height + 1, min(entry.height + count, chain.height + 1)):
            nxt = chain.at_height(height)
            assert nxt is not None
            out.append(nxt)
    return out


@dataclass(frozen=True, slots=True)
class FoundTx:
    tx: Tx
    block: BlockIndex | None  # None: in the mempool
    spent: tuple[Coin | None, ...]


def find_tx(chain: Chain, mempool: Mempool, txid: bytes) -> FoundTx | None:
    """A tx from the mempool or the tx index, with the coins its inputs spent."""
    entry = mempool.get(txid)
    if entry is not None:
        spent = tuple(_mempool_prevout(chain, mempool, key) for key in entry.spends)
        return FoundTx(entry.tx, None, spent)
    located = chain.db.tx_location(txid)
    if located is None:
        return None
    block_hash, position = located
    index = chain.index.get(block_hash)
    if index is None:
        return None
    block = chain.db.block(index.height, block_hash)
    undo = chain.db.undo(index.height, block_hash)
    if block is None or undo is None:
        return None
    return FoundTx(block.txs[position], index, spent_coins_per_tx(block, undo)[position])


def _mempool_prevout(chain: Chain, mempool: Mempool, key: bytes) -> Coin | None:
    """The coin a mempool tx spends: created by a mempool parent, or confirmed."""
    parent = mempool.get(key[:32])
    if parent is not None:
        index = int.from_bytes(key[32:], "little")
        out = parent.tx.outputs[index]
        return Coin(out.value, out.lock, MEMPOOL_HEIGHT, False)
    return chain.db.get_coin(key)


def tx_page(chain: Chain, mempool: Mempool, found: FoundTx) -> dict[str, Any]:
    """A tx for its explorer page: decoded, with prevouts, fee, spends and status."""
    out = tx_view(
        found.tx,
        chain.params,
        found.spent,
        output_spenders(chain, mempool, found.tx, confirmed=found.block is not None),
    )
    out["hex"] = found.tx.serialize().hex()
    if found.block is None:
        out["in_mempool"] = True
        out["confirmations"] = 0
    else:
        out["in_mempool"] = False
        out["blockhash"] = found.block.header.hash_hex
        out["blockheight"] = found.block.height
        out["confirmations"] = chain.height - found.block.height + 1
        out["time"] = out["blocktime"] = found.block.header.time
    return out


# --- addresses ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressConfirmed:
    """What the chain says about one lock (read on the chain thread), with the mempool
    snapshot's part."""

    height: int
    balance: addressquery.Balance
    immature: int
    coins: list[tuple[bytes, Coin]]  # at most the requested count
    history: list[dict[str, Any]]  # newest first, at most the requested count
    mempool: list[bytes]  # txids of mempool txs touching the lock, oldest first


def address_confirmed(
    chain: Chain, entries: Sequence[MempoolEntry], lock: bytes, limit: int, utxo_limit: int
) -> AddressConfirmed:
    """Totals, newest coins and history of ``lock`` from the address index: costs what
    it returns (and the history of the last coinbase-maturity blocks). Chain thread."""
    db = chain.db
    coins = list(itertools.islice(db.address_coins(lock), utxo_limit))
    rows = [
        {
            "txid": hash_to_hex(item.txid),
            "height": item.height,
            "blockhash": hash_to_hex(item.block_hash),  # type: ignore[arg-type]  # confirmed: set
            "time": item.time,
            "received": Amount(item.received),
            "sent": Amount(item.sent),
            "delta": Amount(item.received - item.sent),
        }
        for item in addressquery.chain_history(chain, lock, limit, None)
    ]
    pending = addressquery.mempool_history(db, entries, lock, len(entries))
    return AddressConfirmed(
        chain.height,
        addressquery.balance(db, entries, lock),
        _immature(chain, lock),
        coins,
        rows,
        [item.txid for item in reversed(pending)],
    )


def _immature(chain: Chain, lock: bytes) -> int:
    """Value of ``lock``'s coinbase outputs not yet mature (never spent, then)."""
    first_mature = chain.height - chain.params.coinbase_maturity + 1
    total, before = 0, None
    while page := chain.db.address_history_page(lock, before, 500):
        for row in page:
            if row.height <= first_mature:
                return total
            total += row.received if row.position == 0 else 0
        before = (page[-1].height, page[-1].position)
    return total


def address_page(
    params: NetworkParams, mempool: Mempool, lock: bytes, confirmed: AddressConfirmed
) -> dict[str, Any]:
    """Balances, coins and history of an address, with what the mempool adds and spends."""
    tip = confirmed.height
    got = confirmed.balance
    totals = got.totals
    coins = sorted(confirmed.coins, key=lambda kc: (-kc[1].height, kc[0]))
    return {
        "address": encode_address(lock, params),
        "scriptPubKey": lock_json(lock, params),
        "balance": Amount(totals.balance),
        "spendable": Amount(totals.balance - confirmed.immature),
        "immature": Amount(confirmed.immature),
        "unconfirmed": Amount(got.incoming - got.outgoing),
        "received": Amount(totals.received),
        "sent": Amount(totals.received - totals.balance),
        "tx_count": totals.tx_count,
        "utxo_count": totals.utxo_count,
        "utxos": [
            {
                "txid": hash_to_hex(key[:32]),
                "vout": int.from_bytes(key[32:], "little"),
                "value": Amount(coin.value),
                "height": coin.height,
                "confirmations": tip - coin.height + 1,
                "coinbase": coin.coinbase,
                "spentby": _hex_or_none(mempool.spender_of(key)),
            }
            for key, coin in coins
        ],
        "history": confirmed.history,
        "mempool": [hash_to_hex(t) for t in confirmed.mempool],
    }


def _hex_or_none(h: bytes | None) -> str | None:
    return None if h is None else hash_to_hex(h)


# --- search -------------------------------------------------------------------------


def search(chain: Chain, mempool: Mempool, query: str) -> tuple[str, str] | None:
    """(kind, id) for a height, block hash, txid or address; None when nothing matches.
    ValueError (with a message for the user) when it is empty, a height out of range, or
    an address of this network that does not decode: only then does the decoder's reason
    help ("nonsense" is simply not found, not an "invalid separator position")."""
    q = query.strip()
    if not q:
        raise ValueError("type a height, block hash, txid or address")
    if q.isascii() and q.isdigit() and len(q) <= MAX_HEIGHT_DIGITS:
        entry = chain.at_height(int(q))
        return ("block", entry.header.hash_hex) if entry is not None else None
    h = parse_hash(q)
    if h is not None:
        if h in chain.index:
            return "block", hash_to_hex(h)
        if h in mempool or chain.db.tx_location(h) is not None:
            return "tx", hash_to_hex(h)
        return None
    try:
        lock = decode_address(q, chain.params)
    except AddressError as exc:
        if not q.lower().startswith(chain.params.hrp + "1"):
            return None
        raise ValueError(f"not a valid address: {exc}") from exc
    return "address", encode_address(lock, chain.params)


# --- series for the charts ----------------------------------------------------------


def difficulty_series(chain: Chain, count: int) -> list[dict[str, Any]]:
    return [
        {"height": e.height, "time": e.header.time, "difficulty": difficulty(e.header.bits)}
        for e in chain.active[-count:]
    ]


def hashrate_series(chain: Chain, count: int, window: int) -> list[dict[str, Any]]:
    """Estimated network hashes per second at each of the last ``count`` blocks: the work
    of the ``window`` blocks before it over the time they took (null when no time passed,
    as when regtest mines a burst in one second)."""
    active = chain.active
    out = []
    for entry in active[-count:]:
        start = active[max(entry.height - window, 0)]
        span = entry.header.time - start.header.time
        rate = (entry.chainwork - start.chainwork) / span if span > 0 else None
        out.append({"height": entry.height, "time": entry.header.time, "hashrate": rate})
    return out
