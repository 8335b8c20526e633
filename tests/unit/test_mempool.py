"""The mempool, its policy and the signature cache, against chains built in memory.

Coins come from a ChainBuilder's coin view; every rejection is asserted by its stable code.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from consensus.coins import CoinViewCache
from consensus.errors import RejectCode, RuleError
from consensus.params import COIN, REGTEST
from consensus.policy import After, Thresh, encode_policy, encode_satisfaction, policy_lock
from consensus.primitives import Block, Tx, TxIn, TxOut, outpoint_key
from consensus.signatures import ED25519
from consensus.validation import (
    check_block,
    connect_block,
    disconnect_block,
    input_sig_checks,
    verify_sig_checks,
)
from node.mempool.policy import REPLACEABLE_TX_VERSION, Policy, PolicyCode, PolicyError
from node.mempool.pool import MEMPOOL_HEIGHT, Mempool, MempoolConfig
from node.verify.sigcache import SigCache
from tests.chain_helpers import (
    ChainBuilder,
    Utxo,
    key,
    pk,
    policy_tx,
    sign_input,
    spend,
    with_sigs,
)

ALICE, BOB, CAROL = key(1), key(2), key(3)
START = 1_800_000_000.0
TX_SIZE = 174  # one Ed25519 input, one output above 2**32 units


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def chain() -> ChainBuilder:
    """Tip at 110: the coinbases of heights 1..11 are mature for the next block."""
    builder = ChainBuilder()
    builder.mine_empty(110)
    return builder


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_pool(
    chain: ChainBuilder,
    clock: FakeClock | None = None,
    policy: Policy | None = None,
    verifier=verify_sig_checks,
) -> Mempool:
    return Mempool(
        MempoolConfig(
            params=chain.params,
            policy=policy or Policy(),
            fetch_coin=chain.view.get_coin,
            tip_height=lambda: chain.height,
            median_time_past=chain.mtp,
            clock=clock or FakeClock(),
            verifier=verifier,
        )
    )


@pytest.fixture
def pool(chain: ChainBuilder, clock: FakeClock) -> Mempool:
    return make_pool(chain, clock)


def pay(utxo: Utxo, fee: int = 1000, to=ALICE, extra: list[tuple[int, bytes]] = ()) -> Tx:
    """``utxo`` to ``to`` minus ``fee`` (and minus any ``extra`` outputs)."""
    rest = sum(v for v, _ in extra)
    return spend([utxo], [(utxo.value - fee - rest, to.lock), *extra])


def rejects(code, fn, *args) -> PolicyError | RuleError:
    with pytest.raises((PolicyError, RuleError)) as info:
        fn(*args)
    assert info.value.code == code, info.value
    return info.value


def disconnect_tip(chain: ChainBuilder) -> Block:
    """Undo the tip block of ``chain`` (ChainBuilder only goes forward)."""
    block = chain.blocks.pop()
    undo = chain.undos.pop()
    chain.times.pop()
    cache = CoinViewCache(chain.view)
    disconnect_block(block, undo, cache)
    chain.view.apply(cache.changes)
    return block


def orphan_tx(n: int, value: int = 10_000) -> Tx:
    """An unsigned tx spending an output of a tx nobody has seen."""
    parent = hashlib.sha256(b"unknown parent %d" % n).digest()
    return Tx(1, (TxIn(parent, 0, b"", b""),), (TxOut(value, ALICE.lock),), 0)


# --- accepting ----------------------------------------------------------------------------


def test_accept_valid_tx(chain, pool, clock):
    u = chain.coinbase_utxo(1)
    tx = pay(u, fee=1000)
    entry = pool.accept(tx)
    assert entry.tx == tx and entry.txid == tx.txid
    assert (entry.fee, entry.size) == (1000, TX_SIZE)
    assert entry.fee_rate == 1000 / TX_SIZE
    assert (entry.time, entry.height) == (START, chain.height)
    assert entry.spends == (u.outpoint_key,)
    assert tx.txid in pool and len(pool) == 1 and pool.get(tx.txid) == entry
    assert pool.entries() == [entry] and pool.txids() == [tx.txid]
    assert (pool.total_bytes, pool.total_fees) == (TX_SIZE, 1000)
    assert pool.spender_of(u.outpoint_key) == tx.txid
    out = outpoint_key(tx.txid, 0)
    coin = pool.coin(out)
    assert coin is not None and coin.height == MEMPOOL_HEIGHT and not coin.coinbase
    assert coin.value == u.value - 1000 and coin.lock == ALICE.lock
    assert pool.get_coin(out) == coin
    assert pool.get_coin(u.outpoint_key) is None  # spent by the mempool
    assert pool.get_coin(chain.coinbase_utxo(2).outpoint_key) is not None  # confirmed
    assert pool.coin(outpoint_key(tx.txid, 1)) is None


def test_fee_below_min_relay(chain, pool):
    u = chain.coinbase_utxo(1)
    rejects(PolicyCode.MIN_RELAY_FEE, pool.accept, pay(u, fee=TX_SIZE - 1))
    assert pool.accept(pay(u, fee=TX_SIZE)).fee_rate == 1.0  # exactly the minimum is fine


def test_dust_output(chain, pool):
    u = chain.coinbase_utxo(1)
    rejects(PolicyCode.DUST, pool.accept, pay(u, extra=[(545, BOB.lock)]))
    assert pool.accept(pay(u, extra=[(546, BOB.lock)]))


def test_tx_size_limit(chain, pool):
    u = chain.coinbase_utxo(1)
    big = pay(u, fee=200_000, extra=[(1000, BOB.lock)] * 4000)
    assert 100_000 < big.size < REGTEST.max_block_size
    rejects(PolicyCode.TX_SIZE, pool.accept, big)
    small_limit = make_pool(chain, policy=Policy(max_tx_size=TX_SIZE - 1))
    rejects(PolicyCode.TX_SIZE, small_limit.accept, pay(u))


def test_double_spend_in_mempool_is_rejected_first_seen(chain, pool):
    u = chain.coinbase_utxo(1)
    first = pool.accept(pay(u, fee=1000, to=ALICE))
    rejects(PolicyCode.CONFLICT, pool.accept, pay(u, fee=50_000, to=BOB))  # no replacement
    assert pool.txids() == [first.txid]


def rbf(utxos: list[Utxo], fee: int, to=ALICE, version: int = REPLACEABLE_TX_VERSION) -> Tx:
    return spend(utxos, [(sum(u.value for u in utxos) - fee, to.lock)], version=version)


def test_replace_by_fee_needs_the_signal_and_bip125_fees(chain, pool):
    u, other = chain.coinbase_utxo(1), chain.coinbase_utxo(2)
    original = pool.accept(rbf([u], fee=1000))
    child = pool.accept(rbf([Utxo(original.txid, 0, u.value - 1000, ALICE)], fee=1000))
    # The fee rate must rise, the fees of the tx and its child be covered, and the new
    # size be paid again at the incremental rate (1 unit per byte).
    rejects(PolicyCode.INSUFFICIENT_FEE, pool.accept, rbf([u], fee=1000, to=BOB))
    rejects(PolicyCode.INSUFFICIENT_FEE, pool.accept, rbf([u], fee=1999, to=BOB))
    rejects(PolicyCode.INSUFFICIENT_FEE, pool.accept, rbf([u], fee=2000 + TX_SIZE - 1, to=BOB))
    spends_child = spend(
        [u, Utxo(child.txid, 0, child.tx.outputs[0].value, ALICE)], [(10**9, BOB.lock)]
    )
    rejects(PolicyCode.SPENDS_CONFLICTING, pool.accept, spends_child)
    assert pool.txids() == [original.txid, child.txid]
    replacement = pool.accept(rbf([u], fee=2000 + TX_SIZE, to=BOB))
    assert pool.txids() == [replacement.txid]  # the original went, and its child with it
    assert pool.spender_of(u.outpoint_key) == replacement.txid
    assert pool.total_fees == 2000 + TX_SIZE
    # A final (version 1) tx is never replaced, and a replacement adds no unconfirmed input.
    final = pool.accept(rbf([other], fee=1000, version=1))
    rejects(PolicyCode.CONFLICT, pool.accept, rbf([other], fee=90_000, to=BOB))
    parent_out = Utxo(final.txid, 0, other.value - 1000, ALICE)
    rejects(
        PolicyCode.REPLACEMENT_ADDS_UNCONFIRMED,
        pool.accept,
        rbf([u, parent_out], fee=90_000, to=CAROL),
    )
    assert pool.txids() == [replacement.txid, final.txid]


def test_replacement_evicts_a_bounded_number(chain):
    pool = make_pool(chain, policy=Policy(max_replacement_evictions=1))
    u = chain.coinbase_utxo(1)
    original = pool.accept(rbf([u], fee=1000))
    pool.accept(rbf([Utxo(original.txid, 0, u.value - 1000, ALICE)], fee=1000))
    rejects(PolicyCode.TOO_MANY_REPLACEMENTS, pool.accept, rbf([u], fee=90_000, to=BOB))


def test_already_in_mempool(chain, pool):
    tx = pay(chain.coinbase_utxo(1))
    pool.accept(tx)
    rejects(PolicyCode.ALREADY_IN_MEMPOOL, pool.accept, tx)


def test_already_confirmed(chain, pool):
    tx = pay(chain.coinbase_utxo(1))
    chain.mine([tx])
    rejects(PolicyCode.ALREADY_KNOWN, pool.accept, tx)
    assert pool.orphan_count == 0


def test_coinbase_never_accepted_loose(chain, pool):
    rejects(PolicyCode.COINBASE, pool.accept, chain.blocks[5].txs[0])


def test_immature_coinbase_spend_is_a_consensus_error(chain, pool):
    rejects(RejectCode.TX_PREMATURE_COINBASE_SPEND, pool.accept, pay(chain.coinbase_utxo(12)))
    assert pool.accept(pay(chain.coinbase_utxo(11)))  # exactly 100 deep at the next height


def test_finality_is_checked_against_the_next_block(chain, pool):
    u = chain.coinbase_utxo(1)
    late = spend([u], [(u.value - 1000, ALICE.lock)], locktime=chain.height + 1)
    rejects(RejectCode.TX_NONFINAL, pool.accept, late)
    assert pool.accept(spend([u], [(u.value - 1000, ALICE.lock)], locktime=chain.height))


def test_unknown_key_type_output_is_nonstandard_but_valid_in_a_block(chain, pool):
    u = chain.coinbase_utxo(1)
    future_lock = bytes([0x7F]) + bytes(20)
    tx = spend([u], [(u.value - 1000, future_lock)])
    rejects(PolicyCode.NONSTANDARD_KEY_TYPE, pool.accept, tx)
    chain.mine([tx])  # consensus accepts it: check_block + connect_block
    assert chain.view.get_coin(outpoint_key(tx.txid, 0)).lock == future_lock


def test_consensus_failure_wins_over_policy_failure(chain, pool):
    u = chain.coinbase_utxo(1)
    # Duplicate inputs (consensus, context-free) and a dust output (policy).
    dup = spend([u, u], [(100, ALICE.lock)])
    rejects(RejectCode.TX_DUPLICATE_INPUTS, pool.accept, dup)
    # Outputs above inputs (consensus, inputs) also means no fee at all (policy).
    overspend = spend([u], [(u.value + 1, ALICE.lock)])
    rejects(RejectCode.TX_IN_BELOW_OUT, pool.accept, overspend)
    # A key that does not match the lock (consensus, inputs) with a zero fee.
    wrong_key = spend([Utxo(u.txid, u.index, u.value, BOB)], [(u.value, ALICE.lock)])
    rejects(RejectCode.TX_LOCK_MISMATCH, pool.accept, wrong_key)
    assert len(pool) == 0


def test_documented_order_policy_on_the_tx_before_consensus_on_inputs(chain, pool):
    # Like Core's PreChecks, standardness of the tx alone comes before its inputs are looked
    # up: an immature coinbase spend with a dust output is reported as dust.
    tx = pay(chain.coinbase_utxo(50), extra=[(1, BOB.lock)])
    rejects(PolicyCode.DUST, pool.accept, tx)


def test_bad_signature_is_a_consensus_error(chain, pool):
    tx = pay(chain.coinbase_utxo(1))
    rejects(RejectCode.TX_BAD_SIGNATURE, pool.accept, with_bad_sig(tx))
    assert len(pool) == 0


def with_bad_sig(tx: Tx) -> Tx:
    """``tx`` with its first signature corrupted: same txid (signatures are not in it)."""
    first = tx.inputs[0]
    sig = bytes([first.sig[0] ^ 1]) + first.sig[1:]
    bad = Tx(
        tx.version,
        (TxIn(first.prev_txid, first.prev_index, first.pubkey, sig), *tx.inputs[1:]),
        tx.outputs,
        tx.locktime,
    )
    assert bad.txid == tx.txid and bad.wtxid != tx.wtxid
    return bad


def test_rpc_style_accept_keeps_no_orphan(chain, pool):
    parent = pay(chain.coinbase_utxo(1))
    child = pay(chain.utxo(parent, 0, ALICE))
    err = rejects(PolicyCode.MISSING_INPUTS, lambda: pool.accept(child, allow_orphan=False))
    assert err.orphan is False and err.missing_parents == (parent.txid,)
    assert pool.orphan_count == 0


def test_test_accept_changes_nothing(chain, pool):
    tx = pay(chain.coinbase_utxo(1))
    entry = pool.test_accept(tx)
    assert entry.txid == tx.txid and len(pool) == 0
    child = pay(Utxo(tx.txid, 0, tx.outputs[0].value, ALICE))
    err = rejects(PolicyCode.MISSING_INPUTS, pool.test_accept, child)
    assert err.orphan is False and pool.orphan_count == 0


# --- parents and children -----------------------------------------------------------------


def test_child_spending_a_mempool_parent(chain, pool):
    parent = pay(chain.coinbase_utxo(1), extra=[(10 * COIN, BOB.lock)])
    child = pay(chain.utxo(parent, 0, ALICE), to=CAROL)
    grandchild = pay(chain.utxo(child, 0, CAROL))
    for tx in (parent, child, grandchild):
        pool.accept(tx)
    assert pool.ancestors(grandchild.txid) == {parent.txid, child.txid}
    assert pool.descendants(parent.txid) == {child.txid, grandchild.txid}
    assert pool.ancestors(parent.txid) == set()
    stats = pool.package_stats(child.txid)
    assert (stats.ancestor_count, stats.descendant_count) == (2, 2)
    assert stats.ancestor_fees == 2000 and stats.descendant_fees == 2000
    assert stats.depends == (parent.txid,) and stats.spent_by == (grandchild.txid,)
    assert pool.spender_of(outpoint_key(parent.txid, 0)) == child.txid
    assert pool.coin(outpoint_key(parent.txid, 0)) is None  # spent in the mempool
    assert pool.coin(outpoint_key(parent.txid, 1)).value == 10 * COIN
    # A parent's output that does not exist can never appear: invalid, not an orphan.
    ghost = Tx(1, (TxIn(parent.txid, 7, b"", b""),), (TxOut(10_000, ALICE.lock),), 0)
    rejects(RejectCode.TX_MISSING_OR_SPENT, pool.accept, ghost)
    assert pool.orphan_count == 0


def test_ancestor_and_descendant_limits(chain):
    pool = make_pool(chain, policy=Policy(max_ancestors=3, max_descendants=3))
    a = pay(chain.coinbase_utxo(1), extra=[(COIN, BOB.lock), (COIN, BOB.lock)])
    b = pay(chain.utxo(a, 0, ALICE))
    c = pay(chain.utxo(b, 0, ALICE))
    d = pay(chain.utxo(c, 0, ALICE))
    for tx in (a, b, c):
        pool.accept(tx)
    rejects(PolicyCode.TOO_LONG_CHAIN, pool.accept, d)  # a, b, c, d: 4 in a chain
    # a already has 3 descendants counting itself (a, b, c): no more children.
    rejects(PolicyCode.TOO_LONG_CHAIN, pool.accept, pay(chain.utxo(a, 1, BOB)))


# --- orphans ------------------------------------------------------------------------------


def test_orphan_then_parent_accepts_both(chain, pool):
    parent = pay(chain.coinbase_utxo(1))
    child = pay(chain.utxo(parent, 0, ALICE), to=BOB)
    grandchild = pay(chain.utxo(child, 0, BOB), to=CAROL)
    err = rejects(PolicyCode.MISSING_INPUTS, pool.accept, child)
    assert err.orphan is True and err.missing_parents == (parent.txid,)
    rejects(PolicyCode.MISSING_INPUTS, pool.accept, grandchild)
    assert pool.orphan_count == 2 and pool.has_orphan(child.txid) and len(pool) == 0
    entries = pool.accept_with_orphans(parent)
    assert [e.txid for e in entries] == [parent.txid, child.txid, grandchild.txid]
    assert pool.orphan_count == 0 and len(pool) == 3


def test_accept_also_retries_orphans(chain, pool):
    parent = pay(chain.coinbase_utxo(1))
    child = pay(chain.utxo(parent, 0, ALICE), to=BOB)
    rejects(PolicyCode.MISSING_INPUTS, pool.accept, child)
    assert pool.accept(parent).txid == parent.txid
    assert child.txid in pool and pool.orphan_count == 0


def test_invalid_orphan_is_dropped_when_its_parent_arrives(chain, pool):
    parent = pay(chain.coinbase_utxo(1))
    child = with_bad_sig(pay(chain.utxo(parent, 0, ALICE)))
    rejects(PolicyCode.MISSING_INPUTS, pool.accept, child)
    assert [e.txid for e in pool.accept_with_orphans(parent)] == [parent.txid]
    assert pool.orphan_count == 0 and child.txid not in pool


def test_orphan_waiting_for_two_parents(chain, pool):
    p1 = pay(chain.coinbase_utxo(1))
    p2 = pay(chain.coinbase_utxo(2))
    both = spend(
        [chain.utxo(p1, 0, ALICE), chain.utxo(p2, 0, ALICE)],
        [(p1.outputs[0].value + p2.outputs[0].value - 2000, BOB.lock)],
    )
    err = rejects(PolicyCode.MISSING_INPUTS, pool.accept, both)
    assert set(err.missing_parents) == {p1.txid, p2.txid}
    assert pool.accept_with_orphans(p1)[1:] == []  # still waiting for p2
    assert pool.has_orphan(both.txid)
    assert [e.txid for e in pool.accept_with_orphans(p2)] == [p2.txid, both.txid]


def test_orphan_pool_is_bounded_and_expires(chain, clock):
    pool = make_pool(chain, clock, Policy(max_orphans=3, max_orphan_tx_size=200))
    for n in range(5):
        err = rejects(PolicyCode.MISSING_INPUTS, pool.accept, orphan_tx(n))
        assert err.orphan is True
    assert pool.orphan_count == 3
    big = Tx(1, orphan_tx(9).inputs, (TxOut(10_000, ALICE.lock),) * 10, 0)
    assert big.size > 200
    assert rejects(PolicyCode.MISSING_INPUTS, pool.accept, big).orphan is False
    assert pool.orphan_count == 3
    clock.now += 1199
    pool.expire()
    assert pool.orphan_count == 3
    clock.now += 1
    pool.expire()
    assert pool.orphan_count == 0


# --- size cap, rolling minimum fee, expiry -------------------------------------------------


def test_size_cap_evicts_lowest_fee_rate(chain, clock):
    pool = make_pool(chain, clock, Policy(max_mempool_bytes=3 * TX_SIZE))
    t1, t2, t3, t4, t5, t6 = (
        pay(chain.coinbase_utxo(h), fee=f)
        for h, f in ((1, 1000), (2, 2000), (3, 3000), (4, 4000), (5, 1500), (6, 1100))
    )
    for tx in (t1, t2, t3):
        pool.accept(tx)
    assert pool.total_bytes == 3 * TX_SIZE  # at the cap, not above: nothing evicted
    pool.accept(t4)
    assert set(pool.txids()) == {t2.txid, t3.txid, t4.txid}  # t1 paid the least per byte
    # The floor is now t1's rate plus the incremental rate.
    assert pool.min_fee_rate() == 1000 / TX_SIZE + 1
    rejects(PolicyCode.MEMPOOL_MIN_FEE, pool.accept, t6)
    # t5 clears the floor but would be the lowest in a full pool.
    rejects(PolicyCode.MEMPOOL_FULL, pool.accept, t5)
    assert set(pool.txids()) == {t2.txid, t3.txid, t4.txid}
    assert pool.total_bytes == 3 * TX_SIZE and pool.total_fees == 9000
    info = pool.info()
    assert info["mempoolminfee"] == pool.min_fee_rate() > info["minrelaytxfee"] == 1
    # A block arrives, then the floor decays (fast: the pool is not small) and vanishes.
    pool.remove_for_block(chain.mine([]))
    clock.now += 7 * 24 * 3600
    assert pool.min_fee_rate() == 1.0


def test_eviction_takes_descendants(chain, clock):
    pool = make_pool(chain, clock, Policy(max_mempool_bytes=4 * TX_SIZE))
    parent = pay(chain.coinbase_utxo(1), fee=300)
    child = pay(chain.utxo(parent, 0, ALICE), fee=400)  # package rate ~2/byte
    rich1 = pay(chain.coinbase_utxo(2), fee=3000)
    rich2 = pay(chain.coinbase_utxo(3), fee=3000)
    rich3 = pay(chain.coinbase_utxo(4), fee=5000)
    for tx in (parent, child, rich1, rich2):
        pool.accept(tx)
    pool.accept(rich3)
    assert set(pool.txids()) == {rich1.txid, rich2.txid, rich3.txid}


def test_child_keeps_its_parent_from_eviction(chain, clock):
    pool = make_pool(chain, clock, Policy(max_mempool_bytes=4 * TX_SIZE))
    parent = pay(chain.coinbase_utxo(1), fee=300)
    child = pay(chain.utxo(parent, 0, ALICE), fee=9000)  # pays for its parent (CPFP)
    mid1 = pay(chain.coinbase_utxo(2), fee=2000)
    mid2 = pay(chain.coinbase_utxo(3), fee=2100)
    for tx in (parent, child, mid1, mid2):
        pool.accept(tx)
    pool.accept(pay(chain.coinbase_utxo(4), fee=5000))
    assert parent.txid in pool and child.txid in pool and mid1.txid not in pool


def test_expiry_removes_old_txs_and_their_descendants(chain, clock, pool):
    parent = pay(chain.coinbase_utxo(1))
    pool.accept(parent)
    clock.now += 200 * 3600
    child = pay(chain.utxo(parent, 0, ALICE))
    young = pay(chain.coinbase_utxo(2))
    pool.accept(child)
    pool.accept(young)
    assert pool.expire(START + 336 * 3600) == []  # exactly two weeks: not yet
    assert pool.expire(START + 336 * 3600 + 1) == [parent, child]
    assert pool.txids() == [young.txid]
    assert pool.total_bytes == young.size


# --- blocks: connect, disconnect, reorg ----------------------------------------------------


def test_remove_for_block_drops_included_txs(chain, pool):
    parent = pay(chain.coinbase_utxo(1))
    child = pay(chain.utxo(parent, 0, ALICE))
    other = pay(chain.coinbase_utxo(2))
    for tx in (parent, child, other):
        pool.accept(tx)
    assert pool.remove_for_block(chain.mine([parent])) == []
    assert pool.txids() == [child.txid, other.txid]
    stats = pool.package_stats(child.txid)
    assert stats.ancestor_count == 1 and stats.depends == ()
    assert pool.ancestors(child.txid) == set()


def test_remove_for_block_evicts_conflicts_and_descendants(chain, pool):
    u = chain.coinbase_utxo(1)
    ours = pay(u, to=ALICE)
    ours_child = pay(chain.utxo(ours, 0, ALICE))
    bystander = pay(chain.coinbase_utxo(2))
    for tx in (ours, ours_child, bystander):
        pool.accept(tx)
    theirs = pay(u, to=BOB, fee=5000)  # the same coin, spent differently in a block
    also_mined = pay(chain.coinbase_utxo(3), to=BOB)
    waits_for_theirs = pay(chain.utxo(theirs, 0, BOB))
    conflicting_orphan = spend(
        [chain.coinbase_utxo(3), Utxo(bytes(31) + b"\x01", 0, COIN, ALICE)],
        [(COIN, ALICE.lock)],
    )
    rejects(PolicyCode.MISSING_INPUTS, pool.accept, waits_for_theirs)
    rejects(PolicyCode.MISSING_INPUTS, pool.accept, conflicting_orphan)
    assert pool.orphan_count == 2
    block = chain.mine([theirs, also_mined])
    assert pool.remove_for_block(block) == [ours, ours_child]
    assert pool.txids() == [bystander.txid]
    assert pool.spender_of(u.outpoint_key) is None
    assert pool.total_bytes == bystander.size and pool.total_fees == 1000
    # The orphan spending a coin the block spent is gone; the other one can now get in.
    assert pool.orphan_count == 1 and pool.has_orphan(waits_for_theirs.txid)
    assert [e.txid for e in pool.retry_orphans([theirs.txid])] == [waits_for_theirs.txid]


def test_readd_disconnected_returns_block_txs(chain, pool):
    mined = pay(chain.coinbase_utxo(1))
    chain.mine([mined])
    child = pay(chain.utxo(mined, 0, ALICE))  # spends a confirmed coin
    pool.accept(child)
    block = disconnect_tip(chain)
    entries = pool.readd_disconnected(block.txs)
    assert [e.txid for e in entries] == [mined.txid]
    assert pool.txids() == [mined.txid, child.txid]
    assert pool.ancestors(child.txid) == {mined.txid}
    assert pool.get(child.txid).time == START  # kept its place in time


def test_reorg_drops_txs_that_lost_coinbase_maturity(chain, pool):
    tx = pay(chain.coinbase_utxo(11))  # mature exactly at the next height, 111
    dependent = pay(chain.utxo(tx, 0, ALICE))
    pool.accept(tx)
    pool.accept(dependent)
    block = disconnect_tip(chain)
    assert pool.readd_disconnected(block.txs) == []  # only a coinbase: skipped
    assert len(pool) == 0 and pool.total_bytes == 0


def test_revalidate_drops_txs_whose_coins_vanished(chain, pool):
    funding = pay(chain.coinbase_utxo(1))
    chain.mine([funding])
    spender = pay(chain.utxo(funding, 0, ALICE))
    keeper = pay(chain.coinbase_utxo(2))
    pool.accept(spender)
    pool.accept(keeper)
    disconnect_tip(chain)
    assert pool.revalidate() == [spender]
    assert pool.txids() == [keeper.txid]


# --- block templates ----------------------------------------------------------------------


def test_select_for_block_by_package_fee_rate(chain, pool):
    parent = pay(chain.coinbase_utxo(1), fee=500)  # ~2.9/byte alone
    child = pay(chain.utxo(parent, 0, ALICE), fee=5000)  # package ~15.8/byte
    x = pay(chain.coinbase_utxo(2), fee=2000)  # ~11.5/byte
    y = pay(chain.coinbase_utxo(3), fee=1000)  # ~5.7/byte
    for tx in (y, x, parent, child):
        pool.accept(tx)
    assert pool.select_for_block(10_000) == [(parent, 500), (child, 5000), (x, 2000), (y, 1000)]
    # Room for two txs: the parent+child package is best.
    assert [t for t, _ in pool.select_for_block(2 * TX_SIZE)] == [parent, child]
    # Room for one: the package does not fit, the best single tx does.
    assert [t for t, _ in pool.select_for_block(TX_SIZE)] == [x]
    # The signature-check budget is respected too.
    assert [t for t, _ in pool.select_for_block(10_000, max_sigchecks=1)] == [x]
    assert pool.select_for_block(TX_SIZE - 1) == []


def test_select_for_block_makes_a_valid_block(chain, pool):
    txs = []
    for h in range(1, 6):
        tx = pay(chain.coinbase_utxo(h), fee=1000 * h)
        txs.append(tx)
        txs.append(pay(chain.utxo(tx, 0, ALICE), fee=700))
    for tx in txs:
        pool.accept(tx)
    selected = pool.select_for_block(100_000)
    assert len(selected) == len(txs)
    fees = sum(f for _, f in selected)
    block = chain.build([t for t, _ in selected], fees=fees)
    chain.connect(block)  # parents before children, fees as claimed
    assert pool.remove_for_block(block) == [] and len(pool) == 0


# --- the signature cache ------------------------------------------------------------------


def test_sigcache_caches_only_successes(chain):
    cache = SigCache()
    tx = pay(chain.coinbase_utxo(1))
    coin = chain.view.get_coin(tx.inputs[0].outpoint_key)
    checks = input_sig_checks(tx, [coin], chain.params)
    cache.verifier(checks)
    assert (cache.hits, cache.misses, len(cache)) == (0, 1, 1)
    cache.verifier(checks)
    assert (cache.hits, cache.misses) == (1, 1) and cache.contains(checks[0])
    bad = input_sig_checks(with_bad_sig(tx), [coin], chain.params)
    for _ in range(2):
        rejects(RejectCode.TX_BAD_SIGNATURE, cache.verifier, bad)
    assert cache.misses == 3 and not cache.contains(bad[0]) and len(cache) == 1
    assert cache.stats == {"hits": 1, "misses": 3, "entries": 1, "max_entries": 200_000}


def test_a_blocks_checks_are_looked_up_not_stored(chain):
    """block_verifier (the chain's) answers from what the mempool stored and verifies the
    rest without storing it, as Core's block connection does."""
    cache = SigCache()
    stored, fresh = (pay(chain.coinbase_utxo(n)) for n in (1, 2))
    checks = {
        tx.txid: input_sig_checks(
            tx, [chain.view.get_coin(tx.inputs[0].outpoint_key)], chain.params
        )
        for tx in (stored, fresh)
    }
    cache.verifier(checks[stored.txid])
    cache.block_verifier(checks[stored.txid] + checks[fresh.txid])
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 1)
    assert not cache.contains(checks[fresh.txid][0])
    bad = input_sig_checks(
        with_bad_sig(fresh), [chain.view.get_coin(fresh.inputs[0].outpoint_key)], chain.params
    )
    rejects(RejectCode.TX_BAD_SIGNATURE, cache.block_verifier, bad)
    assert len(cache) == 1


def test_sigcache_is_bounded_fifo():
    cache = SigCache(max_entries=2)
    keys = [key(n) for n in range(3)]
    checks = [(k.key_type, k.pubkey, ED25519.sign(k.secret, b"m"), b"m") for k in keys]
    for c in checks:
        cache.verifier([c])
    assert len(cache) == 2
    assert not cache.contains(checks[0]) and cache.contains(checks[1]) and cache.contains(checks[2])


def test_block_after_mempool_needs_no_new_verifications(chain, clock):
    cache = SigCache()
    pool = make_pool(chain, clock, verifier=cache.verifier)
    parent = spend(
        [chain.coinbase_utxo(1), chain.coinbase_utxo(2)], [(100 * COIN - 2000, ALICE.lock)]
    )
    child = pay(chain.utxo(parent, 0, ALICE))
    pool.accept(parent)
    pool.accept(child)
    assert cache.misses == 3 and cache.hits == 0
    block = chain.build([parent, child])
    check_block(block, chain.params)
    verdicts = []
    for verifier in (cache.verifier, verify_sig_checks):
        view = CoinViewCache(chain.view)
        verdicts.append(
            connect_block(block, view, chain.height + 1, chain.mtp(), chain.params, verifier)
        )
    assert verdicts[0] == verdicts[1]
    assert cache.misses == 3 and cache.hits == 3  # every signature served from the cache


def test_bad_signature_block_is_rejected_with_and_without_the_cache(chain, clock):
    cache = SigCache()
    pool = make_pool(chain, clock, verifier=cache.verifier)
    good = pay(chain.coinbase_utxo(1))
    pool.accept(good)  # its valid signature is now cached
    bad = with_bad_sig(good)
    block = chain.build([bad])
    check_block(block, chain.params)
    codes = []
    for verifier in (cache.verifier, verify_sig_checks):
        with pytest.raises(RuleError) as info:
            connect_block(
                block,
                CoinViewCache(chain.view),
                chain.height + 1,
                chain.mtp(),
                chain.params,
                verifier,
            )
        codes.append(info.value.code)
    assert codes == [RejectCode.TX_BAD_SIGNATURE] * 2
    assert cache.misses == 2  # the bad signature was verified, not looked up


# --- info -------------------------------------------------------------------------------


def test_info_fields(chain, pool):
    pool.accept(pay(chain.coinbase_utxo(1), fee=1000))
    info = pool.info()
    assert info["size"] == 1 and info["bytes"] == TX_SIZE and info["total_fee"] == 1000
    assert info["maxmempool"] == 300_000_000 and info["usage"] >= TX_SIZE
    assert info["minrelaytxfee"] == 1 and info["mempoolminfee"] == 1.0
    assert info["loaded"] is True


def test_policy_rejects_bad_values():
    with pytest.raises(ValueError):
        Policy(dust_limit=-1)
    with pytest.raises(ValueError):
        Policy(max_ancestors=0)
    assert replace(Policy(), max_orphans=0).max_orphans == 0


# --- bookkeeping under a random workload --------------------------------------------------


def assert_consistent(pool: Mempool) -> None:
    """Recompute every index and total from the entries alone and compare."""
    entries = pool.entries()
    by_txid = {e.txid: e for e in entries}
    position = {e.txid: n for n, e in enumerate(entries)}
    assert pool.total_bytes == sum(e.size for e in entries)
    assert pool.total_fees == sum(e.fee for e in entries)

    def parents(txid: bytes) -> set[bytes]:
        return {k[:32] for k in by_txid[txid].spends if k[:32] in by_txid}

    def closure(txid: bytes, step) -> set[bytes]:
        seen, stack = set(), list(step(txid))
        while stack:
            t = stack.pop()
            if t not in seen:
                seen.add(t)
                stack.extend(step(t))
        return seen

    children = {t: {c for c in by_txid if t in parents(c)} for t in by_txid}
    for e in entries:
        assert all(position[p] < position[e.txid] for p in parents(e.txid))
        assert all(pool.spender_of(k) == e.txid for k in e.spends)
        anc = closure(e.txid, parents)
        desc = closure(e.txid, children.__getitem__)
        assert pool.ancestors(e.txid) == anc and pool.descendants(e.txid) == desc
        stats = pool.package_stats(e.txid)
        assert stats.ancestor_count == 1 + len(anc)
        assert stats.ancestor_size == e.size + sum(by_txid[t].size for t in anc)
        assert stats.ancestor_fees == e.fee + sum(by_txid[t].fee for t in anc)
        assert stats.descendant_count == 1 + len(desc)
        assert stats.descendant_size == e.size + sum(by_txid[t].size for t in desc)
        assert stats.descendant_fees == e.fee + sum(by_txid[t].fee for t in desc)


def test_random_workload_keeps_indexes_exact(chain, clock):
    import random

    rng = random.Random(7)
    chain.mine_empty(20)  # coinbases 1..31 mature
    pool = make_pool(chain, clock, Policy(max_mempool_bytes=40 * TX_SIZE, max_ancestors=4))
    known = {chain.coinbase_utxo(h).outpoint_key: chain.coinbase_utxo(h) for h in range(1, 32)}
    outcomes: dict[str, int] = {}
    conflicts = 0
    for step in range(400):
        clock.now += 1800
        spendable = [u for k, u in known.items() if pool.get_coin(k) is not None]
        if step % 15 == 14:  # mine a template, sometimes with a conflicting tx in it
            picked = [t for t, _ in pool.select_for_block(rng.randrange(0, 20 * TX_SIZE))]
            taken = {i.outpoint_key for t in picked for i in t.inputs}
            rivals = [  # confirmed coins a mempool tx left out of the block spends
                u
                for k, u in known.items()
                if k not in taken and pool.spender_of(k) and chain.view.get_coin(k)
            ]
            if rivals and rng.random() < 0.7:
                picked.append(pay(rng.choice(rivals), fee=rng.randrange(200, 5000), to=ALICE))
            conflicts += len(pool.remove_for_block(chain.mine(picked)))
        elif spendable:
            inputs = rng.sample(spendable, min(len(spendable), rng.choice((1, 1, 2))))
            total = sum(u.value for u in inputs)
            fee = rng.randrange(150, 8000) * len(inputs)
            n_out = rng.choice((1, 2, 3))
            outs = [((total - fee) // n_out, ALICE.lock)] * n_out
            tx = spend(inputs, outs)
            try:
                pool.accept(tx)
                outcome = "accepted"
            except (PolicyError, RuleError) as exc:
                outcome = str(exc.code)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            for n in range(n_out):
                known[outpoint_key(tx.txid, n)] = chain.utxo(tx, n, ALICE)
        assert_consistent(pool)
    assert outcomes["accepted"] > 100 and conflicts > 0
    assert {"mempool full", "too-long-mempool-chain"} <= set(outcomes)
    # Everything left still makes a valid block, and a reorg back keeps it consistent.
    block = chain.build([t for t, _ in pool.select_for_block(1_000_000)])
    chain.connect(block)
    pool.remove_for_block(block)
    assert_consistent(pool)
    pool.readd_disconnected(disconnect_tip(chain).txs)
    assert_consistent(pool)


def _fund_policy(chain: ChainBuilder, policy) -> tuple[Tx, bytes]:
    """Mine a coin locked to ``policy``; (the funding tx, the policy's encoding)."""
    data = encode_policy(policy)
    fund = spend([chain.coinbase_utxo(1)], [(COIN, policy_lock(data))])
    chain.mine([fund])
    return fund, data


def _policy_spend(fund: Tx, data: bytes, make_sat, to=BOB) -> Tx:
    lock = fund.outputs[0].lock
    tx = policy_tx([(fund.txid, 0, data)], [(COIN - 10_000, to.lock)])
    sat = make_sat(lambda k: sign_input(tx, 0, k, COIN, lock))
    return with_sigs(tx, {0: encode_satisfaction(sat)})


def test_policy_spend_accepted_and_counted(chain: ChainBuilder, clock: FakeClock) -> None:
    fund, data = _fund_policy(chain, Thresh(2, (pk(ALICE), pk(BOB), pk(CAROL))))
    pool = make_pool(chain, clock)
    tx = _policy_spend(fund, data, lambda s: [s(ALICE), None, s(CAROL)])
    pool.accept(tx)
    assert pool.select_for_block(10_000, max_sigchecks=1) == []
    assert [t for t, _ in pool.select_for_block(10_000, max_sigchecks=2)] == [tx]


@pytest.mark.parametrize(
    ("policy", "make_sat"),
    [
        (Thresh(2, (pk(ALICE), pk(ALICE))), lambda s: [s(ALICE), s(ALICE)]),
        (Thresh(1, (pk(ALICE), After(5))), lambda s: [None, True]),
    ],
    ids=["key-twice", "no-signature"],
)
def test_insane_policy_valid_but_not_standard(
    chain: ChainBuilder, clock: FakeClock, policy, make_sat
) -> None:
    fund, data = _fund_policy(chain, policy)
    pool = make_pool(chain, clock)
    tx = _policy_spend(fund, data, make_sat)
    if policy.k == 1:
        tx = Tx(tx.version, tx.inputs, tx.outputs, 5)
        tx = with_sigs(tx, {0: encode_satisfaction([None, True])})
    rejects(PolicyCode.NONSTANDARD_POLICY, pool.accept, tx)
    chain.mine([tx])  # valid in a block all the same
