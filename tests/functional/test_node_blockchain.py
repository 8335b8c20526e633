"""A single regtest node: mining, chain queries with Bitcoin Core's field names, raw txs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consensus.address import encode_address
from consensus.params import REGTEST
from tests.chain_helpers import Utxo, key, spend

from .framework import assert_raises_rpc_error

MINER = key(100)
MINER_ADDR = encode_address(MINER.lock, REGTEST)
OTHER = key(101)


def coinbase_utxo(node, height: int) -> Utxo:
    block = node.rpc.getblock(node.rpc.getblockhash(height), 2)
    cb = block["tx"][0]
    value = int(Decimal(cb["vout"][0]["value"]) * 10**8)
    return Utxo(bytes.fromhex(cb["txid"])[::-1], 0, value, MINER)


@pytest.fixture
def node(start_nodes):
    (n,) = start_nodes(1, [["--no-wallet"]])
    hashes = n.rpc.generatetoaddress(200, MINER_ADDR)
    assert len(hashes) == 200
    return n


def test_chain_queries_use_core_field_names(node):
    info = node.rpc.getblockchaininfo()
    assert info["chain"] == "regtest"
    assert info["blocks"] == 200
    assert info["headers"] == 200
    assert info["bestblockhash"] == node.rpc.getbestblockhash()
    assert {"difficulty", "mediantime", "chainwork", "verificationprogress"} <= info.keys()
    assert node.rpc.getblockcount() == 200

    best = node.rpc.getbestblockhash()
    assert node.rpc.getblockhash(200) == best
    block1 = node.rpc.getblock(best)
    assert block1["height"] == 200
    assert block1["confirmations"] == 1
    assert block1["nTx"] == 1
    assert len(block1["tx"]) == 1 and isinstance(block1["tx"][0], str)
    assert block1["previousblockhash"] == node.rpc.getblockhash(199)
    for field in ("hash", "merkleroot", "time", "mediantime", "nonce", "bits", "size", "version"):
        assert field in block1

    raw = node.rpc.getblock(best, 0)
    assert isinstance(raw, str) and len(raw) // 2 == block1["size"]

    block2 = node.rpc.getblock(best, 2)
    cb = block2["tx"][0]
    assert cb["vin"][0]["height"] == 200
    assert cb["vout"][0]["value"] == Decimal("50.00000000") / 2  # halved at 150 on regtest
    assert cb["vout"][0]["scriptPubKey"]["address"] == MINER_ADDR

    header = node.rpc.getblockheader(node.rpc.getblockhash(100))
    assert header["height"] == 100
    assert header["confirmations"] == 101
    assert header["nextblockhash"] == node.rpc.getblockhash(101)
    assert len(node.rpc.getblockheader(best, False)) == 160

    tips = node.rpc.getchaintips()
    assert tips == [{"height": 200, "hash": best, "branchlen": 0, "status": "active"}]

    txout = node.rpc.gettxout(cb["txid"], 0)
    assert txout["confirmations"] == 1
    assert txout["value"] == Decimal("25.00000000")
    assert txout["coinbase"] is True
    assert txout["bestblock"] == best
    assert node.rpc.gettxout(cb["txid"], 1) is None

    stats = node.rpc.gettxoutsetinfo()
    assert stats["height"] == 200
    assert stats["txouts"] == 200
    assert stats["total_amount"] == Decimal(149 * 50 + 51 * 25)
    assert len(stats["hash_serialized_3"]) == 64
    muhash = node.rpc.gettxoutsetinfo("muhash")
    assert {k: muhash[k] for k in ("height", "txouts", "total_amount", "bestblock")} == {
        k: stats[k] for k in ("height", "txouts", "total_amount", "bestblock")
    }
    assert len(muhash["muhash"]) == 64 and "hash_serialized_3" not in muhash
    assert "hash_serialized_3" not in node.rpc.gettxoutsetinfo("none")
    assert_raises_rpc_error(-8, None, node.rpc.gettxoutsetinfo, "sha1")

    raw_tx = node.rpc.getrawtransaction(cb["txid"])
    verbose = node.rpc.getrawtransaction(cb["txid"], True)
    assert verbose["blockhash"] == best and verbose["confirmations"] == 1
    assert verbose["hex"] == raw_tx
    decoded = node.rpc.decoderawtransaction(raw_tx)
    assert decoded["txid"] == cb["txid"]
    assert decoded["vout"] == cb["vout"]

    assert_raises_rpc_error(-8, None, node.rpc.getblockhash, 201)
    assert_raises_rpc_error(-5, None, node.rpc.getblock, "00" * 32)
    assert_raises_rpc_error(-8, None, node.rpc.getblock, "xyz")


def test_raw_transactions_through_the_mempool(node):
    utxo = coinbase_utxo(node, 1)
    tx = spend([utxo], [(10 * 10**8, OTHER.lock), (utxo.value - 10 * 10**8 - 10_000, MINER.lock)])
    raw = tx.serialize().hex()

    accept = node.rpc.testmempoolaccept([raw])
    assert accept[0]["allowed"] is True
    assert accept[0]["txid"] == tx.txid_hex
    assert node.rpc.getrawmempool() == []

    assert node.rpc.sendrawtransaction(raw) == tx.txid_hex
    assert node.rpc.getrawmempool() == [tx.txid_hex]
    entry = node.rpc.getmempoolentry(tx.txid_hex)
    assert entry["fees"]["base"] == Decimal("0.00010000")
    assert node.rpc.getmempoolinfo()["size"] == 1

    # a double spend of the same coin
    double = spend([utxo], [(utxo.value - 20_000, OTHER.lock)])
    accept = node.rpc.testmempoolaccept([double.serialize().hex()])
    assert accept[0] == {
        "txid": double.txid_hex,
        "wtxid": accept[0]["wtxid"],
        "allowed": False,
        "reject-reason": "txn-mempool-conflict",
    }
    err = assert_raises_rpc_error(-26, None, node.rpc.sendrawtransaction, double.serialize().hex())
    assert err.message.startswith("txn-mempool-conflict")

    # an immature coinbase (height 150 is 51 deep at height 200)
    immature = coinbase_utxo(node, 150)
    young = spend([immature], [(immature.value - 10_000, OTHER.lock)])
    err = assert_raises_rpc_error(-26, None, node.rpc.sendrawtransaction, young.serialize().hex())
    assert err.message.startswith("bad-txns-premature-spend-of-coinbase")

    # a fee below the minimum relay fee
    cheap = spend([coinbase_utxo(node, 2)], [(coinbase_utxo(node, 2).value - 1, OTHER.lock)])
    err = assert_raises_rpc_error(-26, None, node.rpc.sendrawtransaction, cheap.serialize().hex())
    assert err.message.startswith("min relay fee not met")

    for garbage in ("zz", "00", "deadbeef"):
        assert_raises_rpc_error(-22, None, node.rpc.sendrawtransaction, garbage)

    (mined,) = node.rpc.generatetoaddress(1, MINER_ADDR)
    block = node.rpc.getblock(mined)
    assert tx.txid_hex in block["tx"]
    assert node.rpc.getrawmempool() == []
    assert node.rpc.gettxout(tx.txid_hex, 0)["value"] == Decimal("10.00000000")
    assert_raises_rpc_error(-27, None, node.rpc.sendrawtransaction, raw)
