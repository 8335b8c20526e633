"""Crash safety the way Bitcoin Core's feature_dbcrash tests it.

The node is killed with SIGKILL at random moments while it mines, reorganizes and accepts
transactions, again and again. Every restart must open without repair, keep everything it
acknowledged to an RPC caller, and hold exactly the coin set of a reference node that was
fed the same blocks.
"""

from __future__ import annotations

import random
import threading

import pytest

from consensus.address import encode_address
from consensus.params import REGTEST
from tests.chain_helpers import spend

from .framework import NodeDied, RpcFailure
from .test_node_blockchain import MINER_ADDR, OTHER, coinbase_utxo


class Acknowledged:
    def __init__(self) -> None:
        self.blocks: set[str] = set()
        self.txs: set[str] = set()
        self.invalidated: set[str] = set()

    def check(self, node, blocks: set[str], txs: set[str]) -> None:
        for block_hash in blocks:
            assert node.rpc.getblockheader(block_hash)["hash"] == block_hash
        mempool = set(node.rpc.getrawmempool())
        for txid in txs - mempool:
            assert node.rpc.getrawtransaction(txid, True)["confirmations"] >= 1


def _work(node, rng: random.Random, ack: Acknowledged, next_coin: list[int]) -> None:
    """One random operation; whatever returns before the kill counts as acknowledged."""
    op = rng.choice(["mine", "mine", "txs", "reorg"])
    if op == "mine":
        ack.blocks.update(node.rpc.generatetoaddress(rng.randint(1, 6), MINER_ADDR))
    elif op == "txs":
        for _ in range(rng.randint(1, 4)):
            utxo = coinbase_utxo(node, next_coin[0])
            next_coin[0] += 1
            tx = spend([utxo], [(utxo.value - 10_000, OTHER.lock)])
            ack.txs.add(node.rpc.sendrawtransaction(tx.serialize().hex()))
    else:
        height = node.rpc.getblockcount()
        target = node.rpc.getblockhash(height - 2)
        ack.invalidated.add(target)
        node.rpc.invalidateblock(target)
        ack.blocks.update(node.rpc.generatetoaddress(4, MINER_ADDR))
        node.rpc.reconsiderblock(target)
        ack.invalidated.discard(target)


def _address_view(node, address: str) -> tuple[dict, list[dict]]:
    """The confirmed part of an address's balance and of its whole history, page by page
    (the first page leads with the mempool's txs, fewer than a page here)."""
    got = node.rpc.getaddressbalance(address)
    del got["unconfirmed"]
    rows: list[dict] = []
    page = node.rpc.getaddresshistory(address, 500)
    while page:
        rows += [row for row in page if row["height"] is not None]
        page = node.rpc.getaddresshistory(address, 500, rows[-1]["txid"])
    return got, rows


def _kill_later(node, delay: float) -> threading.Timer:
    timer = threading.Timer(delay, lambda: node.process and node.process.kill())
    timer.start()
    return timer


@pytest.mark.parametrize("kills", [6, pytest.param(24, marks=pytest.mark.slow)])
def test_sigkill_at_random_moments_loses_nothing(start_nodes, kills):
    crasher, reference = start_nodes(2, [["--no-wallet"], ["--no-wallet"]])
    rng = random.Random(20261128)
    print(f"crash test seed 20261128, {kills} kills")
    crasher.rpc.generatetoaddress(110, MINER_ADDR)
    ack = Acknowledged()
    next_coin = [1]

    for _ in range(kills):
        before_blocks, before_txs = set(ack.blocks), set(ack.txs)
        timer = _kill_later(crasher, rng.uniform(0.0, 0.6))
        try:
            while True:
                _work(crasher, rng, ack, next_coin)
        except (OSError, RpcFailure, NodeDied):
            pass
        finally:
            timer.join()
        crasher.kill()  # reaps the killed process (or finds it already gone)
        crasher.start()  # must open without any repair step

        # a kill between invalidate and reconsider leaves the mark: clear it, as a user would
        for block_hash in list(ack.invalidated):
            crasher.rpc.reconsiderblock(block_hash)
            ack.invalidated.discard(block_hash)
        # what was acknowledged just before this kill survived it
        ack.check(crasher, ack.blocks - before_blocks, ack.txs - before_txs)

    ack.check(crasher, ack.blocks, ack.txs)

    # feed the reference node the crasher's active chain and compare coin sets
    height = crasher.rpc.getblockcount()
    for h in range(1, height + 1):
        block_hex = crasher.rpc.getblock(crasher.rpc.getblockhash(h), 0)
        assert reference.rpc.submitblock(block_hex) in (None, "duplicate")
    assert reference.rpc.getbestblockhash() == crasher.rpc.getbestblockhash()
    ours = crasher.rpc.gettxoutsetinfo()
    theirs = reference.rpc.gettxoutsetinfo()
    assert ours["hash_serialized_3"] == theirs["hash_serialized_3"]
    assert ours["txouts"] == theirs["txouts"]
    assert ours["height"] == height
    assert crasher.rpc.gettxoutsetinfo("muhash") == reference.rpc.gettxoutsetinfo("muhash")
    for address in (MINER_ADDR, encode_address(OTHER.lock, REGTEST)):
        view = _address_view(crasher, address)
        assert view[1] and view == _address_view(reference, address)
    if not ack.blocks or not ack.txs:
        pytest.fail("the random schedule acknowledged no blocks or no txs: nothing was tested")
