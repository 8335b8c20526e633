"""plan_downloads: which bodies to ask each peer for, lowest first, each from one peer."""

from __future__ import annotations

import pytest

from consensus.params import REGTEST
from node.chain.index import FAILED, HAVE_DATA
from node.chain.manager import Chain
from node.chain.storage import ChainDB
from p2p.sync import plan_downloads
from tests.chain_helpers import ChainBuilder


@pytest.fixture(scope="module")
def headers_only(tmp_path_factory):
    """A chain of 300 indexed headers above genesis, no bodies; the index entries."""
    db = ChainDB(str(tmp_path_factory.mktemp("plan") / "db"), "regtest")
    chain = Chain(db, REGTEST)
    builder = ChainBuilder()
    builder.mine_empty(300)
    entries = [chain.index[builder.blocks[0].hash]]
    entries += [chain.accept_header(b.header) for b in builder.blocks[1:]]
    yield chain, entries
    db.close()


@pytest.fixture
def chain(headers_only):
    chain, entries = headers_only
    for entry in entries[1:]:
        entry.status = 0
    return chain, entries


def test_lowest_missing_bodies_first_skipping_stored_and_taken(chain) -> None:
    chain, entries = chain
    best = entries[-1]
    for height in (1, 2, 3, 64, 65):  # stored bodies, across a step of the walk
        entries[height].status |= HAVE_DATA
    taken = frozenset(entries[h].hash for h in (4, 66))
    [(peer, fork_height, hashes)] = plan_downloads(chain, [(7, best, 63)], taken, 1024)
    expected = [h for h in range(5, 71) if h not in (64, 65, 66)][:63]
    assert (peer, fork_height) == (7, 0)
    assert hashes == [entries[h].hash for h in expected]


def test_each_body_goes_to_one_peer_within_the_window(chain) -> None:
    chain, entries = chain
    plan = plan_downloads(chain, [(1, entries[-1], 16), (2, entries[-1], 16)], frozenset(), 20)
    assert [p for p, _, _ in plan] == [1, 2]
    assert plan[0][2] == [entries[h].hash for h in range(1, 17)]
    assert plan[1][2] == [entries[h].hash for h in range(17, 21)]  # the window ends at 20


def test_a_failed_block_ends_the_walk(chain) -> None:
    chain, entries = chain
    entries[130].status |= FAILED
    [(_, _, hashes)] = plan_downloads(chain, [(1, entries[-1], 500)], frozenset(), 1024)
    assert hashes == [entries[h].hash for h in range(1, 130)]


def test_a_peer_without_more_work_gets_nothing(chain) -> None:
    chain, entries = chain
    assert plan_downloads(chain, [(1, entries[0], 16)], frozenset(), 1024) == [(1, 0, [])]
