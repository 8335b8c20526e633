"""The mempool: valid unconfirmed txs waiting for a block, plus an orphan pool.

Every tx is validated as if for inclusion in the next block (height = tip + 1, finality
against the tip's median time past), against the chain's coins overlaid with the outputs of
txs already in the pool, minus the coins those txs spend. Conflicts are first-seen: a tx
that spends a coin an in-mempool tx already spends is rejected, unless every tx it
conflicts with signals replaceability (opt-in replace-by-fee: bit 1 of the tx version, see
``policy.signals_replaceable``) and it passes BIP 125's fee rules (``_check_replacement``);
then it evicts them and their descendants.

Order of checks in ``accept`` (Bitcoin Core's ``MemPoolAccept::PreChecks`` and the script
checks after it), cheapest and most decisive first; a consensus failure found before a
policy failure is reported as the consensus ``RuleError``:

1. consensus, context-free (``check_tx``);
2. policy on the tx alone (``policy.check_standard``): not a coinbase; size
   (``tx-size``); every output's key type known (``bad-txns-nonstandard-keytype``); no
   dust output (``dust``);
3. consensus: final at the next height and the tip's median time past;
4. ``txn-already-in-mempool``; ``txn-mempool-conflict`` (a conflict that does not signal);
5. inputs: an input found nowhere makes the tx ``txn-already-known`` if one of its
   outputs is already confirmed, else an orphan (``missing-inputs``);
6. consensus on inputs: coinbase maturity, value ranges, inputs cover outputs, each key
   matches the lock it spends, every policy spend's satisfaction holds
   (``check_tx_inputs``, ``input_sig_checks`` without crypto); then policy: each policy
   spent is sane (``bad-txns-nonstandard-policy``: ``policy.check_standard_inputs``);
7. fee policy: ``min relay fee not met``, ``mempool min fee not met`` (the rolling floor
   raised by evictions); replacement rules (``too many potential replacements``,
   ``bad-txns-spends-conflicting-tx``, ``replacement-adds-unconfirmed``, ``insufficient
   fee``); then ``too-long-mempool-chain`` (ancestor/descendant limits);
8. consensus: the signatures, last because they are the expensive part, so a tx that is
   cheap to reject (low fee) never costs a verification (the same DoS reasoning as Core);
   a tx with both a bad signature and a low fee is therefore reported as low fee;
9. after insertion, the size cap: the lowest descendant-score packages are evicted; if
   the new tx itself goes, it is rejected as ``mempool full``.

Single-threaded by design: every method is called from the node's event-loop thread.
Indexes (by txid, by spent outpoint, cached ancestor and descendant totals) keep each
accept proportional to the tx and its relatives, never to the pool's size.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TypedDict

from consensus.coins import Coin, MemoryCoinView
from consensus.errors import RejectCode, RuleError
from consensus.params import NetworkParams
from consensus.primitives import Block, Tx, outpoint_key
from consensus.validation import (
    Verifier,
    check_tx,
    check_tx_inputs,
    input_sig_checks,
    is_final_tx,
    verify_sig_checks,
)

from .policy import (
    Policy,
    PolicyCode,
    PolicyError,
    check_standard,
    check_standard_inputs,
    signals_replaceable,
)

# Height given to coins created by mempool txs (Bitcoin Core's MEMPOOL_HEIGHT): they are not
# in any block yet. Such coins are never coinbase outputs, so maturity never reads it.
MEMPOOL_HEIGHT = 0x7FFF_FFFF
# The rolling minimum fee rate halves every 12 hours once a block has arrived (Core's value).
ROLLING_FEE_HALFLIFE = 12 * 60 * 60
# Rough per-entry memory overhead of the Python objects around a tx, for ``info()["usage"]``.
_ENTRY_OVERHEAD = 640
# Sort key of nodes: their order of entry, which is a dependency order.
_BY_SEQ = attrgetter("seq")
# The links of a tx without parents or children in the pool, shared: most txs have none,
# and two empty sets per entry cost memory, and time to create and free by the thousand
# (a block removes thousands of entries at once).
_NO_LINKS: frozenset[bytes] = frozenset()


@dataclass(frozen=True, slots=True)
class MempoolConfig:
    """What the mempool needs from the rest of the node, passed in (never looked up)."""

    params: NetworkParams
    policy: Policy
    fetch_coin: Callable[[bytes], Coin | None]  # confirmed unspent coin by outpoint key
    tip_height: Callable[[], int]
    median_time_past: Callable[[], int]  # of the tip: what the next block's txs are final by
    clock: Callable[[], float]  # wall time in seconds
    verifier: Verifier = verify_sig_checks  # e.g. SigCache.verifier
    # Told of each tx whose every input check passed (SigCache.add_tx), so that a block
    # holding it need not redo them.
    on_verified: Callable[[Tx], None] | None = None


@dataclass(frozen=True, slots=True)
class MempoolEntry:
    tx: Tx
    txid: bytes
    fee: int
    size: int
    fee_rate: float  # units per byte
    time: float  # clock reading when the tx entered
    height: int  # tip height when the tx entered
    spends: tuple[bytes, ...]  # outpoint keys of its inputs
    sigchecks: int  # toward a block's limit: one per key input, one per used policy key


@dataclass(frozen=True, slots=True)
class PackageStats:
    """A tx's in-mempool relatives, for getmempoolentry; counts and totals include itself."""

    ancestor_count: int
    ancestor_size: int
    ancestor_fees: int
    descendant_count: int
    descendant_size: int
    descendant_fees: int
    depends: tuple[bytes, ...]  # in-mempool parents
    spent_by: tuple[bytes, ...]  # in-mempool children


class MempoolInfo(TypedDict):
    """``Mempool.info()``: getmempoolinfo's fields, in base units and units per byte."""

    loaded: bool
    size: int
    bytes: int
    usage: int
    total_fee: int
    maxmempool: int
    mempoolminfee: float
    minrelaytxfee: int
    incrementalrelayfee: int
    unbroadcastcount: int
    fullrbf: bool
    orphans: int


class _Node:
    """An entry plus the mutable bookkeeping around it: links and relatives' totals."""

    __slots__ = (
        "anc_count",
        "anc_fee",
        "anc_size",
        "children",
        "desc_count",
        "desc_fee",
        "desc_size",
        "entry",
        "parents",
        "seq",
    )

    def __init__(self, entry: MempoolEntry, parents: set[bytes], seq: int) -> None:
        self.entry = entry
        # The shared ``_NO_LINKS`` while empty: a tx's parents never change, and
        # ``Mempool._add`` gives ``children`` a set of its own with the first child.
        self.parents: set[bytes] | frozenset[bytes] = parents or _NO_LINKS
        self.children: set[bytes] | frozenset[bytes] = _NO_LINKS
        self.seq = seq
        self.anc_count, self.anc_fee, self.anc_size = 1, entry.fee, entry.size
        self.desc_count, self.desc_fee, self.desc_size = 1, entry.fee, entry.size

    def evict_score(self) -> float:
        """Core's descendant score: a parent is kept for a child paying for it, and a
        high-rate tx is not sunk by a low-rate child."""
        e = self.entry
        return max(e.fee / e.size, self.desc_fee / self.desc_size)


@dataclass(frozen=True, slots=True)
class _Orphan:
    tx: Tx
    time: float
    missing: frozenset[bytes]  # txids of parents not yet seen


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A tx that passed every check, with what adding it needs."""

    entry: MempoolEntry
    parents: set[bytes]
    ancestors: set[bytes]
    replaces: frozenset[bytes]  # in-mempool txs it evicts (replace-by-fee), with descendants


class Mempool:
    """Unconfirmed txs by txid, the coins they spend and create, and an orphan pool."""

    def __init__(self, config: MempoolConfig) -> None:
        self.config = config
        self.params = config.params
        self.policy = config.policy
        self._nodes: dict[bytes, _Node] = {}  # insertion order is a dependency order
        self._by_encoding: dict[bytes, Tx] = {}  # for decoding blocks of known txs
        self._spenders: dict[bytes, bytes] = {}  # outpoint key -> txid spending it
        self._bytes = 0
        self._fees = 0
        self._seq = 0
        self._evict_heap: list[tuple[float, int, bytes]] = []  # lazy: stale items skipped
        self._orphans: dict[bytes, _Orphan] = {}
        self._orphans_by_parent: dict[bytes, set[bytes]] = {}
        self._rng = random.Random()
        self._rolling_rate = 0.0  # units per byte; 0 = no floor above min relay
        self._rolling_updated = 0.0
        self._block_since_bump = False

    # --- queries -----------------------------------------------------------------------

    def __contains__(self, txid: object) -> bool:
        return txid in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, txid: bytes) -> MempoolEntry | None:
        node = self._nodes.get(txid)
        return node.entry if node else None

    def entries(self) -> list[MempoolEntry]:
        """Every entry, parents before children (the order they entered)."""
        return [n.entry for n in self._nodes.values()]

    def txids(self) -> list[bytes]:
        return list(self._nodes)

    @property
    def by_encoding(self) -> Mapping[bytes, Tx]:
        """Every tx by its encoding: ``decode_block(..., known=)`` reuses them."""
        return self._by_encoding

    @property
    def total_bytes(self) -> int:
        return self._bytes

    @property
    def total_fees(self) -> int:
        return self._fees

    @property
    def orphan_count(self) -> int:
        return len(self._orphans)

    def has_orphan(self, txid: bytes) -> bool:
        return txid in self._orphans

    def spender_of(self, key: bytes) -> bytes | None:
        """The txid of the mempool tx spending outpoint ``key``, if any."""
        return self._spenders.get(key)

    def coin(self, key: bytes) -> Coin | None:
        """An unspent output created by a mempool tx (height ``MEMPOOL_HEIGHT``)."""
        if key in self._spenders:
            return None
        return self._output(key)

    def _output(self, key: bytes) -> Coin | None:
        """Output ``key`` of a mempool tx, spent or not."""
        node = self._nodes.get(key[:32])
        if node is None or len(key) != 36:
            return None
        outputs = node.entry.tx.outputs
        index = int.from_bytes(key[32:], "little")
        if index >= len(outputs):
            return None
        out = outputs[index]
        return Coin(out.value, out.lock, MEMPOOL_HEIGHT, False)

    def get_coin(self, key: bytes) -> Coin | None:
        """The coin as the next block would see it: confirmed or mempool-created, and not
        spent by a mempool tx. This makes the mempool a ``CoinView`` (gettxout, wallets)."""
        if key in self._spenders:
            return None
        return self.coin(key) or self.config.fetch_coin(key)

    def ancestors(self, txid: bytes) -> set[bytes]:
        """Txids of the in-mempool ancestors of ``txid`` (itself excluded); KeyError if absent."""
        return self._walk(txid, "parents")

    def descendants(self, txid: bytes) -> set[bytes]:
        """Txids of the in-mempool descendants of ``txid`` (itself excluded); KeyError if absent."""
        return self._walk(txid, "children")

    def package_stats(self, txid: bytes) -> PackageStats:
        node = self._nodes[txid]
        return PackageStats(
            node.anc_count,
            node.anc_size,
            node.anc_fee,
            node.desc_count,
            node.desc_size,
            node.desc_fee,
            tuple(sorted(node.parents)),
            tuple(sorted(node.children)),
        )

    def min_fee_rate(self) -> float:
        """The fee rate (units per byte) a new tx must pay: min relay, or the rolling floor
        left by evictions if higher (Core's mempoolminfee)."""
        return max(float(self.policy.min_relay_fee_rate), self._rolling_floor())

    def info(self) -> MempoolInfo:
        """getmempoolinfo's fields. Amounts are base units; fee rates are units per byte,
        like ``Policy`` (Core reports BTC/kvB: multiply by 1000, divide by COIN).
        ``mempoolminfee`` is a float (the rolling floor is fractional); ``usage`` is an
        estimate (encoded bytes plus a fixed overhead per entry)."""
        policy = self.policy
        return {
            "loaded": True,
            "size": len(self._nodes),
            "bytes": self._bytes,
            "usage": self._bytes + _ENTRY_OVERHEAD * len(self._nodes),
            "total_fee": self._fees,
            "maxmempool": policy.max_mempool_bytes,
            "mempoolminfee": self.min_fee_rate(),
            "minrelaytxfee": policy.min_relay_fee_rate,
            "incrementalrelayfee": policy.incremental_relay_fee_rate,
            "unbroadcastcount": 0,
            "fullrbf": False,
            "orphans": len(self._orphans),
        }

    # --- accepting ---------------------------------------------------------------------

    def accept(self, tx: Tx, *, allow_orphan: bool = True) -> MempoolEntry:
        """Validate ``tx`` for the next block and add it; return its entry.

        Orphans waiting for ``tx`` are retried too (use ``accept_with_orphans`` to learn
        which got in). Raises ``RuleError`` (consensus) or ``PolicyError``. A tx with
        missing inputs raises ``PolicyError("missing-inputs")``; with ``allow_orphan`` (txs
        from peers) it is also kept in the orphan pool and the error says ``orphan=True``;
        pass False for txs from RPC, which Core never keeps as orphans.
        """
        return self.accept_with_orphans(tx, allow_orphan=allow_orphan)[0]

    def accept_with_orphans(self, tx: Tx, *, allow_orphan: bool = True) -> list[MempoolEntry]:
        """Like ``accept``, returning ``tx``'s entry first, then every orphan that got in
        because of it (recursively, parents before children): all of them are new to relay."""
        entry = self._accept_one(tx, bypass_limits=False, allow_orphan=allow_orphan)
        return [entry, *self._retry_orphans([entry.txid])]

    def test_accept(self, tx: Tx) -> MempoolEntry:
        """Every check of ``accept`` except the size cap, changing nothing (testmempoolaccept).
        Missing inputs raise ``missing-inputs`` with ``orphan=False``."""
        return self._check(tx, bypass_limits=False, allow_orphan=False).entry

    def retry_orphans(self, parent_txids: Iterable[bytes]) -> list[MempoolEntry]:
        """Retry orphans spending outputs of ``parent_txids``: e.g. after a block confirmed
        their parents. Returns the entries that got in."""
        return self._retry_orphans(parent_txids)

    def _accept_one(
        self,
        tx: Tx,
        *,
        bypass_limits: bool,
        allow_orphan: bool,
        keep: MempoolEntry | None = None,
    ) -> MempoolEntry:
        cand = self._check(tx, bypass_limits=bypass_limits, allow_orphan=allow_orphan, keep=keep)
        if cand.replaces:
            self._remove(set(cand.replaces))
        self._add(cand)
        if not bypass_limits and cand.entry.txid in self._trim():
            raise PolicyError(PolicyCode.MEMPOOL_FULL, "mempool full and the fee rate too low")
        return cand.entry

    def _check(
        self,
        tx: Tx,
        *,
        bypass_limits: bool,
        allow_orphan: bool,
        keep: MempoolEntry | None = None,
    ) -> _Candidate:
        """Every check, in the order of the module docstring; mutates only the orphan pool."""
        params = self.params
        check_tx(tx, params)
        check_standard(tx, self.policy)
        size = tx.size
        height = self.config.tip_height() + 1
        if not is_final_tx(tx, height, self.config.median_time_past()):
            raise RuleError(RejectCode.TX_NONFINAL, "locktime not reached for the next block")
        txid = tx.txid
        if txid in self._nodes:
            raise PolicyError(PolicyCode.ALREADY_IN_MEMPOOL)
        conflicts = self._conflicts(tx, replace=not bypass_limits)
        coins = self._input_coins(tx, conflicts, allow_orphan)
        fee, spent = check_tx_inputs(tx, MemoryCoinView(coins), height, params)
        checks = input_sig_checks(tx, spent, params)
        check_standard_inputs(tx, spent)
        if not bypass_limits:
            self._check_fee(fee, size)
        replaces = self._check_replacement(tx, fee, conflicts) if conflicts else frozenset()
        parents = {key[:32] for key in coins if key[:32] in self._nodes}
        ancestors = self._ancestors_within_limits(parents)
        self.config.verifier(checks)
        if self.config.on_verified is not None:
            self.config.on_verified(tx)

        clock_now = keep.time if keep else self.config.clock()
        entry = MempoolEntry(
            tx,
            txid,
            fee,
            size,
            fee / size,
            clock_now,
            keep.height if keep else height - 1,
            tuple(inp.outpoint_key for inp in tx.inputs),
            len(checks),
        )
        return _Candidate(entry, parents, ancestors, replaces)

    def _input_coins(self, tx: Tx, conflicts: set[bytes], allow_orphan: bool) -> dict[bytes, Coin]:
        """The coins ``tx`` spends, from the pool's outputs or the chain; an input found
        nowhere makes it an orphan (or ``txn-already-known``), see ``_missing_inputs``."""
        coins: dict[bytes, Coin] = {}
        missing: set[bytes] = set()
        for inp in tx.inputs:
            key = inp.outpoint_key
            coin = self.coin(key) or self.config.fetch_coin(key)
            if coin is None and self._spenders.get(key) in conflicts:
                coin = self._output(key)  # a replaced tx's input is the replacement's to take
            if coin is not None:
                coins[key] = coin
            elif inp.prev_txid in self._nodes:
                raise RuleError(RejectCode.TX_MISSING_OR_SPENT, "parent has no such output")
            else:
                missing.add(inp.prev_txid)
        if missing:
            self._missing_inputs(tx, missing, allow_orphan)
        return coins

    def _check_fee(self, fee: int, size: int) -> None:
        """The relay minimum, then the rolling floor that evictions raise."""
        minimum = self.policy.min_relay_fee_rate * size
        if fee < minimum:
            raise PolicyError(PolicyCode.MIN_RELAY_FEE, f"fee {fee} < {minimum}")
        floor = self._rolling_floor()
        if floor and fee < floor * size:
            raise PolicyError(PolicyCode.MEMPOOL_MIN_FEE, f"fee {fee} < {floor * size:.0f}")

    def _conflicts(self, tx: Tx, *, replace: bool) -> set[bytes]:
        """The in-mempool txs spending an input of ``tx``; each must signal replaceability
        (else ``txn-mempool-conflict``: first seen wins), and ``replace`` must be allowed."""
        conflicts: set[bytes] = set()
        for n, inp in enumerate(tx.inputs):
            spender = self._spenders.get(inp.outpoint_key)
            if spender is None:
                continue
            if not replace or not signals_replaceable(self._nodes[spender].entry.tx.version):
                raise PolicyError(
                    PolicyCode.CONFLICT, f"input {n} already spent by {spender[::-1].hex()}"
                )
            conflicts.add(spender)
        return conflicts

    def _check_replacement(self, tx: Tx, fee: int, conflicts: set[bytes]) -> frozenset[bytes]:
        """BIP 125's rules as Core applies them; returns every tx the replacement evicts.

        Bounded eviction (rule 5), no new unconfirmed inputs (rule 2), a higher fee rate
        than each tx it conflicts with, at least the fees of everything evicted (rule 3),
        plus its own size at the incremental relay rate (rule 4): a replacement pays for
        the bandwidth of relaying it, so replacing cannot be used to flood the network.
        """
        evicted = self._with_descendants(conflicts)
        limit = self.policy.max_replacement_evictions
        if len(evicted) > limit:
            raise PolicyError(
                PolicyCode.TOO_MANY_REPLACEMENTS, f"{len(evicted)} txs to evict, limit {limit}"
            )
        spent_by_conflicts = {key[:32] for t in conflicts for key in self._nodes[t].entry.spends}
        for n, inp in enumerate(tx.inputs):
            if inp.prev_txid in evicted:
                raise PolicyError(PolicyCode.SPENDS_CONFLICTING, f"input {n} spends a replaced tx")
            if inp.prev_txid in self._nodes and inp.prev_txid not in spent_by_conflicts:
                raise PolicyError(PolicyCode.REPLACEMENT_ADDS_UNCONFIRMED, f"input {n}")
        size = tx.size
        for t in conflicts:
            old = self._nodes[t].entry
            if fee * old.size <= old.fee * size:
                raise PolicyError(
                    PolicyCode.INSUFFICIENT_FEE,
                    f"new feerate {fee / size:.3f} <= old feerate {old.fee_rate:.3f}",
                )
        old_fees = sum(self._nodes[t].entry.fee for t in evicted)
        if fee < old_fees:
            raise PolicyError(
                PolicyCode.INSUFFICIENT_FEE, f"less fees than conflicting txs; {fee} < {old_fees}"
            )
        relay = self.policy.incremental_relay_fee_rate * size
        if fee - old_fees < relay:
            raise PolicyError(
                PolicyCode.INSUFFICIENT_FEE,
                f"not enough additional fees to relay; {fee - old_fees} < {relay}",
            )
        return frozenset(evicted)

    def _missing_inputs(self, tx: Tx, missing: set[bytes], allow_orphan: bool) -> None:
        """Raise for a tx with inputs found nowhere: already confirmed, or an orphan."""
        txid = tx.txid
        fetch = self.config.fetch_coin
        if any(fetch(outpoint_key(txid, n)) is not None for n in range(len(tx.outputs))):
            raise PolicyError(PolicyCode.ALREADY_KNOWN, "transaction already confirmed")
        parents = sorted(missing)
        stored = txid in self._orphans
        if not stored and allow_orphan:
            stored = self._add_orphan(tx, frozenset(missing), self.config.clock())
        raise PolicyError(
            PolicyCode.MISSING_INPUTS,
            f"{len(parents)} parent(s) unknown",
            orphan=stored,
            missing_parents=parents,
        )

    def _ancestors_within_limits(self, parents: set[bytes]) -> set[bytes]:
        """The in-mempool ancestors of a tx with these parents, or too-long-mempool-chain.

        The walk stops as soon as the limit is passed, so a long chain costs nothing more.
        """
        limit = self.policy.max_ancestors
        seen: set[bytes] = set()
        stack = list(parents)
        while stack:
            txid = stack.pop()
            if txid in seen:
                continue
            seen.add(txid)
            if len(seen) + 1 > limit:
                raise PolicyError(PolicyCode.TOO_LONG_CHAIN, f"more than {limit} ancestors")
            stack.extend(self._nodes[txid].parents)
        for txid in seen:
            if self._nodes[txid].desc_count + 1 > self.policy.max_descendants:
                raise PolicyError(
                    PolicyCode.TOO_LONG_CHAIN,
                    f"an ancestor would have more than {self.policy.max_descendants} descendants",
                )
        return seen

    # --- bookkeeping -------------------------------------------------------------------

    def _add(self, cand: _Candidate) -> None:
        entry = cand.entry
        self._seq += 1
        node = _Node(entry, cand.parents, self._seq)
        for txid in cand.ancestors:
            a = self._nodes[txid]
            node.anc_count += 1
            node.anc_fee += a.entry.fee
            node.anc_size += a.entry.size
            a.desc_count += 1
            a.desc_fee += entry.fee
            a.desc_size += entry.size
            self._push_evict(a)
        for txid in cand.parents:
            parent = self._nodes[txid]
            if parent.children:
                parent.children.add(entry.txid)  # type: ignore[union-attr]  # non-empty: its own set
            else:
                parent.children = {entry.txid}
        for key in entry.spends:
            self._spenders[key] = entry.txid
        self._nodes[entry.txid] = node
        self._by_encoding[entry.tx.serialize()] = entry.tx
        self._bytes += entry.size
        self._fees += entry.fee
        self._push_evict(node)

    def _in_order(self, txids: Iterable[bytes]) -> list[Tx]:
        """The txs of these in-mempool txids, in dependency order (the order they entered)."""
        return [n.entry.tx for n in sorted(map(self._nodes.__getitem__, txids), key=_BY_SEQ)]

    def _remove(self, doomed: set[bytes]) -> None:
        """Remove these txids, keeping every survivor's relatives' totals exact.

        A block removes thousands of txs at once, nearly all without relatives in the pool:
        only the few with some are walked; the rest cost a few dict deletions each. The
        order of removal does not matter (``_in_order`` gives it to callers that report
        what they removed).
        """
        nodes = self._nodes
        if nodes.keys() == doomed:
            # Everything goes, as when a block takes the whole pool (the usual case on a
            # quiet network): no survivor to keep exact, so the indexes are just emptied.
            nodes.clear()
            self._spenders.clear()
            self._by_encoding.clear()
            self._evict_heap.clear()
            self._bytes = self._fees = 0
            return
        doomed_nodes = list(map(nodes.__getitem__, doomed))
        linked = [n for n in doomed_nodes if n.parents or n.children]
        # Totals first, while every link still stands: the walks pass through doomed txs.
        for node in linked:
            e = node.entry
            for txid in self._walk(e.txid, "parents") - doomed:
                a = nodes[txid]
                a.desc_count -= 1
                a.desc_fee -= e.fee
                a.desc_size -= e.size
                self._push_evict(a)
            for txid in self._walk(e.txid, "children") - doomed:
                d = nodes[txid]
                d.anc_count -= 1
                d.anc_fee -= e.fee
                d.anc_size -= e.size
        # A survivor's link to a doomed tx is in a set of its own (never ``_NO_LINKS``).
        for node in linked:
            txid = node.entry.txid
            for t in node.parents - doomed:
                nodes[t].children.discard(txid)  # type: ignore[union-attr]  # its own set, as said
            for t in node.children - doomed:
                nodes[t].parents.discard(txid)  # type: ignore[union-attr]  # its own set, as said
        spenders, by_encoding = self._spenders, self._by_encoding
        size = fee = 0
        for node in doomed_nodes:
            e = node.entry
            for key in e.spends:
                del spenders[key]
            del nodes[e.txid]
            del by_encoding[e.tx.serialize()]
            size += e.size
            fee += e.fee
        self._bytes -= size
        self._fees -= fee

    def _walk(self, txid: bytes, direction: str) -> set[bytes]:
        seen: set[bytes] = set()
        stack = list(getattr(self._nodes[txid], direction))
        while stack:
            t = stack.pop()
            if t not in seen:
                seen.add(t)
                stack.extend(getattr(self._nodes[t], direction))
        return seen

    def _with_descendants(self, txids: Iterable[bytes]) -> set[bytes]:
        doomed: set[bytes] = set()
        for txid in txids:
            if txid not in doomed:
                doomed.add(txid)
                doomed |= self._walk(txid, "children")
        return doomed

    # --- size cap and the rolling minimum fee ------------------------------------------

    def _push_evict(self, node: _Node) -> None:
        # Ties: the newer tx goes first (-seq sorts it lower).
        heapq.heappush(self._evict_heap, (node.evict_score(), -node.seq, node.entry.txid))
        if len(self._evict_heap) > 4 * len(self._nodes) + 1024:
            self._evict_heap = [(n.evict_score(), -n.seq, t) for t, n in self._nodes.items()]
            heapq.heapify(self._evict_heap)

    def _trim(self) -> set[bytes]:
        """Evict lowest-score packages (a tx with its descendants) until under the cap.

        Each eviction raises the rolling floor to the evicted package's rate plus the
        incremental rate, so the space is not refilled by a tx paying no more (Core's
        TrimToSize).
        """
        evicted: set[bytes] = set()
        # self._evict_heap is re-read each time: _remove may compact it into a new list.
        while self._bytes > self.policy.max_mempool_bytes and self._evict_heap:
            score, _, txid = heapq.heappop(self._evict_heap)
            node = self._nodes.get(txid)
            if node is None or node.evict_score() != score:
                continue  # stale: the tx is gone or its score changed since
            rate = node.desc_fee / node.desc_size + self.policy.incremental_relay_fee_rate
            if rate > self._rolling_rate:
                self._rolling_rate = rate
                self._block_since_bump = False
            doomed = self._with_descendants([txid])
            self._remove(doomed)
            evicted |= doomed
        return evicted

    def _rolling_floor(self) -> float:
        """Core's GetMinFee: the floor decays (faster while the pool is small) once a block
        has arrived since the last bump, and vanishes below half the incremental rate."""
        if self._rolling_rate == 0 or not self._block_since_bump:
            return self._rolling_rate
        now = self.config.clock()
        if now > self._rolling_updated + 10:
            halflife: float = ROLLING_FEE_HALFLIFE
            cap = self.policy.max_mempool_bytes
            if self._bytes < cap / 4:
                halflife /= 4
            elif self._bytes < cap / 2:
                halflife /= 2
            self._rolling_rate /= 2 ** ((now - self._rolling_updated) / halflife)
            self._rolling_updated = now
            if self._rolling_rate < self.policy.incremental_relay_fee_rate / 2:
                self._rolling_rate = 0.0
                return 0.0
        return max(self._rolling_rate, float(self.policy.incremental_relay_fee_rate))

    # --- orphans -----------------------------------------------------------------------

    def _add_orphan(self, tx: Tx, missing: frozenset[bytes], time: float) -> bool:
        """Keep ``tx`` until a parent arrives; False if too big or orphans are disabled.

        When full, a random orphan makes room (Core's LimitOrphans): a peer cannot predict
        which, so it cannot aim at one.
        """
        policy = self.policy
        if policy.max_orphans == 0 or tx.size > policy.max_orphan_tx_size:
            return False
        self._expire_orphans(time)
        while len(self._orphans) >= policy.max_orphans:
            self._remove_orphan(self._rng.choice(list(self._orphans)))
        self._orphans[tx.txid] = _Orphan(tx, time, missing)
        for parent in missing:
            self._orphans_by_parent.setdefault(parent, set()).add(tx.txid)
        return True

    def _remove_orphan(self, txid: bytes) -> None:
        orphan = self._orphans.pop(txid)
        for parent in orphan.missing:
            waiting = self._orphans_by_parent.get(parent)
            if waiting is not None:
                waiting.discard(txid)
                if not waiting:
                    del self._orphans_by_parent[parent]

    def _expire_orphans(self, now: float) -> None:
        cutoff = now - self.policy.orphan_expiry_seconds
        for txid in [t for t, o in self._orphans.items() if o.time <= cutoff]:
            self._remove_orphan(txid)

    def _retry_orphans(self, parent_txids: Iterable[bytes]) -> list[MempoolEntry]:
        """Accept orphans whose parents just arrived, and theirs in turn (breadth first).

        An orphan still missing another parent goes back to the pool with its first-seen
        time; one rejected for any other reason is dropped.
        """
        accepted: list[MempoolEntry] = []
        queue = deque(parent_txids)
        # Stop once no orphan waits for any parent: usually at once (a block's thousands
        # of txids are parents of nothing).
        while queue and self._orphans_by_parent:
            for txid in sorted(self._orphans_by_parent.get(queue.popleft(), ())):
                orphan = self._orphans.get(txid)
                if orphan is None:
                    continue
                self._remove_orphan(txid)
                try:
                    entry = self._accept_one(orphan.tx, bypass_limits=False, allow_orphan=False)
                except PolicyError as exc:
                    if exc.code is PolicyCode.MISSING_INPUTS:
                        self._add_orphan(orphan.tx, frozenset(exc.missing_parents), orphan.time)
                    continue
                except RuleError:
                    continue
                accepted.append(entry)
                queue.append(entry.txid)
        return accepted

    # --- chain changes -----------------------------------------------------------------

    def remove_for_block(self, block: Block) -> list[Tx]:
        """A block was connected: drop its txs, and every mempool tx spending a coin one of
        them spent, with descendants. Returns those conflicts (dependency order).

        Descendants of the block's own txs stay: their parents are now confirmed. Orphans
        in the block or conflicting with it are dropped. Call once per connected block.
        """
        txs = block.txs[1:]  # all but the coinbase, always first in a connected block
        in_block = {tx.txid for tx in txs}
        self._remove(self._nodes.keys() & in_block)
        removed: list[Tx] = []
        spenders, orphans = self._spenders, self._orphans
        # Often the block took every mempool tx and no orphan waits: nothing can conflict.
        if spenders or orphans:
            spent = {inp.outpoint_key for tx in txs for inp in tx.inputs}
            # With the block's own txs gone, any spender of a coin it spent is a conflict.
            doomed = self._with_descendants({spenders[k] for k in spenders.keys() & spent})
            removed = self._in_order(doomed)
            self._remove(doomed)
            for txid, orphan in list(orphans.items()):
                if txid in in_block or any(i.outpoint_key in spent for i in orphan.tx.inputs):
                    self._remove_orphan(txid)
        self._rolling_updated = self.config.clock()
        self._block_since_bump = True
        return removed

    def readd_disconnected(self, txs: Sequence[Tx]) -> list[MempoolEntry]:
        """Return txs of disconnected blocks to the pool, after the chain has switched.

        Pass the txs of all disconnected blocks at once, oldest block first, each block's
        in order (coinbases are skipped). They go in ahead of the current entries (they
        are older, and may be their parents), fee limits waived as in Core; then every
        current entry is revalidated against the new tip (no need to call ``revalidate``
        as well). Returns the entries that entered, orphans they unblocked included.
        """
        front = [tx for tx in txs if not tx.is_coinbase]
        readded, _ = self._rebuild(front)
        return readded + self._retry_orphans([e.txid for e in readded])

    def revalidate(self) -> list[Tx]:
        """Re-accept every entry against the current tip; return the txs that no longer
        qualify (a coin gone in a reorg, a coinbase spend no longer mature, not final)."""
        return self._rebuild([])[1]

    def _rebuild(self, front: Sequence[Tx]) -> tuple[list[MempoolEntry], list[Tx]]:
        old = self.entries()
        self._nodes.clear()
        self._by_encoding.clear()
        self._spenders.clear()
        self._evict_heap.clear()
        self._bytes = self._fees = 0
        readded: list[MempoolEntry] = []
        for tx in front:
            try:
                readded.append(self._accept_one(tx, bypass_limits=True, allow_orphan=False))
            except (PolicyError, RuleError):
                pass
        for entry in old:
            try:
                self._accept_one(entry.tx, bypass_limits=True, allow_orphan=False, keep=entry)
            except (PolicyError, RuleError):
                pass
        self._trim()
        readded = [e for e in readded if e.txid in self._nodes]
        return readded, [e.tx for e in old if e.txid not in self._nodes]

    def expire(self, now: float | None = None) -> list[Tx]:
        """Drop txs older than ``expiry_seconds`` (with their descendants) and orphans older
        than ``orphan_expiry_seconds``; return the dropped mempool txs. Call periodically."""
        if now is None:
            now = self.config.clock()
        cutoff = now - self.policy.expiry_seconds
        old = [txid for txid, node in self._nodes.items() if node.entry.time < cutoff]
        doomed = self._with_descendants(old)
        removed = self._in_order(doomed)
        self._remove(doomed)
        self._expire_orphans(now)
        return removed

    # --- mining ------------------------------------------------------------------------

    def select_for_block(
        self, max_size: int, max_sigchecks: int | None = None
    ) -> list[tuple[Tx, int]]:
        """(tx, fee) for a block template, best ancestor-package fee rate first.

        A tx is taken with all its not-yet-taken ancestors (parents first), so a child can
        pay for its parent (CPFP). ``max_size`` bounds the sum of tx sizes (leave room for
        the header and coinbase); ``max_sigchecks`` the inputs (default: the block limit).
        When ancestors are taken, their descendants' package rates are recomputed and
        pushed again; stale heap items are recognised by their rate and skipped.
        """
        if max_sigchecks is None:
            max_sigchecks = self.params.max_block_sigchecks
        nodes = self._nodes
        selected: set[bytes] = set()
        failed: set[bytes] = set()
        result: list[tuple[Tx, int]] = []
        size_left, checks_left = max_size, max_sigchecks

        def package(txid: bytes) -> tuple[list[_Node], float]:
            members = [nodes[t] for t in self._walk(txid, "parents") if t not in selected]
            members.append(nodes[txid])
            fee = sum(n.entry.fee for n in members)
            return members, fee / sum(n.entry.size for n in members)

        heap = [(-n.anc_fee / n.anc_size, n.seq, t) for t, n in nodes.items()]
        heapq.heapify(heap)
        min_size = min((n.entry.size for n in nodes.values()), default=0)
        while heap and size_left >= min_size:
            neg_rate, seq, txid = heapq.heappop(heap)
            if txid in selected or txid in failed:
                continue
            members, rate = package(txid)
            if rate != -neg_rate:
                heapq.heappush(heap, (-rate, seq, txid))
                continue
            size = sum(n.entry.size for n in members)
            checks = sum(n.entry.sigchecks for n in members)
            if size > size_left or checks > checks_left:
                # Never fits later: the package only loses ancestors by their being
                # taken, which costs the budget at least as much as it saves.
                failed.add(txid)
                continue
            size_left -= size
            checks_left -= checks
            members.sort(key=lambda n: n.anc_count)  # a parent has fewer ancestors
            for n in members:
                selected.add(n.entry.txid)
                result.append((n.entry.tx, n.entry.fee))
            for d in self._with_descendants(n.entry.txid for n in members) - selected:
                _, d_rate = package(d)
                heapq.heappush(heap, (-d_rate, nodes[d].seq, d))
        return result
