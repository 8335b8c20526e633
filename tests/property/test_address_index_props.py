"""The address index (unspent coins, history with amounts, running totals per lock) and
the coin set stats (MuHash3072, count, total) agree with a brute-force scan of the coin
set and of the chain, on random chains fed to the node's chain manager in pipelined runs,
across reorgs, and after a schema-1 datadir is migrated."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import plyvel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.params import REGTEST
from node.chain import storage as storage_module
from node.chain.manager import Chain
from node.chain.storage import AddressTotals, ChainDB, HistoryRow
from node.wallets.manager import WalletManager, WalletTx
from tests.chain_helpers import ChainBuilder, Utxo, key, spend

KEYS = [key(n) for n in range(1, 6)]
BY_LOCK = {k.lock: k for k in KEYS}
PREFIX = ChainBuilder()
PREFIX.mine_empty(REGTEST.coinbase_maturity + 1)
PREFIX.mine([spend([PREFIX.coinbase_utxo(1)], [(40_000_000, KEYS[n % 5].lock) for n in range(24)])])


def copy_of(builder: ChainBuilder, height: int) -> ChainBuilder:
    other = ChainBuilder()
    for block in builder.blocks[1 : height + 1]:
        other.connect(block)
    return other


def random_block(builder: ChainBuilder, rng: random.Random) -> None:
    coins = [
        Utxo(k[:32], int.from_bytes(k[32:], "little"), c.value, BY_LOCK[c.lock])
        for k, c in sorted(builder.view.coins.items())
        if c.lock in BY_LOCK and not c.coinbase
    ]
    rng.shuffle(coins)
    txs = []
    for _ in range(rng.randint(0, 3)):
        picked = [coins.pop() for _ in range(min(len(coins), rng.randint(1, 2)))]
        if not picked:
            break
        total = sum(u.value for u in picked) - 1000
        outs = [(total // 2, rng.choice(KEYS).lock), (total - total // 2, rng.choice(KEYS).lock)]
        tx = spend(picked, outs)
        txs.append(tx)
        if rng.random() < 0.5:  # spent again in the same block
            coins.append(builder.utxo(tx, 0, BY_LOCK[outs[0][1]]))
    builder.mine(txs, miner=rng.choice([*KEYS, key(0)]))


def expected(builder: ChainBuilder, lock: bytes) -> tuple[AddressTotals, list[HistoryRow]]:
    rows = []
    for height in range(1, builder.height + 1):
        block, undo = builder.blocks[height], builder.undos[height]
        at = 0
        for position, tx in enumerate(block.txs):
            spent = undo[at : at + len(tx.inputs)] if position else ()
            at += len(spent)
            got = sum(o.value for o in tx.outputs if o.lock == lock)
            gave = sum(c.value for c in spent if c.lock == lock)
            if any(o.lock == lock for o in tx.outputs) or any(c.lock == lock for c in spent):
                rows.append(HistoryRow(height, position, tx.txid, got, gave))
    coins = [c for c in builder.view.coins.values() if c.lock == lock]
    totals = AddressTotals(
        sum(c.value for c in coins), sum(r.received for r in rows), len(rows), len(coins)
    )
    return totals, rows[::-1]


def check(db: ChainDB, builder: ChainBuilder) -> None:
    running, scanned = db.coin_stats(), db.scan_coin_stats()
    assert running.muhash.digest() == scanned.muhash.digest()
    assert (running.txouts, running.total_amount) == (scanned.txouts, scanned.total_amount)
    assert running.txouts == len(builder.view.coins)
    for lock in [*BY_LOCK, key(0).lock]:
        totals, rows = expected(builder, lock)
        assert db.address_totals(lock) == totals
        assert sorted(k for k, _ in db.address_coins(lock)) == sorted(
            k for k, c in builder.view.coins.items() if c.lock == lock
        )
        pages, before = [], None
        while page := db.address_history_page(lock, before, 7):
            pages += page
            before = (page[-1].height, page[-1].position)
        assert pages == rows


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32))
def test_index_matches_brute_force_across_reorgs(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    db = ChainDB(str(tmp_path / f"db{seed}"), "regtest")
    try:
        chain = Chain(db, REGTEST)
        chain.process_blocks(PREFIX.blocks[1:])
        main = copy_of(PREFIX, PREFIX.height)
        for _ in range(rng.randint(2, 6)):
            random_block(main, rng)
        chain.process_blocks(main.blocks[PREFIX.height + 1 :])
        check(db, main)
        fork_at = rng.randint(PREFIX.height, main.height - 1)
        side = copy_of(main, fork_at)
        while side.height <= main.height:
            random_block(side, rng)
        chain.process_blocks(side.blocks[fork_at + 1 :])
        assert chain.tip.hash == side.tip.hash
        check(db, side)
    finally:
        db.close()


def downgrade(path: str) -> None:
    """Turn a datadir into what schema 1 wrote: no totals, empty history values, blocks and
    undo data keyed by hash alone."""
    raw = plyvel.DB(path)
    with raw.write_batch() as wb:
        for prefix in (b"b", b"u"):
            for k, v in raw.iterator(prefix=prefix):
                wb.delete(k)
                wb.put(prefix + k[5:], v)
        for k, _ in raw.iterator(prefix=b"t"):
            wb.delete(k)
        for k, _ in raw.iterator(prefix=b"y"):
            wb.put(k, b"")
        wb.delete(b"mcoinstats")
        wb.put(b"mschema", b"1")
    raw.close()


def test_migrated_datadir_answers_as_a_fresh_sync(tmp_path: Path) -> None:
    rng = random.Random(7)
    main = copy_of(PREFIX, PREFIX.height)
    for _ in range(5):
        random_block(main, rng)
    path = str(tmp_path / "db")
    db = ChainDB(path, "regtest")
    Chain(db, REGTEST).process_blocks(main.blocks[1:])
    db.close()
    downgrade(path)
    db = ChainDB(path, "regtest")
    assert db.needs_migration
    Chain(db, REGTEST)
    db.close()
    db = ChainDB(path, "regtest")
    try:
        assert not db.needs_migration
        check(db, main)
    finally:
        db.close()


def history_from_blocks(builder: ChainBuilder, locks: set[bytes]) -> list[WalletTx]:
    """The wallet's confirmed history as it was built before the address index carried
    it: every block decoded, the spent coins from its undo data."""
    out = []
    for height in range(1, builder.height + 1):
        block, undo = builder.blocks[height], builder.undos[height]
        at = 0
        for position, tx in enumerate(block.txs):
            coins = undo[at : at + len(tx.inputs)] if position else ()
            at += len(coins)
            if any(o.lock in locks for o in tx.outputs) or any(c.lock in locks for c in coins):
                spent = tuple((c.value, c.lock) for c in coins) if position else (None,)
                t = block.header.time
                out.append(WalletTx(tx, height, position, block.hash, t, t, spent))
    return out


def test_wallet_history_reads_the_index_not_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(19)
    main = copy_of(PREFIX, PREFIX.height)
    for _ in range(6):
        random_block(main, rng)
    db = ChainDB(str(tmp_path / "db"), "regtest")
    try:
        chain = Chain(db, REGTEST)
        chain.process_blocks(main.blocks[1:])
        node = SimpleNamespace(params=REGTEST, chain=chain, mempool=SimpleNamespace(entries=list))
        manager = WalletManager.__new__(WalletManager)
        manager.node = node
        decoded: list[int] = []
        real_decode = storage_module.decode_block
        monkeypatch.setattr(
            storage_module, "decode_block", lambda raw: decoded.append(1) or real_decode(raw)
        )
        for locks in ({KEYS[0].lock}, {KEYS[1].lock, KEYS[2].lock}, {key(0).lock}):
            assert manager.history(locks) == history_from_blocks(main, locks)
        assert decoded == []
    finally:
        db.close()
