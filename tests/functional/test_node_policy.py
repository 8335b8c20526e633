"""Policy coins and ANYONECANPAY through a running node: each spend judged the same way by
testmempoolaccept and, inside a block, by submitblock, with its reject code."""

from __future__ import annotations

import hashlib

import pytest

from consensus.address import encode_address
from consensus.params import COIN, REGTEST
from consensus.policy import After, Sha256, Thresh, encode_policy, encode_satisfaction, policy_lock
from consensus.primitives import Tx
from consensus.signatures import SECP256K1
from node.node import Node
from node.rpc.errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_TYPE_ERROR,
    RpcError,
)
from tests.chain_helpers import ChainBuilder, key, pk, policy_tx, sign_input, spend, with_sigs

A, B, C = key(801), key(802, SECP256K1.key_type), key(803)
DEST = key(899)
PREIMAGE = b"p" * 32
TWO_OF_THREE = encode_policy(Thresh(2, (pk(A), pk(B), pk(C))))
AFTER_110 = encode_policy(Thresh(2, (pk(A), After(110))))
HASHED = encode_policy(Thresh(2, (pk(C), Sha256(hashlib.sha256(PREIMAGE).digest()))))
POLICIES = [TWO_OF_THREE] * 8 + [AFTER_110] * 2 + [HASHED] * 2
VALUE = COIN


async def rpc(node: Node, method: str, *params):
    return await node.rpc.registry.call(method, list(params))


async def verdicts(node: Node, builder: ChainBuilder, tx: Tx) -> tuple[str, str]:
    """(testmempoolaccept's verdict, submitblock's verdict on a block of just ``tx``);
    an accepted block is kept, on the node and in ``builder``."""
    (res,) = await rpc(node, "testmempoolaccept", [tx.serialize().hex()])
    in_pool = "valid" if res["allowed"] else res["reject-reason"]
    block = builder.build([tx])
    in_block = await rpc(node, "submitblock", block.serialize().hex())
    if in_block is None:
        builder.connect(block)
        assert node.chain.tip.hash == block.hash
    return in_pool, "valid" if in_block is None else in_block


@pytest.fixture
async def funded(inprocess_node: Node):
    builder = ChainBuilder()
    builder.mine_empty(101)
    outputs = [(VALUE, policy_lock(p)) for p in POLICIES]
    fund = spend([builder.coinbase_utxo(1)], [*outputs, (VALUE, A.lock), (2 * VALUE, B.lock)])
    builder.mine([fund])
    for block in builder.blocks[1:]:
        assert (await inprocess_node.submit_block(block)).status == "accepted"
    return inprocess_node, builder, fund


def policy_spend(fund: Tx, n: int, make_sat, locktime: int = 0, field: bytes | None = None):
    policy = POLICIES[n]
    tx = policy_tx(
        [(fund.txid, n, policy if field is None else field)],
        [(VALUE - 10_000, DEST.lock)],
        locktime,
    )
    lock = fund.outputs[n].lock
    sat = make_sat(lambda k: sign_input(tx, 0, k, VALUE, lock))
    return with_sigs(tx, {0: sat if type(sat) is bytes else encode_satisfaction(sat)})


def noncanonical(s) -> bytes:
    """[sig A, sig B, nil] under an array16 header: valid MessagePack, not canonical."""
    return b"\xdc\x00\x03" + encode_satisfaction(s(A)) + encode_satisfaction(s(B)) + b"\xc0"


async def test_two_of_three_through_the_node(funded) -> None:
    node, builder, fund = funded
    decoded = await rpc(node, "decoderawtransaction", fund.serialize().hex())
    shown = decoded["vout"][0]["scriptPubKey"]
    assert shown["type"] == "policy"
    assert shown["hex"] == policy_lock(TWO_OF_THREE).hex()
    assert shown["address"].startswith("obrt1r")
    for n, used in enumerate([(A, B), (A, C), (B, C)]):
        tx = policy_spend(fund, n, lambda s, u=used: [s(k) if k in u else None for k in (A, B, C)])
        assert await verdicts(node, builder, tx) == ("valid", "valid")
    # a template counts each used policy key toward the block's signature checks
    pending = policy_spend(fund, 7, lambda s: [s(A), None, s(C)])
    await node.submit_tx(pending)
    template = await rpc(node, "getblocktemplate")
    assert [t["sigops"] for t in template["transactions"]] == [2]
    # the address index keys coins by the whole 33-byte lock
    address = encode_address(policy_lock(TWO_OF_THREE), REGTEST)
    left = await rpc(node, "getaddressutxos", address)
    assert sorted(u["vout"] for u in left) == [3, 4, 5, 6]  # 7 is spent in the mempool
    cases = [
        (lambda s: [s(A), s(B), s(C)], None, "bad-txns-policy-threshold-exceeded"),
        (lambda s: [s(A), None, None], None, "bad-txns-policy-threshold-unmet"),
        (lambda s: [s(C), s(B), None], None, "bad-txns-sig-invalid"),
        (noncanonical, None, "bad-txns-satisfaction-encoding"),
        (lambda s: [s(A), s(B), None], HASHED, "bad-txns-lock-mismatch"),
    ]
    for make_sat, field, code in cases:
        tx = policy_spend(fund, 3, make_sat, field=field)
        assert await verdicts(node, builder, tx) == (code, code)


async def test_after_and_hash_lock_through_the_node(funded) -> None:
    node, builder, fund = funded
    assert builder.height < 109  # after(110) with locktime 110 is final once 111 is next
    while builder.height < 110:
        block = builder.mine()
        assert (await node.submit_block(block)).status == "accepted"
    early = policy_spend(fund, 8, lambda s: [s(A), True], locktime=109)
    assert await verdicts(node, builder, early) == ("bad-txns-policy-timelock",) * 2
    due = policy_spend(fund, 8, lambda s: [s(A), True], locktime=110)
    shown = (await rpc(node, "decoderawtransaction", due.serialize().hex()))["vin"][0]["policy"]
    assert shown["text"] == f"and(pk(ed25519:{A.pubkey.hex()}),after(110))"
    assert shown["used"] == [
        {"fragment": f"pk(ed25519:{A.pubkey.hex()})", "sighash": "ALL"},
        {"fragment": "after(110)"},
    ]
    assert await verdicts(node, builder, due) == ("valid", "valid")
    wrong = policy_spend(fund, 10, lambda s: [s(C), b"q" * 32])
    assert await verdicts(node, builder, wrong) == ("bad-txns-policy-preimage",) * 2
    right = policy_spend(fund, 10, lambda s: [s(C), PREIMAGE])
    assert await verdicts(node, builder, right) == ("valid", "valid")


async def test_anyonecanpay_pledges_through_the_node(funded) -> None:
    node, builder, fund = funded
    n_a, n_b = len(POLICIES), len(POLICIES) + 1
    goal = [(3 * VALUE - 10_000, DEST.lock)]

    def pledge(n: int, owner) -> tuple:
        alone = policy_tx([(fund.txid, n, owner.pubkey)], goal)
        sig = sign_input(alone, 0, owner, fund.outputs[n].value, owner.lock, acp=True)
        return (fund.txid, n, owner.pubkey), sig

    a, b = pledge(n_a, A), pledge(n_b, B)

    def combine(pledges, outputs) -> Tx:
        tx = policy_tx([p for p, _ in pledges], outputs)
        return with_sigs(tx, {n: sig for n, (_, sig) in enumerate(pledges)})

    extra = combine([a, b], [*goal, (1000, DEST.lock)])
    assert await verdicts(node, builder, extra) == ("bad-txns-sig-invalid",) * 2
    flagged = [(a[0], a[1][:64] + b"\x01"), b]
    assert await verdicts(node, builder, combine(flagged, goal)) == ("bad-txns-sig-flag",) * 2
    (res,) = await rpc(node, "testmempoolaccept", [combine([a, b], goal).serialize().hex()])
    assert res["allowed"] is True
    assert await verdicts(node, builder, combine([b, a], goal)) == ("valid", "valid")
    block = await rpc(node, "getblock", node.chain.tip.hash[::-1].hex(), 2)
    assert [i["sighash"] for i in block["tx"][1]["vin"]] == ["ALL|ANYONECANPAY"] * 2


async def rpc_error(node: Node, method: str, *params) -> RpcError:
    with pytest.raises(RpcError) as exc:
        await rpc(node, method, *params)
    return exc.value


async def test_createmultisig_and_decodepolicy(inprocess_node: Node) -> None:
    node = inprocess_node
    keys = [A.pubkey.hex(), B.pubkey.hex(), f"ed25519:{C.pubkey.hex()}"]
    made = await rpc(node, "createmultisig", 2, keys)
    assert made["policy"] == TWO_OF_THREE.hex()
    assert made["descriptor"] == (
        f"thresh(2,pk(ed25519:{A.pubkey.hex()}),pk(secp256k1:{B.pubkey.hex()}),"
        f"pk(ed25519:{C.pubkey.hex()}))"
    )
    assert made["address"] == encode_address(policy_lock(TWO_OF_THREE), REGTEST)
    by_hex = await rpc(node, "decodepolicy", made["policy"])
    by_text = await rpc(node, "decodepolicy", made["descriptor"])
    assert by_hex == by_text
    assert by_hex["address"] == made["address"]
    assert by_hex["text"] == made["descriptor"]
    assert [k["type"] for k in by_hex["keys"]] == ["ed25519", "secp256k1", "ed25519"]
    assert by_hex["satisfiable"] is True and by_hex["standard"] is True
    err = await rpc_error(node, "verifymessage", made["address"], "AAAA", "hello")
    assert err.code == RPC_TYPE_ERROR and err.message == "Address does not refer to key"
    shown = await rpc(node, "validateaddress", made["address"])
    assert shown["isvalid"] is True and shown["key_type"] == "policy" and shown["isscript"]

    escrow = await rpc(node, "decodepolicy", f"and(pk(ed25519:{A.pubkey.hex()}),after(500))")
    assert escrow["timelocks"] == [500]
    never = await rpc(node, "decodepolicy", "thresh(2,after(5),after(600000000))")
    assert never["satisfiable"] is False
    assert never["standard"] is False and "no signature" in never["nonstandard_reason"]


async def test_policy_rpc_errors(inprocess_node: Node) -> None:
    node = inprocess_node
    keys = [A.pubkey.hex(), B.pubkey.hex()]
    assert (await rpc_error(node, "createmultisig", 0, keys)).code == RPC_INVALID_PARAMETER
    err = await rpc_error(node, "createmultisig", 3, keys)
    assert err.code == RPC_INVALID_PARAMETER and "not enough keys" in err.message
    many = [key(900 + i).pubkey.hex() for i in range(21)]
    assert (await rpc_error(node, "createmultisig", 1, many)).code == RPC_INVALID_PARAMETER
    for bad in ("00" * 31, "04" + "00" * 32, "rsa:" + "00" * 32, "zz" * 32):
        err = await rpc_error(node, "createmultisig", 1, [bad])
        assert err.code == RPC_INVALID_ADDRESS_OR_KEY, bad
    dup = await rpc_error(node, "createmultisig", 2, [A.pubkey.hex(), A.pubkey.hex()])
    assert dup.code == RPC_INVALID_PARAMETER
    err = await rpc_error(node, "decodepolicy", "and(pk(ed25519:00),after(5))")
    assert err.code == RPC_INVALID_PARAMETER and "at position 15" in err.message
    err = await rpc_error(node, "decodepolicy", "9202cc05")
    assert err.code == RPC_DESERIALIZATION_ERROR


async def test_wallet_pays_a_policy_address_at_its_exact_fee_rate(inprocess_node: Node) -> None:
    node = inprocess_node
    await rpc(node, "createwallet", "payer")
    mine_to = await rpc(node, "getnewaddress")
    await rpc(node, "generatetoaddress", 101, mine_to)
    made = await rpc(node, "createmultisig", 2, [A.pubkey.hex(), B.pubkey.hex()])
    named = {"address": made["address"], "amount": 1, "fee_rate": 7}
    txid = await node.rpc.registry.call("sendtoaddress", named)
    raw = await rpc(node, "getrawtransaction", txid, True)
    assert any(o["scriptPubKey"]["address"] == made["address"] for o in raw["vout"])
    entry = await rpc(node, "getmempoolentry", txid)
    assert entry["fees"]["base"] == 7 * raw["size"]  # an Amount in units
