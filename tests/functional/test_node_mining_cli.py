"""Mining RPCs for outside miners, mock time, the obol rpc command and debug.log."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from consensus.builder import make_block, make_coinbase
from consensus.hashing import hex_to_hash
from consensus.primitives import TxOut
from tests.chain_helpers import spend

from .framework import ROOT, assert_raises_rpc_error, free_port
from .test_node_blockchain import MINER, MINER_ADDR, OTHER, coinbase_utxo


@pytest.fixture
def node(start_nodes):
    (n,) = start_nodes(1, [["--no-wallet"]])
    n.rpc.generatetoaddress(101, MINER_ADDR)
    return n


def obol_rpc(node, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "node.cli",
            "rpc",
            "--datadir",
            str(node.datadir),
            "--rpc-port",
            str(node.rpc_port),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_template_submitblock_and_generateblock(node):
    utxo = coinbase_utxo(node, 1)
    tx = spend([utxo], [(utxo.value - 5_000, OTHER.lock)])
    node.rpc.sendrawtransaction(tx.serialize().hex())

    template = node.rpc.getblocktemplate()
    assert template["height"] == 102
    assert [t["txid"] for t in template["transactions"]] == [tx.txid_hex]
    assert template["coinbasevalue"] == 50 * 10**8 + 5_000
    coinbase = make_coinbase(102, [TxOut(template["coinbasevalue"], MINER.lock)], b"outside")
    block = make_block(
        hex_to_hash(template["previousblockhash"]),
        [coinbase, tx],
        template["curtime"],
        int(template["bits"], 16),
    )
    assert node.rpc.submitblock(block.serialize().hex()) is None
    assert node.rpc.getbestblockhash() == block.hash_hex
    assert node.rpc.submitblock(block.serialize().hex()) == "duplicate"
    greedy = make_block(
        block.hash,
        [make_coinbase(103, [TxOut(50 * 10**8 + 1, MINER.lock)])],
        template["curtime"] + 1,
        int(template["bits"], 16),
    )
    assert node.rpc.submitblock(greedy.serialize().hex()) == "bad-cb-amount"
    unknown_parent = make_block(
        bytes(range(32)),
        [make_coinbase(103, [TxOut(1, MINER.lock)])],
        template["curtime"] + 1,
        int(template["bits"], 16),
    )
    assert node.rpc.submitblock(unknown_parent.serialize().hex()) == "prev-blk-not-found"
    assert_raises_rpc_error(-22, None, node.rpc.submitblock, "00")

    utxo2 = coinbase_utxo(node, 2)
    tx2 = spend([utxo2], [(utxo2.value - 5_000, OTHER.lock)])
    made = node.rpc.generateblock(MINER_ADDR, [tx2.serialize().hex()])
    assert tx2.txid_hex in node.rpc.getblock(made["hash"])["tx"]
    info = node.rpc.getmininginfo()
    assert info["blocks"] == 103
    assert info["chain"] == "regtest"


def test_setmocktime_moves_block_times(node):
    future = node.rpc.getblockheader(node.rpc.getbestblockhash())["time"] + 10_000
    node.rpc.setmocktime(future)
    (h,) = node.rpc.generatetoaddress(1, MINER_ADDR)
    assert node.rpc.getblockheader(h)["time"] == future
    node.rpc.setmocktime(0)
    assert_raises_rpc_error(-8, None, node.rpc.setmocktime, -1)


def test_obol_rpc_command_like_bitcoin_cli(node):
    done = obol_rpc(node, "getblockcount")
    assert done.returncode == 0
    assert done.stdout.strip() == "101"
    done = obol_rpc(node, "getblockheader", node.rpc.getblockhash(1))
    header = json.loads(done.stdout)
    assert header["height"] == 1
    done = obol_rpc(node, "getblock", node.rpc.getblockhash(1), "2")
    assert '"value": 50.00000000' in done.stdout
    done = obol_rpc(node, "getblockhash", "999")
    assert done.returncode == 1
    assert done.stderr == "error: error code: -8\nerror message:\nBlock height out of range\n"
    assert obol_rpc(node, "createwallet", "w").returncode == 0
    assert obol_rpc(node, "-rpcwallet=w", "getbalance").stdout == "0.00000000\n"
    done = obol_rpc(node, "-rpcwallet=nosuch", "getbalance")
    assert done.stderr.startswith("error: error code: -18\n")
    done = obol_rpc(node, "--network", "devnet", "getblockcount")
    assert "a regtest node is running here: add --network regtest" in done.stderr
    port = free_port()  # from this worker's own range: no other test's node takes it
    done = obol_rpc(node, "--rpc-port", str(port), "getblockcount")
    assert done.stderr.startswith(f"error: nothing is listening on port {port} of 127.0.0.1")
    done = obol_rpc(node, "nosuchmethod")
    assert done.returncode == 1
    assert "Method not found" in done.stderr
    assert done.stderr.splitlines()[:2] == ["error: error code: -32601", "error message:"]
    # bitcoin-cli's -named and -rpcwallet
    done = obol_rpc(node, "-named", "getblockhash", "height=1")
    assert done.stdout.strip() == node.rpc.getblockhash(1)
    done = obol_rpc(node, "-named", "getblockhash", "1")
    assert done.returncode == 1 and "NAME=VALUE" in done.stderr
    done = obol_rpc(node, "-rpcwallet=nosuch", "getwalletinfo")
    assert done.returncode == 1 and "error code: -18" in done.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "node.cli",
            "rpc",
            "--datadir",
            "/nonexistent",
            "getblockcount",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: no cookie file")


def test_debug_log_lines(start_nodes):
    (node,) = start_nodes(1, [["--no-wallet", "--debug"]])
    node.rpc.generatetoaddress(101, MINER_ADDR)
    utxo = coinbase_utxo(node, 1)
    good = spend([utxo], [(utxo.value - 5_000, OTHER.lock)])
    node.rpc.sendrawtransaction(good.serialize().hex())
    cheap = spend([coinbase_utxo(node, 2)], [(coinbase_utxo(node, 2).value, OTHER.lock)])
    assert_raises_rpc_error(
        -26, "min relay fee not met", node.rpc.sendrawtransaction, cheap.serialize().hex()
    )
    (h,) = node.rpc.generatetoaddress(1, MINER_ADDR)
    node.rpc.invalidateblock(h)
    log = (node.netdir / "debug.log").read_text()
    assert f"UpdateTip: height=102 hash={h} txs=2 ms=" in log
    assert f"AcceptToMemoryPool: accepted txid={good.txid_hex}" in log
    assert f"AcceptToMemoryPool: rejected txid={cheap.txid_hex} reason=min relay fee not met" in log
    assert "Reorg: depth=1" in log
    assert Decimal(node.rpc.getmempoolentry(good.txid_hex)["fees"]["base"]) == Decimal("0.00005")


def test_mempool_acceptance_logged_only_with_debug(node):
    """As Core's -debug=mempool: one line per tx costs the mempool too much by default."""
    utxo = coinbase_utxo(node, 1)
    tx = spend([utxo], [(utxo.value - 5_000, OTHER.lock)])
    node.rpc.sendrawtransaction(tx.serialize().hex())
    node.rpc.generatetoaddress(1, MINER_ADDR)
    log = (node.netdir / "debug.log").read_text()
    assert "UpdateTip: height=102" in log
    assert "AcceptToMemoryPool" not in log
