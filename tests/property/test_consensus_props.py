"""Hypothesis properties of the consensus layer: encoding, merkle, compact bits, amounts,
and connect-then-disconnect on random valid chains."""

from __future__ import annotations

from functools import cache
from hashlib import sha256

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.coins import CoinViewCache, MemoryCoinView
from consensus.compact import bits_to_target, decode_compact, target_to_bits
from consensus.encoding import decode_block, decode_tx, encode_block, encode_tx
from consensus.errors import DecodeError, RejectCode, RuleError
from consensus.hashing import sha256d
from consensus.merkle import merkle_root
from consensus.params import MAX_MONEY, REGTEST, block_subsidy, money_range
from consensus.primitives import Block, BlockHeader, Tx, TxIn, TxOut, outpoint_key
from consensus.signatures import SECP256K1
from consensus.validation import check_tx, disconnect_block
from tests.chain_helpers import ChainBuilder, Utxo, key, spend

U32 = 2**32 - 1
U64 = 2**64 - 1

# --- strategies ---------------------------------------------------------------------

u32 = st.integers(0, U32)
u64 = st.integers(0, U64)
hash32 = st.binary(min_size=32, max_size=32)

tx_ins = st.builds(
    TxIn,
    hash32,
    u32,
    st.binary(max_size=520) | st.binary(max_size=40),
    st.binary(max_size=520) | st.binary(max_size=70),
)
locks = st.binary(min_size=21, max_size=21).filter(lambda b: b[0] != 3) | st.binary(
    min_size=32, max_size=32
).map(lambda b: b"\x03" + b)
tx_outs = st.builds(TxOut, u64 | st.integers(0, 300), locks)
txs = st.builds(
    Tx,
    u32 | st.integers(0, 3),
    st.lists(tx_ins, max_size=4).map(tuple),
    st.lists(tx_outs, max_size=4).map(tuple),
    u32 | st.integers(0, 200),
)
headers = st.builds(BlockHeader, u32, hash32, hash32, u32, u32, u32)
blocks = st.builds(Block, headers, st.lists(txs, max_size=4).map(tuple))
# small txs and blocks: a random byte is more often a structural one
small_txs = st.builds(
    Tx,
    u32,
    st.lists(
        st.builds(TxIn, hash32, u32, st.binary(max_size=3), st.binary(max_size=3)), max_size=3
    ).map(tuple),
    st.lists(tx_outs, max_size=3).map(tuple),
    u32,
)
small_blocks = st.builds(Block, headers, st.lists(small_txs, max_size=3).map(tuple))


def fresh_tx_bytes(tx: Tx) -> bytes:
    """An encoding computed independently of the codec's cached bytes."""
    return msgpack.packb(tx.to_obj(), use_bin_type=True)


def fresh_block_bytes(block: Block) -> bytes:
    return msgpack.packb(
        [block.header.serialize(), [tx.to_obj() for tx in block.txs]], use_bin_type=True
    )


# --- encoding -----------------------------------------------------------------------


@given(txs)
def test_tx_round_trip(tx: Tx) -> None:
    raw = encode_tx(tx)
    assert raw == fresh_tx_bytes(tx)
    back = decode_tx(raw)
    assert back == tx
    assert back.txid == tx.txid and back.wtxid == tx.wtxid
    assert encode_tx(back) == raw


@given(blocks)
def test_block_round_trip(block: Block) -> None:
    raw = encode_block(block)
    assert raw == fresh_block_bytes(block)
    back = decode_block(raw)
    assert back == block
    assert back.hash == block.hash
    assert [t.wtxid for t in back.txs] == [t.wtxid for t in block.txs]


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    i = data.draw(st.integers(0, len(raw) - 1), label="position")
    b = data.draw(st.integers(0, 255).filter(lambda v: v != raw[i]), label="byte")
    return raw[:i] + bytes([b]) + raw[i + 1 :]


@given(txs | small_txs, st.data())
def test_tx_mutation_is_rejected_or_canonical(tx: Tx, data: st.DataObject) -> None:
    mutated = mutate(encode_tx(tx), data)
    try:
        back = decode_tx(mutated)
    except DecodeError:
        return
    assert fresh_tx_bytes(back) == mutated


@given(blocks | small_blocks, st.data())
def test_block_mutation_is_rejected_or_canonical(block: Block, data: st.DataObject) -> None:
    mutated = mutate(encode_block(block), data)
    try:
        back = decode_block(mutated)
    except DecodeError:
        return
    assert fresh_block_bytes(back) == mutated


def test_every_single_byte_mutation_of_a_small_tx_and_block() -> None:
    """Exhaustively: every position, every byte value."""
    lock = bytes(range(21))
    tx = Tx(
        1,
        (TxIn(sha256d(b"x"), 1, b"pk", b"s"), TxIn(sha256d(b"y"), 300, b"", b"")),
        (TxOut(5, lock), TxOut(70_000, lock)),
        0,
    )
    header = BlockHeader(1, sha256d(b"p"), sha256d(b"m"), 2, 3, 4)
    cases = [
        (encode_tx(tx), decode_tx, fresh_tx_bytes),
        (encode_block(Block(header, (tx,))), decode_block, fresh_block_bytes),
    ]
    for raw, decode, fresh in cases:
        decoded = 0
        for i in range(len(raw)):
            for b in range(256):
                if b == raw[i]:
                    continue
                mutated = raw[:i] + bytes([b]) + raw[i + 1 :]
                try:
                    back = decode(mutated)
                except DecodeError:
                    continue
                decoded += 1
                assert fresh(back) == mutated, (i, b)
        assert decoded > 0


# --- merkle -------------------------------------------------------------------------


def reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as the RFC states it."""
    n = len(leaves)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


@given(st.lists(hash32, max_size=70))
def test_merkle_root_is_rfc6962(leaves: list[bytes]) -> None:
    assert merkle_root(leaves) == reference_mth(leaves)


@given(st.lists(hash32, min_size=1, max_size=40))
def test_merkle_root_has_no_duplicate_leaf_ambiguity(leaves: list[bytes]) -> None:
    # CVE-2012-2459: in Bitcoin's tree, [..., x] and [..., x, x] can share a root
    assert merkle_root([*leaves, leaves[-1]]) != merkle_root(leaves)
    assert merkle_root(leaves + leaves) != merkle_root(leaves)


def test_merkle_root_every_size_up_to_70() -> None:
    leaves = [sha256d(bytes([i])) for i in range(70)]
    for n in range(71):
        assert merkle_root(leaves[:n]) == reference_mth(leaves[:n])


# --- compact bits -------------------------------------------------------------------


def truncate_like_compact(t: int) -> int:
    """``t`` keeping only what a compact number holds: a 23-bit mantissa in whole bytes,
    i.e. the 3 most significant bytes, or 2 when the top byte's high bit is set (the
    mantissa's sign bit)."""
    n = (t.bit_length() + 7) // 8
    keep = 2 if t >> (8 * (n - 1)) >= 0x80 else 3
    if n <= keep:
        return t
    shift = 8 * (n - keep)
    return (t >> shift) << shift


targets = st.integers(1, 256).flatmap(
    lambda b: st.integers(1 << (b - 1), min((1 << b) - 1, 1 << 255))
)


@given(targets)
def test_compact_round_trip(t: int) -> None:
    bits = target_to_bits(t)
    back = bits_to_target(bits)
    assert back <= t
    assert back == truncate_like_compact(t)
    assert target_to_bits(back) == bits
    _, negative, overflow = decode_compact(bits)
    assert not negative and not overflow


@given(u32)
def test_compact_decoding_is_stable(bits: int) -> None:
    try:
        target = bits_to_target(bits)
    except ValueError:
        return
    assert target > 0
    assert bits_to_target(target_to_bits(target)) == target


def test_compact_known_values() -> None:
    assert bits_to_target(0x1D00FFFF) == 0xFFFF << 208
    assert target_to_bits(0xFFFF << 208) == 0x1D00FFFF
    assert target_to_bits(0x80) == 0x02008000
    assert bits_to_target(0x207FFFFF) == 0x7FFFFF << 232
    assert target_to_bits(1 << 255) == 0x21008000


# --- amounts ------------------------------------------------------------------------

amounts = st.integers(0, MAX_MONEY) | st.integers(0, U64) | st.sampled_from([0, 1, MAX_MONEY])


@given(st.lists(amounts, min_size=1, max_size=6))
def test_output_amounts_within_money_range(values: list[int]) -> None:
    lock = bytes(21)
    tx = Tx(1, (TxIn(sha256d(b"in"), 0, b"k", b"s"),), tuple(TxOut(v, lock) for v in values), 0)
    if all(money_range(v) for v in values) and money_range(sum(values)):
        check_tx(tx, REGTEST)
        return
    try:
        check_tx(tx, REGTEST)
    except RuleError as exc:
        code = exc.code
    else:
        raise AssertionError("outputs out of range accepted")
    # the first output that breaks a limit decides which
    total = 0
    for v in values:
        if v > MAX_MONEY:
            assert code is RejectCode.TX_OUTPUT_TOO_LARGE
            return
        total += v
        if total > MAX_MONEY:
            assert code is RejectCode.TX_OUTPUT_TOTAL_TOO_LARGE
            return
    raise AssertionError("unreachable")


def test_total_subsidy_within_money_range() -> None:
    total = sum(block_subsidy(h, REGTEST) for h in range(150 * 70))
    assert money_range(total)
    assert block_subsidy(150 * 64, REGTEST) == 0


# --- chains: connect, then disconnect ------------------------------------------------

MINER = key(0)
KEYS = (key(10), key(11, SECP256K1.key_type), key(12))


@cache
def base_chain() -> ChainBuilder:
    chain = ChainBuilder(miner=MINER)
    chain.mine_empty(101)
    return chain


def fork(chain: ChainBuilder) -> ChainBuilder:
    copy = ChainBuilder(chain.params, miner=chain.miner)
    copy.view = MemoryCoinView(chain.view.coins)
    copy.blocks = list(chain.blocks)
    copy.undos = list(chain.undos)
    copy.times = list(chain.times)
    return copy


def coin_total(view: MemoryCoinView) -> int:
    return sum(coin.value for _, coin in view)


def subsidies_up_to(height: int) -> int:
    # the genesis coinbase is not in the coin set
    return sum(block_subsidy(h, REGTEST) for h in range(1, height + 1))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_connect_then_disconnect_restores_the_coin_set(data: st.DataObject) -> None:
    chain = fork(base_chain())
    snapshots = [dict(chain.view.coins)]
    burned = 0  # subsidy and fees the miners chose not to claim
    pool: dict[bytes, Utxo] = {}  # spendable coins by outpoint key
    matured = 0  # coinbases up to this height are in the pool (or spent)
    start = chain.height
    n_blocks = data.draw(st.integers(1, 20), label="blocks")
    for _ in range(n_blocks):
        height = chain.height + 1
        while matured < height - REGTEST.coinbase_maturity:
            matured += 1
            cb = chain.coinbase_utxo(matured, MINER)
            pool[cb.outpoint_key] = cb
        block_txs: list[Tx] = []
        for _ in range(data.draw(st.integers(0, 3), label="txs")):
            if not pool:
                break
            keys = sorted(pool)
            picked = data.draw(
                st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True),
                label="inputs",
            )
            coins = [pool.pop(k) for k in picked]
            value_in = sum(c.value for c in coins)
            fee = data.draw(st.integers(0, min(value_in, 100_000)), label="fee")
            n_out = data.draw(st.integers(1, 3), label="outputs")
            cuts = sorted(
                data.draw(
                    st.lists(
                        st.integers(0, value_in - fee), min_size=n_out - 1, max_size=n_out - 1
                    ),
                    label="split",
                )
            )
            values = [b - a for a, b in zip([0, *cuts], [*cuts, value_in - fee], strict=True)]
            owners = [data.draw(st.sampled_from(KEYS), label="owner") for _ in values]
            tx = spend(coins, [(v, o.lock) for v, o in zip(values, owners, strict=True)])
            block_txs.append(tx)
            for n, owner in enumerate(owners):
                pool[outpoint_key(tx.txid, n)] = chain.utxo(tx, n, owner)
        fees = chain.fees(block_txs)
        allowed = block_subsidy(height, REGTEST) + fees
        unclaimed = data.draw(st.sampled_from([0, 0, 1, fees, allowed]), label="unclaimed")
        unclaimed = min(unclaimed, allowed)
        chain.connect(chain.build(block_txs, reward=allowed - unclaimed))
        burned += unclaimed
        snapshots.append(dict(chain.view.coins))
        assert all(chain.view.get_coin(k) is not None for k in pool)
        total = coin_total(chain.view)
        assert total <= subsidies_up_to(chain.height)
        assert total == subsidies_up_to(chain.height) - burned

    view = MemoryCoinView(chain.view.coins)
    for i in range(n_blocks, 0, -1):
        cache_view = CoinViewCache(view)
        disconnect_block(chain.blocks[start + i], chain.undos[start + i], cache_view)
        view.apply(cache_view.changes)
        assert view.coins == snapshots[i - 1]
    assert view.coins == base_chain().view.coins
