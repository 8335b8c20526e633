"""Partially signed txs across three nodes: a 2-of-3 policy signed on two of them, two
wallets' funded PSBTs joined into one tx, and every kind of bad PSBT refused with nothing
changed. The nodes are started once for the module."""

from __future__ import annotations

import base64
from dataclasses import replace
from decimal import Decimal

import pytest

from consensus.params import DEVNET, REGTEST
from consensus.primitives import Tx, TxOut
from wallet import psbt as P

from . import framework
from .framework import assert_raises_rpc_error, connect_nodes, sync_blocks, sync_mempools
from .wallet_helpers import units


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    with framework.running_nodes(tmp_path_factory.mktemp("psbt"), 3) as started:
        a, b, c = started
        connect_nodes(a, b)
        connect_nodes(b, c)
        a.rpc.generate(101)
        for node in (b, c):
            a.rpc.sendtoaddress(node.rpc.getnewaddress(), 20)
        a.rpc.generate(1)
        sync_blocks(started)
        yield started


def mine(nodes: list[framework.TestNode]) -> str:
    sync_mempools(nodes)
    block = nodes[0].rpc.generate(1)[0]
    sync_blocks(nodes)
    return block


def typed_key(node: framework.TestNode) -> str:
    info = node.rpc.getaddressinfo(node.rpc.getnewaddress())
    assert info["typed_pubkey"] == f"{info['key_type']}:{info['pubkey']}"
    return info["typed_pubkey"]


def vout_of(node: framework.TestNode, txid: str, address: str) -> int:
    outs = node.rpc.getrawtransaction(txid, True)["vout"]
    return next(o["n"] for o in outs if o["scriptPubKey"]["address"] == address)


def test_two_of_three_signed_on_two_nodes(nodes):
    a, b, c = nodes
    multisig = a.rpc.createmultisig(2, [typed_key(n) for n in nodes])
    funding = a.rpc.sendtoaddress(multisig["address"], 3)
    mine(nodes)
    dest = c.rpc.getnewaddress()
    created = c.rpc.createpsbt(
        [{"txid": funding, "vout": vout_of(a, funding, multisig["address"])}],
        [{dest: Decimal("2.9999")}],
    )
    assert c.rpc.analyzepsbt(created)["next"] == "updater"
    updated = c.rpc.utxoupdatepsbt(created, [{"desc": multisig["descriptor"]}])
    analysis = c.rpc.analyzepsbt(updated)
    assert analysis["next"] == "signer" and analysis["fee"] == Decimal("0.0001")
    assert len(analysis["inputs"][0]["missing"]["signatures"]) == 2

    by_a = a.rpc.walletprocesspsbt(updated)
    assert by_a["complete"] is False and "hex" not in by_a
    one = c.rpc.analyzepsbt(by_a["psbt"])
    assert one["next"] == "signer" and len(one["inputs"][0]["missing"]["signatures"]) == 1
    assert c.rpc.finalizepsbt(by_a["psbt"]) == {"psbt": by_a["psbt"], "complete": False}
    decoded = c.rpc.decodepsbt(by_a["psbt"])
    assert decoded["inputs"][0]["policy"]["text"] == multisig["descriptor"]
    assert decoded["inputs"][0]["sighash"] == {typed_key_of(a, by_a["psbt"]): "ALL"}

    by_b = b.rpc.walletprocesspsbt(updated)
    combined = c.rpc.combinepsbt([by_a["psbt"], by_b["psbt"]])
    assert c.rpc.analyzepsbt(combined)["next"] == "finalizer"
    done = c.rpc.finalizepsbt(combined)
    assert done["complete"] is True and set(done) == {"hex", "complete"}
    txid = c.rpc.sendrawtransaction(done["hex"])
    block = mine(nodes)
    assert txid in a.rpc.getblock(block)["tx"]
    assert c.rpc.getreceivedbyaddress(dest) == Decimal("2.9999")

    # A key input's public key, given to utxoupdatepsbt as pk(KEY).
    coin = next(u for u in c.rpc.listunspent() if u["amount"] >= 1)
    info = c.rpc.getaddressinfo(coin["address"])
    bare = c.rpc.createpsbt(
        [{"txid": coin["txid"], "vout": coin["vout"]}], [{a.rpc.getnewaddress(): Decimal("0.5")}]
    )
    keyless = c.rpc.analyzepsbt(c.rpc.utxoupdatepsbt(bare))["inputs"][0]
    assert keyless["missing"] == {"pubkeys": [info["witness_program"]]}
    assert keyless["next"] == "updater"
    with_key = c.rpc.utxoupdatepsbt(bare, [f"pk({info['typed_pubkey']})"])
    assert c.rpc.analyzepsbt(with_key)["inputs"][0]["missing"] == {
        "signatures": [info["typed_pubkey"]]
    }


def typed_key_of(node: framework.TestNode, psbt: str) -> str:
    """The one key ``node``'s wallet signed ``psbt`` with."""
    sigs = node.rpc.decodepsbt(psbt)["inputs"][0]["partial_signatures"]
    (key,) = sigs
    return key


def test_two_of_three_wallets_watch_the_same_address(nodes):
    """addmultisigaddress on each node gives one address; the wallets fill in the policy
    themselves (no descriptor handed around), two of them sign, and it is mined."""
    a, b, c = nodes
    keys = [typed_key(n) for n in nodes]
    added = [n.rpc.addmultisigaddress(2, keys, "shared") for n in nodes]
    assert len({m["address"] for m in added}) == 1
    address = added[0]["address"]
    funding = a.rpc.sendtoaddress(address, 2)
    mine(nodes)
    (coin,) = [u for u in c.rpc.listunspent() if u["address"] == address]
    assert coin["contract"] is True and coin["spendable"] is False
    created = c.rpc.createpsbt(
        [{"txid": funding, "vout": coin["vout"]}], [{c.rpc.getnewaddress(): Decimal("1.9999")}]
    )
    signed = [n.rpc.walletprocesspsbt(created)["psbt"] for n in (a, b)]
    assert c.rpc.decodepsbt(signed[0])["inputs"][0]["policy"]["text"] == added[0]["descriptor"]
    done = c.rpc.finalizepsbt(c.rpc.combinepsbt(signed))
    assert done["complete"] is True
    txid = c.rpc.sendrawtransaction(done["hex"])
    assert txid in a.rpc.getblock(mine(nodes))["tx"]
    assert [u for u in c.rpc.listunspent() if u["address"] == address] == []


def test_join_two_wallets_each_signs_its_inputs(nodes):
    a, b, c = nodes
    pay_a, pay_b = c.rpc.getnewaddress(), c.rpc.getnewaddress()
    part_a = a.rpc.walletcreatefundedpsbt([], [{pay_a: 1}])
    part_b = b.rpc.walletcreatefundedpsbt([], [{pay_b: 2}], 0, {"fee_rate": 20})
    assert set(part_a) == {"psbt", "fee", "changepos"}
    joined = c.rpc.joinpsbts([part_a["psbt"], part_b["psbt"]])
    assert c.rpc.analyzepsbt(joined)["next"] == "signer"
    by_a = a.rpc.walletprocesspsbt(joined)
    by_b = b.rpc.walletprocesspsbt(joined)
    assert by_a["complete"] is False and by_b["complete"] is False
    done = c.rpc.finalizepsbt(c.rpc.combinepsbt([by_a["psbt"], by_b["psbt"]]))
    assert done["complete"] is True
    txid = c.rpc.sendrawtransaction(done["hex"])
    mine(nodes)
    assert c.rpc.getreceivedbyaddress(pay_a) == 1 and c.rpc.getreceivedbyaddress(pay_b) == 2
    assert c.rpc.gettransaction(txid)["confirmations"] == 1

    # b changes an output after a signed: a's signature no longer holds.
    joined = c.rpc.joinpsbts(
        [
            a.rpc.walletcreatefundedpsbt([], [{pay_a: 1}])["psbt"],
            b.rpc.walletcreatefundedpsbt([], [{pay_b: 1}])["psbt"],
        ]
    )
    signed_a = P.decode_psbt(a.rpc.walletprocesspsbt(joined)["psbt"], REGTEST.magic)
    tx = signed_a.tx
    n = next(i for i, o in enumerate(tx.outputs) if o.value == units(Decimal(1)))
    outs = list(tx.outputs)
    outs[n] = TxOut(outs[n].value + 1000, outs[n].lock)
    changed = replace(signed_a, tx=Tx(tx.version, tx.inputs, tuple(outs), tx.locktime))
    # a's inputs were finalized with signatures of the tx a saw; b signs and finalizes
    # its own, and the node refuses the tx.
    by_b = b.rpc.walletprocesspsbt(P.encode_psbt(changed))
    assert by_b["complete"] is True
    assert_raises_rpc_error(-26, "bad-txns-sig-invalid", c.rpc.sendrawtransaction, by_b["hex"])
    # Unfinalized, a's stale signature is not used: the input still needs a's signature.
    partial = P.decode_psbt(
        a.rpc.walletprocesspsbt(joined, True, "ALL", None, False)["psbt"], REGTEST.magic
    )
    assert partial.inputs != signed_a.inputs
    stale = replace(partial, tx=Tx(tx.version, tx.inputs, tuple(outs), tx.locktime))
    analysis = c.rpc.analyzepsbt(b.rpc.walletprocesspsbt(P.encode_psbt(stale))["psbt"])
    assert analysis["next"] == "signer"
    stale_inputs = [i for i in analysis["inputs"] if not i["is_final"]]
    assert stale_inputs and all(len(i["missing"]["signatures"]) == 1 for i in stale_inputs)


def wallets_state(nodes: list[framework.TestNode]) -> list:
    return [
        (n.rpc.getbalances(), n.rpc.listunspent(0), n.rpc.getwalletinfo()["txcount"]) for n in nodes
    ]


def test_bad_psbts_are_refused_and_change_nothing(nodes):
    a, b, c = nodes
    funded = a.rpc.walletcreatefundedpsbt([], [{c.rpc.getnewaddress(): 1}])["psbt"]
    good = P.decode_psbt(funded, REGTEST.magic)
    raw = base64.b64decode(funded)
    wrong_coin = P.update_input(
        replace(good, inputs=(P.PsbtInput(), *good.inputs[1:])),
        0,
        TxOut(good.inputs[0].coin.value + 1, good.inputs[0].coin.lock),
    )
    bad = {
        "truncated": (funded[: len(funded) // 8 * 4], "truncated or damaged"),
        "cut mid-character": (funded[:-3], "invalid base64"),
        "altered": (funded[:20] + ("A" if funded[20] != "A" else "B") + funded[21:], ""),
        "other network": (P.encode_psbt(replace(good, magic=DEVNET.magic)), "another network"),
        "unknown version": (
            base64.b64encode(raw[:5] + b"\x02" + raw[6:]).decode(),
            "unsupported PSBT version 2",
        ),
        "coin disagrees": (P.encode_psbt(wrong_coin), "disagrees with the chain"),
    }
    before = wallets_state(nodes)
    for name, (text, reason) in bad.items():
        for call in (
            lambda t: a.rpc.walletprocesspsbt(t),
            lambda t: b.rpc.utxoupdatepsbt(t),
            lambda t: c.rpc.finalizepsbt(t),
            lambda t: c.rpc.analyzepsbt(t),
            lambda t: c.rpc.decodepsbt(t),
            lambda t: c.rpc.combinepsbt([funded, t]),
        ):
            failure = assert_raises_rpc_error(-22, None, call, text)
            assert reason in failure.message, (name, failure.message)
    assert wallets_state(nodes) == before
    assert_raises_rpc_error(-8, None, c.rpc.joinpsbts, [funded])
    assert_raises_rpc_error(-8, None, c.rpc.joinpsbts, [funded, funded])
    assert_raises_rpc_error(-8, None, a.rpc.walletprocesspsbt, funded, True, "NONE")


def test_anyonecanpay_and_a_locked_wallet(nodes):
    a, _, c = nodes
    funded = a.rpc.walletcreatefundedpsbt([], [{c.rpc.getnewaddress(): 1}])["psbt"]
    flagged = a.rpc.walletprocesspsbt(funded, True, "ALL|ANYONECANPAY", None, False)
    assert flagged["complete"] is False
    for decoded in a.rpc.decodepsbt(flagged["psbt"])["inputs"]:
        assert set(decoded["sighash"].values()) == {"ALL|ANYONECANPAY"}
    done = c.rpc.finalizepsbt(flagged["psbt"])
    txid = c.rpc.sendrawtransaction(done["hex"])
    assert {v["sighash"] for v in c.rpc.getrawtransaction(txid, True)["vin"]} == {
        "ALL|ANYONECANPAY"
    }
    mine(nodes)

    c.rpc.createwallet("locked", False, False, "secret words")
    try:
        locked = c.wallet("locked")
        a.rpc.sendtoaddress(locked.getnewaddress(), 2)
        mine(nodes)
        psbt = locked.walletcreatefundedpsbt([], [{a.rpc.getnewaddress(): 1}])["psbt"]
        before = locked.getbalances()
        assert_raises_rpc_error(-13, None, locked.walletprocesspsbt, psbt)
        unsigned = locked.walletprocesspsbt(psbt, False)
        assert unsigned["complete"] is False
        assert locked.getbalances() == before
    finally:
        c.rpc.unloadwallet("locked")
