"""Block bodies and undo data are keyed by height, then hash: LevelDB keeps them in chain
order. A datadir of schema 1 or 2 keyed them by hash alone; opening it moves every record
to its height key, whole records per batch, so a move cut short finishes on the next
start."""

from __future__ import annotations

import logging
from pathlib import Path

import plyvel
import pytest

from consensus.params import REGTEST
from node.chain.manager import Chain
from node.chain.storage import SCHEMA_VERSION, ChainDB
from tests.chain_helpers import ChainBuilder, spend

BUILT = ChainBuilder()
BUILT.mine_empty(REGTEST.coinbase_maturity + 1)
BUILT.mine([spend([BUILT.coinbase_utxo(1)], [(1_000_000, BUILT.miner.lock)] * 3)])
BUILT.mine_empty(4)
HEIGHT = BUILT.height


@pytest.fixture
def synced(tmp_path: Path) -> str:
    """A database holding BUILT's chain, closed."""
    path = str(tmp_path / "db")
    db = ChainDB(path, "regtest")
    Chain(db, REGTEST).process_blocks(BUILT.blocks[1:])
    db.close()
    return path


def records(path: str, prefix: bytes) -> list[tuple[bytes, bytes]]:
    with plyvel.DB(path) as raw:
        return list(raw.iterator(prefix=prefix))


def hash_keyed(path: str, schema: bytes, keep: int = 0) -> dict[bytes, bytes]:
    """Give the database schema ``schema``'s layout: every body and undo record but the
    first ``keep`` of each keyed by hash alone. The records as they were, by height key."""
    before = {}
    with plyvel.DB(path) as raw, raw.write_batch() as wb:
        for prefix in (b"b", b"u"):
            for n, (k, v) in enumerate(raw.iterator(prefix=prefix)):
                before[k] = v
                if n >= keep:
                    wb.delete(k)
                    wb.put(prefix + k[5:], v)
        wb.put(b"mschema", schema)
    return before


def test_bodies_and_undo_are_stored_in_chain_order(synced: str) -> None:
    bodies = records(synced, b"b")
    assert [k[1:5] for k, _ in bodies] == [h.to_bytes(4, "big") for h in range(HEIGHT + 1)]
    assert [k[5:] for k, _ in bodies] == [b.hash for b in BUILT.blocks]
    assert [v for _, v in bodies] == [b.serialize() for b in BUILT.blocks]
    # undo data for every connected block, genesis excepted
    assert [k[1:] for k, _ in records(synced, b"u")] == [
        h.to_bytes(4, "big") + BUILT.blocks[h].hash for h in range(1, HEIGHT + 1)
    ]


@pytest.mark.parametrize("schema", [b"2", b"1"])
@pytest.mark.parametrize("keep", [0, 40], ids=["whole", "cut-short"])
def test_an_older_datadir_moves_its_blocks_when_opened(synced, schema, keep, caplog) -> None:
    before = hash_keyed(synced, schema, keep)
    with caplog.at_level(logging.INFO, "obol.storage"):
        db = ChainDB(synced, "regtest")
    try:
        assert db.needs_migration is (schema == b"1")  # schema 1 lacks the address totals
        chain = Chain(db, REGTEST)
        assert chain.tip.hash == BUILT.tip.hash
        assert chain.verify(4, 0) == ""
        assert db.block(HEIGHT - 4, BUILT.blocks[-5].hash) == BUILT.blocks[-5]
        assert db.undo(HEIGHT - 4, BUILT.blocks[-5].hash) == BUILT.undos[-5]
    finally:
        db.close()
    assert dict(records(synced, b"b") + records(synced, b"u")) == before
    with plyvel.DB(synced) as raw:
        assert raw.get(b"mschema") == str(SCHEMA_VERSION).encode()
    moved = 2 * (HEIGHT + 1) - 1 - 2 * keep
    assert f"moved {moved} block and undo records; dropped 0 naming no height" in caplog.text


def test_a_body_without_index_record_moves_to_the_height_its_coinbase_claims(synced) -> None:
    lost = BUILT.blocks[7]
    before = hash_keyed(synced, b"2")
    with plyvel.DB(synced) as raw:
        raw.delete(b"h" + lost.hash)  # as --repair may leave it
        raw.put(b"b" + bytes(32), b"\x92\xc4\x50garbage")  # undecodable: nowhere to go
    ChainDB(synced, "regtest").close()
    after = dict(records(synced, b"b") + records(synced, b"u"))
    # the body at the height its coinbase names; its undo data, with no height, dropped
    assert after[b"b" + (7).to_bytes(4, "big") + lost.hash] == lost.serialize()
    assert b"u" + (7).to_bytes(4, "big") + lost.hash not in after
    assert len(after) == len(before) - 1
    assert all(len(k) == 1 + 4 + 32 for k in after)


def test_a_tx_is_read_through_its_blocks_index_record(synced) -> None:
    height = REGTEST.coinbase_maturity + 2
    block = BUILT.blocks[height]
    db = ChainDB(synced, "regtest")
    try:
        assert db.height_of(block.hash) == height
        assert db.tx(block.txs[1].txid) == block.txs[1]
        assert db.height_of(bytes(32)) is None
        assert db.tx(bytes(32)) is None
    finally:
        db.close()
