"""Acceptance tests of the consensus rules: one offending tx or block per rule, exact codes.

Every test builds on one small valid regtest chain (101 empty blocks and a block that fans
a coinbase out to the locks the tests need), copied per test so tests stay independent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import msgpack
import pytest

from consensus.builder import genesis_block, make_block, make_coinbase, sign_tx, solve_header
from consensus.coins import Coin, CoinViewCache, MemoryCoinView
from consensus.encoding import decode_tx
from consensus.errors import DecodeError, RejectCode, RuleError
from consensus.hashing import ZERO_HASH, hash160, sha256d
from consensus.merkle import merkle_root
from consensus.params import COIN, DEVNET, MAX_MONEY, REGTEST, NetworkParams, block_subsidy
from consensus.pow import bits_to_target, next_bits
from consensus.primitives import COINBASE_INDEX, Block, Tx, TxIn, TxOut, outpoint_key
from consensus.signatures import ED25519, SECP256K1
from consensus.validation import (
    check_block,
    check_header,
    check_tx,
    check_tx_contextual,
    check_tx_inputs,
    connect_block,
    contextual_check_header,
    disconnect_block,
)
from tests.chain_helpers import ChainBuilder, Key, Utxo, key, spend

ED = key(1)
SECP = key(2, SECP256K1.key_type)
OTHER = key(3)
SECP_N = SECP256K1._order
ED25519_L = 2**252 + 27742317777372353535851937790883648493


@dataclass(frozen=True)
class Out:
    """A coin whose lock need not be the lock of any test key."""

    txid: bytes
    index: int
    value: int
    lock: bytes


@dataclass(frozen=True)
class Base:
    chain: ChainBuilder
    ed: tuple[Utxo, ...]
    secp: tuple[Utxo, ...]
    odd: dict[str, Out]


ODD_LOCKS = {
    # an Ed25519-type lock committing to a secp256k1 key, and the other way round
    "ed_lock_secp_key": bytes([ED25519.key_type]) + hash160(SECP.pubkey),
    "secp_lock_ed_key": bytes([SECP256K1.key_type]) + hash160(ED.pubkey),
    "unknown_type": bytes([7]) + hash160(ED.pubkey),
    "zero_type": bytes([0]) + hash160(ED.pubkey),
}


@pytest.fixture(scope="module")
def base() -> Base:
    chain = ChainBuilder()
    chain.mine_empty(101)
    outputs = [(3 * COIN, ED.lock)] * 4 + [(3 * COIN, SECP.lock)] * 4
    outputs += [(3 * COIN, lock) for lock in ODD_LOCKS.values()]
    fanout = spend([chain.coinbase_utxo(1)], outputs)
    chain.mine([fanout])
    assert chain.height == 102
    ed = tuple(chain.utxo(fanout, i, ED) for i in range(4))
    secp = tuple(chain.utxo(fanout, i, SECP) for i in range(4, 8))
    odd = {
        name: Out(fanout.txid, 8 + n, 3 * COIN, lock)
        for n, (name, lock) in enumerate(ODD_LOCKS.items())
    }
    return Base(chain, ed, secp, odd)


def fork(chain: ChainBuilder, params: NetworkParams | None = None) -> ChainBuilder:
    """An independent copy of ``chain`` (optionally validating with other params)."""
    copy = ChainBuilder(params or chain.params)
    copy.view = MemoryCoinView(chain.view.coins)
    copy.blocks = list(chain.blocks)
    copy.undos = list(chain.undos)
    copy.times = list(chain.times)
    copy.miner = chain.miner
    return copy


@pytest.fixture
def chain(base: Base) -> ChainBuilder:
    return fork(base.chain)


def rejects(code: RejectCode, fn: Callable[..., object], *args: object, **kw: object) -> None:
    with pytest.raises(RuleError) as exc:
        fn(*args, **kw)
    assert exc.value.code is code, exc.value


def assert_block_rejected(chain: ChainBuilder, block: Block, code: RejectCode) -> None:
    height = chain.height
    coins = dict(chain.view.coins)
    rejects(code, chain.connect, block)
    assert chain.height == height
    assert chain.view.coins == coins


def assert_tx_rejected(chain: ChainBuilder, tx: Tx, code: RejectCode) -> None:
    """``tx`` passes the context-free checks but is refused both on its own (as the mempool
    would check it) and inside an otherwise valid next block."""
    check_tx(tx, chain.params)
    rejects(code, check_tx_contextual, tx, chain.view, chain.height + 1, chain.mtp(), chain.params)
    assert_block_rejected(chain, chain.build([tx]), code)


def assert_tx_accepted(chain: ChainBuilder, tx: Tx) -> None:
    fee = check_tx_contextual(tx, chain.view, chain.height + 1, chain.mtp(), chain.params)
    assert fee == chain.fees([tx])
    chain.mine([tx])
    for n in range(len(tx.outputs)):
        assert chain.view.get_coin(outpoint_key(tx.txid, n)) is not None


def signed(
    coins: list[Out | Utxo],
    keys: list[Key],
    outputs: list[tuple[int, bytes]],
    params: NetworkParams = REGTEST,
    locktime: int = 0,
) -> Tx:
    """Spend ``coins`` with ``keys`` (which need not match the coins' locks)."""
    tx = Tx(
        1,
        tuple(TxIn(c.txid, c.index, b"", b"") for c in coins),
        tuple(TxOut(v, lock) for v, lock in outputs),
        locktime,
    )
    spent = [(c.value, c.lock if isinstance(c, Out) else c.key.lock) for c in coins]
    return sign_tx(tx, [(k.key_type, k.secret) for k in keys], spent, params)


def with_input(tx: Tx, n: int, **changes: object) -> Tx:
    inputs = list(tx.inputs)
    inputs[n] = replace(inputs[n], **changes)
    return replace(tx, inputs=tuple(inputs))


def dummy_in(n: int = 0) -> TxIn:
    return TxIn(sha256d(b"dummy %d" % n), 0, ED.pubkey, bytes(64))


def with_header(block: Block, **changes: object) -> Block:
    """``block`` with its header changed and solved again."""
    return Block(solve_header(replace(block.header, **changes)), block.txs)


# --- context-free transaction rules ------------------------------------------------


def test_no_inputs(chain: ChainBuilder) -> None:
    tx = Tx(1, (), (TxOut(1, ED.lock),), 0)
    rejects(RejectCode.TX_NO_INPUTS, check_tx, tx, REGTEST)
    assert_block_rejected(chain, chain.build([tx], fees=0), RejectCode.TX_NO_INPUTS)


def test_no_outputs(base: Base, chain: ChainBuilder) -> None:
    tx = spend([base.ed[0]], [])
    rejects(RejectCode.TX_NO_OUTPUTS, check_tx, tx, REGTEST)
    assert_block_rejected(chain, chain.build([tx], fees=0), RejectCode.TX_NO_OUTPUTS)


def test_duplicate_inputs(base: Base, chain: ChainBuilder) -> None:
    u = base.ed[0]
    # Counting the coin twice would make 6 OBOL out of 3 (CVE-2018-17144).
    tx = spend([u, u], [(2 * u.value, ED.lock)])
    rejects(RejectCode.TX_DUPLICATE_INPUTS, check_tx, tx, REGTEST)
    assert_block_rejected(chain, chain.build([tx], fees=0), RejectCode.TX_DUPLICATE_INPUTS)


def test_output_value_above_max_money() -> None:
    check_tx(Tx(1, (dummy_in(),), (TxOut(MAX_MONEY, ED.lock),), 0), REGTEST)
    tx = Tx(1, (dummy_in(),), (TxOut(MAX_MONEY + 1, ED.lock),), 0)
    rejects(RejectCode.TX_OUTPUT_TOO_LARGE, check_tx, tx, REGTEST)
    tx = Tx(1, (dummy_in(),), (TxOut(1, ED.lock), TxOut(2**64 - 1, ED.lock)), 0)
    rejects(RejectCode.TX_OUTPUT_TOO_LARGE, check_tx, tx, REGTEST)


def test_output_sum_above_max_money(chain: ChainBuilder) -> None:
    outs = (TxOut(MAX_MONEY // 2 + 1, ED.lock), TxOut(MAX_MONEY // 2, ED.lock))
    check_tx(Tx(1, (dummy_in(),), (TxOut(MAX_MONEY // 2, ED.lock), *outs[1:]), 0), REGTEST)
    tx = Tx(1, (dummy_in(),), outs, 0)
    rejects(RejectCode.TX_OUTPUT_TOTAL_TOO_LARGE, check_tx, tx, REGTEST)
    # A coinbase is held to the same limit (CVE-2010-5139 was an overflowing sum).
    cb = make_coinbase(chain.height + 1, [TxOut(MAX_MONEY, ED.lock), TxOut(MAX_MONEY, ED.lock)])
    rejects(RejectCode.TX_OUTPUT_TOTAL_TOO_LARGE, check_tx, cb, REGTEST)
    block = chain.build([], coinbase=cb)
    assert_block_rejected(chain, block, RejectCode.TX_OUTPUT_TOTAL_TOO_LARGE)


def test_negative_values_cannot_exist() -> None:
    with pytest.raises(ValueError):
        TxOut(-1, ED.lock)
    with pytest.raises(ValueError):
        TxOut(2**64, ED.lock)
    obj = Tx(1, (dummy_in(),), (TxOut(5, ED.lock),), 0).to_obj()
    obj[2][0][0] = -1
    raw = msgpack.packb(obj, use_bin_type=True)
    with pytest.raises(DecodeError) as exc:
        decode_tx(raw)
    assert exc.value.code is RejectCode.DECODE_MALFORMED


def test_tx_larger_than_a_block() -> None:
    tx = Tx(1, (dummy_in(),), (TxOut(1, ED.lock),), 0)
    check_tx(tx, replace(REGTEST, max_block_size=tx.size))
    rejects(RejectCode.TX_OVERSIZE, check_tx, tx, replace(REGTEST, max_block_size=tx.size - 1))


def test_non_coinbase_spending_the_null_outpoint() -> None:
    null_in = TxIn(ZERO_HASH, COINBASE_INDEX, ED.pubkey, bytes(64))
    tx = Tx(1, (dummy_in(), null_in), (TxOut(1, ED.lock),), 0)
    assert not tx.is_coinbase
    rejects(RejectCode.TX_PREVOUT_NULL, check_tx, tx, REGTEST)


def test_coinbase_shape() -> None:
    cb = make_coinbase(5, [TxOut(1, ED.lock)])
    check_tx(cb, REGTEST)
    bad = with_input(cb, 0, pubkey=b"\x05\x00\x00")
    rejects(RejectCode.TX_COINBASE_SHAPE, check_tx, bad, REGTEST)


# --- contextual transaction rules ------------------------------------------------


def test_valid_spends_connect(base: Base, chain: ChainBuilder) -> None:
    tx = spend([base.ed[0], base.secp[0]], [(5 * COIN, OTHER.lock), (COIN - 1000, ED.lock)])
    check_tx(tx, REGTEST)
    assert_tx_accepted(chain, tx)
    # the miner took subsidy + fee
    assert chain.tip.txs[0].outputs[0].value == block_subsidy(chain.height, REGTEST) + 1000


def test_missing_input(base: Base, chain: ChainBuilder) -> None:
    ghost = Utxo(sha256d(b"no such tx"), 0, COIN, ED)
    assert_tx_rejected(chain, spend([ghost], [(COIN, ED.lock)]), RejectCode.TX_MISSING_OR_SPENT)
    # an index past the outputs of a real tx
    past = Utxo(base.ed[0].txid, 99, COIN, ED)
    assert_tx_rejected(chain, spend([past], [(COIN, ED.lock)]), RejectCode.TX_MISSING_OR_SPENT)


def test_input_spent_in_an_earlier_block(base: Base, chain: ChainBuilder) -> None:
    u = base.ed[0]
    chain.mine([spend([u], [(u.value, OTHER.lock)])])
    again = spend([u], [(u.value - 1, ED.lock)])
    assert_tx_rejected(chain, again, RejectCode.TX_MISSING_OR_SPENT)


def test_coinbase_maturity(chain: ChainBuilder) -> None:
    nxt = chain.height + 1
    immature = chain.coinbase_utxo(nxt - 99)  # depth 99 in the next block
    mature = chain.coinbase_utxo(nxt - 100)  # depth 100
    tx = spend([immature], [(immature.value, ED.lock)])
    assert_tx_rejected(chain, tx, RejectCode.TX_PREMATURE_COINBASE_SPEND)
    assert_tx_accepted(chain, spend([mature], [(mature.value, ED.lock)]))
    # one block later the first coin has depth 100 too
    assert_tx_accepted(chain, tx)


def test_coinbase_spent_in_its_own_block(chain: ChainBuilder) -> None:
    height = chain.height + 1
    cb = make_coinbase(height, [TxOut(block_subsidy(height, REGTEST), ED.lock)])
    tx = spend([Utxo(cb.txid, 0, cb.outputs[0].value, ED)], [(COIN, ED.lock)])
    block = chain.build([tx], coinbase=cb)
    assert_block_rejected(chain, block, RejectCode.TX_PREMATURE_COINBASE_SPEND)


def test_outputs_above_inputs(base: Base, chain: ChainBuilder) -> None:
    u = base.ed[0]
    assert_tx_rejected(chain, spend([u], [(u.value + 1, ED.lock)]), RejectCode.TX_IN_BELOW_OUT)
    assert_tx_accepted(chain, spend([u], [(u.value, ED.lock)]))  # a zero fee is fine


def test_input_values_out_of_range() -> None:
    # Cannot happen on a real chain; a view holding such coins must still be refused.
    lock = ED.lock
    a, b = sha256d(b"a"), sha256d(b"b")
    view = MemoryCoinView(
        {
            outpoint_key(a, 0): Coin(MAX_MONEY, lock, 1, False),
            outpoint_key(b, 0): Coin(1, lock, 1, False),
        }
    )
    tx = Tx(1, (TxIn(a, 0, ED.pubkey, b""), TxIn(b, 0, ED.pubkey, b"")), (TxOut(1, lock),), 0)
    rejects(RejectCode.TX_INPUT_VALUES_OUT_OF_RANGE, check_tx_inputs, tx, view, 5, REGTEST)
    view = MemoryCoinView({outpoint_key(a, 0): Coin(MAX_MONEY + 1, lock, 1, False)})
    tx = Tx(1, (TxIn(a, 0, ED.pubkey, b""),), (TxOut(1, lock),), 0)
    rejects(RejectCode.TX_INPUT_VALUES_OUT_OF_RANGE, check_tx_inputs, tx, view, 5, REGTEST)


def test_wrong_key_type(base: Base, chain: ChainBuilder) -> None:
    # A secp256k1 key spending an Ed25519-type lock that commits to exactly that key.
    coin = base.odd["ed_lock_secp_key"]
    tx = signed([coin], [SECP], [(COIN, ED.lock)])
    assert_tx_rejected(chain, tx, RejectCode.TX_WRONG_KEY_TYPE)
    # and an Ed25519 key spending a secp256k1-type lock that commits to it
    coin = base.odd["secp_lock_ed_key"]
    tx = signed([coin], [ED], [(COIN, ED.lock)])
    assert_tx_rejected(chain, tx, RejectCode.TX_WRONG_KEY_TYPE)


@pytest.mark.parametrize("name", ["unknown_type", "zero_type"])
def test_unknown_key_type(base: Base, chain: ChainBuilder, name: str) -> None:
    tx = signed([base.odd[name]], [ED], [(COIN, ED.lock)])
    assert_tx_rejected(chain, tx, RejectCode.TX_UNKNOWN_KEY_TYPE)


def test_pubkey_not_matching_lock(base: Base, chain: ChainBuilder) -> None:
    u = base.ed[0]
    tx = signed([u], [OTHER], [(COIN, ED.lock)])  # OTHER signs a coin locked to ED
    assert_tx_rejected(chain, tx, RejectCode.TX_LOCK_MISMATCH)
    other_secp = key(4, SECP256K1.key_type)
    tx = signed([base.secp[0]], [other_secp], [(COIN, ED.lock)])
    assert_tx_rejected(chain, tx, RejectCode.TX_LOCK_MISMATCH)


def _flip(sig: bytes, bit: int = 0) -> bytes:
    return bytes([sig[0] ^ (1 << bit)]) + sig[1:]


def test_bad_ed25519_signature(base: Base, chain: ChainBuilder) -> None:
    good = spend([base.ed[0], base.ed[1]], [(5 * COIN, OTHER.lock)])
    sig = good.inputs[1].sig
    s = int.from_bytes(sig[32:], "little")
    bad_sigs = [
        _flip(sig),
        sig[:32] + bytes([sig[32] ^ 1]) + sig[33:],
        sig[:-1],  # wrong length
        sig + b"\x00\x00",
        b"",
        bytes(64),
        good.inputs[0].sig,  # input 0's valid signature: commits to another index
        sig[:32] + (s + ED25519_L).to_bytes(32, "little"),  # malleated S (not canonical)
    ]
    for bad in bad_sigs:
        tx = with_input(good, 1, sig=bad)
        assert tx.txid == good.txid
        assert_tx_rejected(chain, tx, RejectCode.TX_BAD_SIGNATURE)
    assert_tx_accepted(chain, good)


def test_bad_secp256k1_signature(base: Base, chain: ChainBuilder) -> None:
    good = spend([base.ed[0], base.secp[0], base.secp[1]], [(8 * COIN, OTHER.lock)])
    sig = good.inputs[1].sig
    s = int.from_bytes(sig[32:], "big")
    assert s <= SECP_N // 2
    bad_sigs = [
        _flip(sig, 3),
        sig[:63] + bytes([sig[63] ^ 1]),
        sig[:-1],
        sig + b"\x00\x00",
        b"",
        bytes(64),
        good.inputs[2].sig,
        sig[:32] + bytes(32),  # s = 0
        bytes(32) + sig[32:],  # r = 0
        sig[:32][::-1] + sig[32:],
    ]
    for bad in bad_sigs:
        tx = with_input(good, 1, sig=bad)
        assert_tx_rejected(chain, tx, RejectCode.TX_BAD_SIGNATURE)
    assert_tx_accepted(chain, good)


def test_high_s_signature(base: Base, chain: ChainBuilder) -> None:
    good = spend([base.secp[0]], [(COIN, OTHER.lock)])
    sig = good.inputs[0].sig
    s = int.from_bytes(sig[32:], "big")
    # (r, n - s) is the same signature mathematically; only the low-S form is accepted.
    high = sig[:32] + (SECP_N - s).to_bytes(32, "big")
    assert_tx_rejected(chain, with_input(good, 0, sig=high), RejectCode.TX_HIGH_S)
    assert_tx_accepted(chain, good)


def test_signature_commits_to_network_and_spent_coin(base: Base, chain: ChainBuilder) -> None:
    u = base.ed[0]
    outputs = [(COIN, OTHER.lock)]
    devnet_signed = spend([u], outputs, params=DEVNET)
    assert_tx_rejected(chain, devnet_signed, RejectCode.TX_BAD_SIGNATURE)
    lied_value = signed([Out(u.txid, u.index, u.value + 1, u.key.lock)], [ED], outputs)
    assert_tx_rejected(chain, lied_value, RejectCode.TX_BAD_SIGNATURE)
    assert_tx_accepted(chain, spend([u], outputs))


def test_locktime_by_height(base: Base, chain: ChainBuilder) -> None:
    height = chain.height + 1
    u = base.ed[0]
    outputs = [(COIN, OTHER.lock)]
    assert_tx_rejected(chain, spend([u], outputs, locktime=height), RejectCode.TX_NONFINAL)
    assert_tx_rejected(chain, spend([u], outputs, locktime=height + 50), RejectCode.TX_NONFINAL)
    assert_tx_accepted(chain, spend([u], outputs, locktime=height - 1))


def test_locktime_by_time_uses_median_time_past(base: Base, chain: ChainBuilder) -> None:
    mtp = chain.mtp()
    u = base.ed[0]
    outputs = [(COIN, OTHER.lock)]
    tx = spend([u], outputs, locktime=mtp)
    # the block's own time is past the locktime, but the median time past is not
    block = chain.build([tx])
    assert block.header.time > mtp
    assert_block_rejected(chain, block, RejectCode.TX_NONFINAL)
    assert_tx_rejected(chain, tx, RejectCode.TX_NONFINAL)
    assert_tx_accepted(chain, spend([u], outputs, locktime=mtp - 1))


def test_nonfinal_coinbase(chain: ChainBuilder) -> None:
    height = chain.height + 1
    cb = replace(
        make_coinbase(height, [TxOut(block_subsidy(height, REGTEST), ED.lock)]), locktime=height
    )
    assert_block_rejected(chain, chain.build([], coinbase=cb), RejectCode.TX_NONFINAL)


# --- headers ---------------------------------------------------------------------


def test_bad_proof_of_work(chain: ChainBuilder) -> None:
    block = chain.build([])
    check_block(block, REGTEST)
    target = bits_to_target(block.header.bits)
    nonce = 0
    while int.from_bytes(replace(block.header, nonce=nonce).hash, "little") <= target:
        nonce += 1
    bad = Block(replace(block.header, nonce=nonce), block.txs)
    rejects(RejectCode.BLOCK_BAD_POW, check_header, bad.header, REGTEST)
    assert_block_rejected(chain, bad, RejectCode.BLOCK_BAD_POW)
    genesis = genesis_block(DEVNET)
    rejects(
        RejectCode.BLOCK_BAD_POW,
        check_header,
        replace(genesis.header, nonce=genesis.header.nonce + 1),
        DEVNET,
    )


@pytest.mark.parametrize(
    "bits",
    [
        0x2100FFFF,  # target far above regtest's limit
        0x21008000,  # 2**255: just above the limit
        0x00000000,  # zero
        0x20000000,  # zero mantissa
        0x20800000,  # sign bit set, zero mantissa: zero
        0x2080FFFF,  # negative
        0x04923456,  # negative
        0xFF123456,  # overflow
    ],
)
def test_invalid_bits(chain: ChainBuilder, bits: int) -> None:
    header = replace(chain.build([]).header, bits=bits)
    rejects(RejectCode.BLOCK_BAD_BITS, check_header, header, REGTEST)
    assert_block_rejected(chain, Block(header, chain.build([]).txs), RejectCode.BLOCK_BAD_BITS)


def test_bits_not_the_expected_bits(chain: ChainBuilder) -> None:
    expected = next_bits(REGTEST, chain.height, chain.times[-1], chain.anchor_time)
    assert expected == REGTEST.pow_limit_bits
    harder = chain.build([], bits=0x2000FFFF)
    check_block(harder, REGTEST)  # fine on its own: valid PoW for its bits
    kw = {"median_time_past": chain.mtp(), "now": harder.header.time, "params": REGTEST}
    contextual_check_header(harder.header, expected_bits=0x2000FFFF, **kw)
    rejects(
        RejectCode.BLOCK_BAD_BITS,
        contextual_check_header,
        harder.header,
        expected_bits=expected,
        **kw,
    )


def test_bad_version(chain: ChainBuilder) -> None:
    block = chain.build([])
    header = solve_header(replace(block.header, version=0))
    rejects(RejectCode.BLOCK_BAD_VERSION, check_header, header, REGTEST)


def test_time_not_above_median_time_past(chain: ChainBuilder) -> None:
    mtp = chain.mtp()
    bits = next_bits(REGTEST, chain.height, chain.times[-1], chain.anchor_time)
    now = mtp + 1000
    for time, ok in [(mtp - 1, False), (mtp, False), (mtp + 1, True)]:
        header = chain.build([], time=time).header
        args = {"expected_bits": bits, "median_time_past": mtp, "now": now, "params": REGTEST}
        if ok:
            contextual_check_header(header, **args)
        else:
            rejects(RejectCode.BLOCK_TIME_TOO_OLD, contextual_check_header, header, **args)


def test_time_too_far_ahead(chain: ChainBuilder) -> None:
    mtp = chain.mtp()
    now = mtp + 10
    bits = REGTEST.pow_limit_bits
    args = {"expected_bits": bits, "median_time_past": mtp, "now": now, "params": REGTEST}
    contextual_check_header(chain.build([], time=now + 7199).header, **args)
    for time in (now + 7200, now + 7201, 2**32 - 1):
        header = chain.build([], time=time).header
        rejects(RejectCode.BLOCK_TIME_TOO_NEW, contextual_check_header, header, **args)


# --- context-free block rules -------------------------------------------------------


def test_bad_merkle_root(base: Base, chain: ChainBuilder) -> None:
    tx = spend([base.ed[0]], [(COIN, OTHER.lock)])
    block = chain.build([tx])
    for root in (bytes(32), block.header.merkle_root[::-1], tx.wtxid):
        bad = with_header(block, merkle_root=root)
        assert_block_rejected(chain, bad, RejectCode.BLOCK_BAD_MERKLE_ROOT)
    # a root over txids (not wtxids) is wrong too
    txid_root = merkle_root([t.txid for t in block.txs])
    assert txid_root != block.header.merkle_root
    bad = with_header(block, merkle_root=txid_root)
    assert_block_rejected(chain, bad, RejectCode.BLOCK_BAD_MERKLE_ROOT)
    # another signature changes the wtxid (not the txid): the root no longer matches
    twin = with_input(tx, 0, sig=_flip(tx.inputs[0].sig))
    bad = Block(solve_header(replace(block.header, nonce=0)), (block.txs[0], twin))
    assert_block_rejected(chain, bad, RejectCode.BLOCK_BAD_MERKLE_ROOT)
    chain.connect(block)


def test_no_transactions(chain: ChainBuilder) -> None:
    block = make_block(chain.tip.hash, [], chain.times[-1] + 1, REGTEST.pow_limit_bits)
    assert_block_rejected(chain, block, RejectCode.BLOCK_NO_TXS)


def test_coinbase_missing(base: Base, chain: ChainBuilder) -> None:
    tx = spend([base.ed[0]], [(COIN, OTHER.lock)])
    block = make_block(chain.tip.hash, [tx], chain.times[-1] + 1, REGTEST.pow_limit_bits)
    assert_block_rejected(chain, block, RejectCode.BLOCK_COINBASE_MISSING)


def test_coinbase_misplaced(base: Base, chain: ChainBuilder) -> None:
    tx = spend([base.ed[0]], [(COIN, OTHER.lock)])
    good = chain.build([tx])
    cb = good.txs[0]
    block = make_block(chain.tip.hash, [tx, cb], good.header.time, good.header.bits)
    assert_block_rejected(chain, block, RejectCode.BLOCK_COINBASE_MISSING)


def test_two_coinbases(base: Base, chain: ChainBuilder) -> None:
    height = chain.height + 1
    second = make_coinbase(height, [TxOut(1, ED.lock)], extra=b"another")
    assert_block_rejected(chain, chain.build([second]), RejectCode.BLOCK_COINBASE_MULTIPLE)
    tx = spend([base.ed[0]], [(COIN, OTHER.lock)])
    block = chain.build([tx, second])
    assert_block_rejected(chain, block, RejectCode.BLOCK_COINBASE_MULTIPLE)


def test_coinbase_with_wrong_height(chain: ChainBuilder) -> None:
    height = chain.height + 1
    reward = block_subsidy(height, REGTEST)
    for h in (height - 1, height + 1, 0):
        cb = make_coinbase(h, [TxOut(reward, ED.lock)])
        assert_block_rejected(chain, chain.build([], coinbase=cb), RejectCode.BLOCK_COINBASE_HEIGHT)


def test_coinbase_amount(base: Base, chain: ChainBuilder) -> None:
    fee = 12_345
    u = base.ed[0]
    tx = spend([u], [(u.value - fee, OTHER.lock)])
    allowed = block_subsidy(chain.height + 1, REGTEST) + fee
    too_much = chain.build([tx], reward=allowed + 1)
    assert_block_rejected(chain, too_much, RejectCode.BLOCK_COINBASE_AMOUNT)
    # split over two outputs, still one unit too many
    cb = make_coinbase(chain.height + 1, [TxOut(allowed, ED.lock), TxOut(1, OTHER.lock)])
    assert_block_rejected(chain, chain.build([tx], coinbase=cb), RejectCode.BLOCK_COINBASE_AMOUNT)
    # without the fee-paying tx, subsidy + 1 is too much as well
    assert_block_rejected(
        chain,
        chain.build([], reward=allowed - fee + 1),
        RejectCode.BLOCK_COINBASE_AMOUNT,
    )
    chain.connect(chain.build([tx], reward=allowed))
    assert chain.tip.txs[0].outputs[0].value == allowed


def test_coinbase_free_field(chain: ChainBuilder) -> None:
    height = chain.height + 1
    outs = [TxOut(block_subsidy(height, REGTEST), ED.lock)]
    too_long = make_coinbase(height, outs, extra=bytes(101))
    rejects(RejectCode.TX_COINBASE_LENGTH, check_tx, too_long, REGTEST)
    assert_block_rejected(chain, chain.build([], coinbase=too_long), RejectCode.TX_COINBASE_LENGTH)
    chain.connect(chain.build([], coinbase=make_coinbase(height, outs, extra=bytes(100))))


def test_block_too_large(base: Base, chain: ChainBuilder) -> None:
    tx = spend([base.ed[0]], [(COIN, OTHER.lock)])
    block = chain.build([tx])
    check_block(block, replace(REGTEST, max_block_size=block.size))
    small = fork(chain, replace(REGTEST, max_block_size=block.size - 1))
    assert_block_rejected(small, block, RejectCode.BLOCK_OVERSIZE)
    fork(chain, replace(REGTEST, max_block_size=block.size)).connect(block)


def test_block_too_large_with_real_limit(chain: ChainBuilder) -> None:
    # Four txs of 10,000 outputs (about 250 KB each): each fits, together they do not.
    outs = (TxOut(0, ED.lock),) * 10_000
    txs = [Tx(1, (dummy_in(n),), outs, 0) for n in range(4)]
    block = chain.build(txs, fees=0)
    assert block.size > REGTEST.max_block_size
    assert all(tx.size <= REGTEST.max_block_size for tx in txs)
    assert_block_rejected(chain, block, RejectCode.BLOCK_OVERSIZE)


def test_too_many_signature_checks(base: Base, chain: ChainBuilder) -> None:
    four = spend(list(base.ed), [(4 * COIN, OTHER.lock)])
    strict = fork(chain, replace(REGTEST, max_block_sigchecks=3))
    assert_block_rejected(strict, strict.build([four]), RejectCode.BLOCK_TOO_MANY_SIGCHECKS)
    # counted over the whole block, not per tx
    two_a = spend(list(base.ed[:2]), [(COIN, OTHER.lock)])
    two_b = spend(list(base.ed[2:]), [(COIN, OTHER.lock)])
    block = strict.build([two_a, two_b])
    assert_block_rejected(strict, block, RejectCode.BLOCK_TOO_MANY_SIGCHECKS)
    # exactly at the limit is fine
    fork(chain, replace(REGTEST, max_block_sigchecks=4)).connect(block)
    fork(chain, replace(REGTEST, max_block_sigchecks=4)).mine([four])


def test_duplicate_transactions(base: Base, chain: ChainBuilder) -> None:
    tx = spend([base.ed[0]], [(COIN, OTHER.lock)])
    block = chain.build([tx, tx], fees=base.ed[0].value - COIN)
    assert_block_rejected(chain, block, RejectCode.BLOCK_DUPLICATE_TX)
    # same txid, different wtxid (another signature): still a duplicate txid
    twin = with_input(tx, 0, sig=_flip(tx.inputs[0].sig))
    assert twin.txid == tx.txid and twin.wtxid != tx.wtxid
    block = chain.build([tx, twin], fees=base.ed[0].value - COIN)
    assert_block_rejected(chain, block, RejectCode.BLOCK_DUPLICATE_TX)


def test_spending_an_output_created_later_in_the_block(base: Base, chain: ChainBuilder) -> None:
    first = spend([base.ed[0]], [(2 * COIN, OTHER.lock)])
    second = spend([chain.utxo(first, 0, OTHER)], [(COIN, ED.lock)])
    assert_block_rejected(chain, chain.build([second, first]), RejectCode.TX_MISSING_OR_SPENT)
    chain.mine([first, second])  # in order, both connect
    assert chain.view.get_coin(outpoint_key(first.txid, 0)) is None
    assert chain.view.get_coin(outpoint_key(second.txid, 0)) is not None


def test_two_txs_in_one_block_spending_one_coin(base: Base, chain: ChainBuilder) -> None:
    u = base.ed[0]
    a = spend([u], [(COIN, OTHER.lock)])
    b = spend([u], [(COIN, ED.lock)])
    assert a.txid != b.txid
    block = chain.build([a, b], fees=u.value - COIN)
    assert_block_rejected(chain, block, RejectCode.TX_MISSING_OR_SPENT)
    # each of them alone is fine
    fork(chain).mine([a])
    chain.mine([b])


def test_valid_tx_in_otherwise_fine_block_connects(base: Base, chain: ChainBuilder) -> None:
    txs = [
        spend([base.ed[0]], [(COIN, OTHER.lock), (COIN, SECP.lock)]),
        spend([base.secp[0], base.secp[1]], [(5 * COIN, ED.lock)]),
    ]
    txs.append(spend([chain.utxo(txs[0], 1, SECP)], [(COIN - 10, ED.lock)]))
    before = len(chain.view)
    undo = chain.connect(chain.build(txs))
    assert len(undo) == 4
    # spent 3 coins of the view, created 4 outputs (one of them spent in the block) and
    # the coinbase output
    assert len(chain.view) == before - 3 + 4 - 1 + 1


# --- coin views and undo ------------------------------------------------------------


def test_failed_connect_leaves_the_base_view_untouched(base: Base, chain: ChainBuilder) -> None:
    good = spend([base.ed[0]], [(COIN, OTHER.lock)])
    bad = with_input(spend([base.ed[1]], [(COIN, OTHER.lock)]), 0, sig=bytes(64))
    block = chain.build([good, bad])
    check_block(block, REGTEST)
    before = dict(chain.view.coins)
    cache = CoinViewCache(chain.view)
    with pytest.raises(RuleError) as exc:
        connect_block(block, cache, chain.height + 1, chain.mtp(), REGTEST)
    assert exc.value.code is RejectCode.TX_BAD_SIGNATURE
    # signatures are checked last: the cache holds the (discarded) partial change ...
    assert cache.changes
    # ... and the base view is exactly as it was
    assert chain.view.coins == before


def test_connect_then_disconnect_restores_the_view(base: Base, chain: ChainBuilder) -> None:
    before = dict(chain.view.coins)
    first = spend([base.ed[0], base.secp[0]], [(5 * COIN, OTHER.lock), (COIN, ED.lock)])
    second = spend([chain.utxo(first, 0, OTHER)], [(4 * COIN, SECP.lock)])
    block = chain.mine([first, second])
    undo = chain.undos[-1]
    assert undo == (
        before[base.ed[0].outpoint_key],
        before[base.secp[0].outpoint_key],
        Coin(5 * COIN, OTHER.lock, chain.height, False),
    )
    cache = CoinViewCache(chain.view)
    disconnect_block(block, undo, cache)
    chain.view.apply(cache.changes)
    assert chain.view.coins == before


def test_disconnect_with_mismatched_undo(base: Base, chain: ChainBuilder) -> None:
    tx = spend([base.ed[0], base.ed[1]], [(COIN, OTHER.lock)])
    block = chain.mine([tx])
    undo = chain.undos[-1]
    assert len(undo) == 2
    extra = Coin(1, ED.lock, 1, False)
    for wrong in ((), undo[:1], (*undo, extra), (extra, *undo)):
        with pytest.raises(ValueError):
            disconnect_block(block, wrong, CoinViewCache(chain.view))
    empty = chain.mine([])
    with pytest.raises(ValueError):
        disconnect_block(empty, (extra,), CoinViewCache(chain.view))


# --- subsidy ------------------------------------------------------------------------


def test_block_subsidy_schedule() -> None:
    assert block_subsidy(0, REGTEST) == 50 * COIN
    assert block_subsidy(149, REGTEST) == 50 * COIN
    assert block_subsidy(150, REGTEST) == 25 * COIN
    assert block_subsidy(299, REGTEST) == 25 * COIN
    assert block_subsidy(300, REGTEST) == 25 * COIN // 2
    assert block_subsidy(150 * 33 - 1, REGTEST) == (50 * COIN) >> 32
    assert block_subsidy(150 * 64 - 1, REGTEST) == 0  # 50 OBOL >> 63
    assert block_subsidy(150 * 64, REGTEST) == 0
    assert block_subsidy(150 * 1000, REGTEST) == 0
    assert block_subsidy(209_999, DEVNET) == 50 * COIN
    assert block_subsidy(210_000, DEVNET) == 25 * COIN
    assert block_subsidy(210_000 * 64, DEVNET) == 0
    total = sum(block_subsidy(h, DEVNET) for h in range(0, 210_000 * 64, 210_000)) * 210_000
    assert total <= MAX_MONEY
