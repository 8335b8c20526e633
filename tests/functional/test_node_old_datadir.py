"""A datadir made before policy locks and the address totals (commit cf86a76: schema 1)
opens with this code, moves its blocks to height-ordered keys, keeps its chain, coins and
wallet, and goes on validating blocks, policy spends included. The archive holds what
that node wrote after 111 blocks, three wallet payments and one unconfirmed one, stopped
cleanly (its debug log and LOCK left out).
"""

from __future__ import annotations

import tarfile
from decimal import Decimal
from pathlib import Path

import pytest

from . import framework

ARCHIVE = Path(__file__).parent / "data" / "regtest-datadir-cf86a76.tar.gz"
TIP = "3319d0dd8f76a2d2a576edf442dacaecfefb8f70a13f577e5fad7e36de2e15e9"
MINER = "obrt1p0nz3hlcrsd2j6dd6ruqcaqx9m7220mlrscca9s"  # every coinbase of that chain
UNCONFIRMED = "43fd5e11a24590d199256bbe44d803fa7c99901c6556d031c2d17cda917189a6"
COINS_HASH = "355a8570c63ef78a576b41996b67eb1eeb598265e4983b9d1c0bed0f678ece84"


@pytest.fixture
def old_node(tmp_path: Path):
    node = framework.TestNode(0, tmp_path)
    node.datadir.mkdir()
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(node.datadir, filter="data")
    node.start()
    try:
        yield node
    finally:
        node.stop()


def test_an_old_datadir_opens_and_keeps_validating(old_node: framework.TestNode) -> None:
    node = old_node
    assert node.call("getbestblockhash", []) == TIP
    log = (node.netdir / "debug.log").read_text()
    assert "upgrading the address index of 111 blocks (once)" in log
    # 112 bodies and 111 blocks' undo data, keyed by hash alone in schema 1
    assert "moved 223 block and undo records; dropped 0 naming no height" in log
    mined = node.call("getaddressbalance", [MINER])
    # 111 coinbases (the last with the fees of two payments), which paid those two
    assert (mined["received"], mined["txcount"]) == (Decimal("5550.00004020"), 113)
    info = node.call("gettxoutsetinfo", [])
    assert (info["height"], info["txouts"], info["hash_serialized_3"]) == (111, 113, COINS_HASH)
    assert info["total_amount"] == Decimal("5550.00000000")
    assert node.call("verifychain", [4, 0]) is True
    assert node.call("getrawmempool", []) == [UNCONFIRMED]
    before = node.call("getbalances", [])["mine"]
    assert before["trusted"] + before["immature"] == Decimal("5549.99998000")

    keys = [node.call("getaddressinfo", [node.call("getnewaddress", [])]) for _ in range(2)]
    made = node.call("createmultisig", [1, [k["pubkey"] for k in keys]])
    funding = node.call("sendtoaddress", [made["address"], 7])
    miner = node.call("getnewaddress", [])
    (block,) = node.call("generatetoaddress", [1, miner])
    assert funding in node.call("getblock", [block])["tx"]
    assert node.call("getaddressbalance", [made["address"]])["balance"] == Decimal("7.00000000")

    node.restart()
    assert node.call("getblockcount", []) == 112
    assert node.call("getbestblockhash", []) == block
    assert node.call("verifychain", [4, 0]) is True
