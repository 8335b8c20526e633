"""Policy locks (kind 0x03) and ALL|ANYONECANPAY signatures: one test per rule."""

from __future__ import annotations

from dataclasses import replace

import msgpack
import pytest

from consensus.address import AddressError, decode_address, encode_address, encode_segwit
from consensus.coins import Coin, MemoryCoinView
from consensus.errors import RejectCode, RuleError
from consensus.hashing import sha256
from consensus.params import COIN, REGTEST
from consensus.policy import (
    MAX_POLICY_SIZE,
    After,
    Policy,
    Sha256,
    Thresh,
    decode_policy,
    encode_policy,
    encode_satisfaction,
    policy_lock,
)
from consensus.primitives import Block, TxOut, outpoint_key
from consensus.signatures import SECP256K1
from consensus.validation import check_tx_contextual
from tests.chain_helpers import (
    ChainBuilder,
    key,
    pk,
    policy_tx,
    sign_input,
    spend,
    with_sigs,
)

K1, K2, K3 = key(101), key(102, SECP256K1.key_type), key(103)
OTHER = key(199)
TWO_OF_THREE = Thresh(2, (pk(K1), pk(K2), pk(K3)))
TXID = bytes(range(32))
VALUE = 5 * COIN
HEIGHT = 1000
MTP = 1_700_000_000
SECRET = b"s" * 32


class Raw:
    """Satisfaction bytes given as they are, not encoded."""

    def __init__(self, data: bytes) -> None:
        self.data = data


def attempt(policy: Policy, make_sat, locktime: int = 0, policy_bytes: bytes | None = None):
    """Spend a coin locked to ``policy``; ``make_sat(sig)`` gives the satisfaction, where
    ``sig(key, acp=False)`` signs the input. Returns the fee or raises the RuleError."""
    lock = policy_lock(encode_policy(policy))
    field = encode_policy(policy) if policy_bytes is None else policy_bytes
    view = MemoryCoinView({outpoint_key(TXID, 0): Coin(VALUE, lock, 1, False)})
    tx = policy_tx([(TXID, 0, field)], [(VALUE - 1000, OTHER.lock)], locktime)

    def sig(k, acp: bool = False) -> bytes:
        return sign_input(tx, 0, k, VALUE, lock, acp)

    sat = make_sat(sig)
    tx = with_sigs(tx, {0: sat.data if type(sat) is Raw else encode_satisfaction(sat)})
    return check_tx_contextual(tx, view, HEIGHT, MTP, REGTEST)


def rejected(code: RejectCode, *args, **kw) -> None:
    with pytest.raises(RuleError) as exc:
        attempt(*args, **kw)
    assert exc.value.code is code, exc.value


@pytest.mark.parametrize("used", [(0, 1), (0, 2), (1, 2)])
def test_two_of_three_any_two(used: tuple[int, int]) -> None:
    keys = (K1, K2, K3)
    assert (
        attempt(TWO_OF_THREE, lambda s: [s(k) if i in used else None for i, k in enumerate(keys)])
        == 1000
    )


def test_two_of_three_rejections() -> None:
    rejected(RejectCode.POLICY_TOO_MANY_SATISFIED, TWO_OF_THREE, lambda s: [s(K1), s(K2), s(K3)])
    rejected(RejectCode.POLICY_THRESHOLD_NOT_MET, TWO_OF_THREE, lambda s: [s(K1), None, None])
    rejected(RejectCode.TX_BAD_SIGNATURE, TWO_OF_THREE, lambda s: [s(K1), None, s(K1)])
    rejected(RejectCode.TX_BAD_SIGNATURE, TWO_OF_THREE, lambda s: [s(K1), bytes(64), None])
    rejected(RejectCode.POLICY_UNSATISFIED, TWO_OF_THREE, lambda s: None)
    rejected(RejectCode.SATISFACTION_BAD_ENCODING, TWO_OF_THREE, lambda s: [s(K1), s(K2)])
    rejected(RejectCode.SATISFACTION_BAD_ENCODING, TWO_OF_THREE, lambda s: [s(K1), True, None])
    rejected(RejectCode.SATISFACTION_BAD_ENCODING, TWO_OF_THREE, lambda s: Raw(b"\xc1"))
    for depth in (600, 1024, 1025, 3000):  # nested arrays up to and beyond msgpack's stack
        deep = Raw(b"\x91" * depth + b"\xc0")
        rejected(RejectCode.SATISFACTION_BAD_ENCODING, TWO_OF_THREE, lambda s, d=deep: d)


def test_noncanonical_satisfaction_rejected() -> None:
    def wide(s) -> Raw:
        # the same array under an array16 header: valid MessagePack, not the canonical one
        items = b"".join(msgpack.packb(x, use_bin_type=True) for x in (s(K1), s(K2), None))
        return Raw(b"\xdc\x00\x03" + items)

    rejected(RejectCode.SATISFACTION_BAD_ENCODING, TWO_OF_THREE, wide)


def test_policy_must_hash_to_the_lock() -> None:
    other = encode_policy(Thresh(2, (pk(K1), pk(K2), pk(OTHER))))
    rejected(
        RejectCode.TX_LOCK_MISMATCH,
        TWO_OF_THREE,
        lambda s: [s(K1), s(K2), None],
        policy_bytes=other,
    )
    bad = b"\x93\x01\x02\x90"
    rejected(RejectCode.POLICY_BAD_ENCODING, TWO_OF_THREE, lambda s: None, policy_bytes=bad)


def test_after_heights() -> None:
    policy = Thresh(2, (pk(K1), After(500)))
    rejected(RejectCode.POLICY_TIMELOCK, policy, lambda s: [s(K1), True], locktime=499)
    assert attempt(policy, lambda s: [s(K1), True], locktime=500) == 1000
    # a time lock never counts as a height, nor the other way round
    rejected(RejectCode.POLICY_TIMELOCK, policy, lambda s: [s(K1), True], locktime=MTP - 1)
    timed = Thresh(2, (pk(K1), After(MTP - 100)))
    rejected(RejectCode.POLICY_TIMELOCK, timed, lambda s: [s(K1), True], locktime=999)
    assert attempt(timed, lambda s: [s(K1), True], locktime=MTP - 100) == 1000
    rejected(RejectCode.POLICY_TIMELOCK, timed, lambda s: [s(K1), True], locktime=MTP - 101)


def test_after_not_final_is_not_spendable() -> None:
    policy = Thresh(2, (pk(K1), After(HEIGHT)))
    rejected(RejectCode.TX_NONFINAL, policy, lambda s: [s(K1), True], locktime=HEIGHT)


def test_hash_lock() -> None:
    policy = Thresh(2, (pk(K1), Sha256(sha256(SECRET))))
    assert attempt(policy, lambda s: [s(K1), SECRET]) == 1000
    rejected(RejectCode.POLICY_WRONG_PREIMAGE, policy, lambda s: [s(K1), b"t" * 32])
    rejected(RejectCode.POLICY_WRONG_PREIMAGE, policy, lambda s: [s(K1), SECRET[:31]])
    rejected(RejectCode.SATISFACTION_BAD_ENCODING, policy, lambda s: [s(K1), True])


def test_single_key_and_or() -> None:
    assert attempt(pk(K2), lambda s: s(K2)) == 1000
    either = Thresh(1, (pk(K1), Thresh(2, (pk(K2), pk(K3)))))
    assert attempt(either, lambda s: [None, [s(K2), s(K3)]]) == 1000
    rejected(RejectCode.POLICY_THRESHOLD_NOT_MET, either, lambda s: [None, [s(K2), None]])


def test_flagged_signatures_in_a_policy() -> None:
    assert attempt(TWO_OF_THREE, lambda s: [s(K1, True), s(K2), None]) == 1000
    rejected(
        RejectCode.TX_BAD_SIG_FLAG, TWO_OF_THREE, lambda s: [s(K1)[:64] + b"\x01", s(K2), None]
    )
    # an ACP signature presented as ALL (flag stripped) signs the wrong message
    rejected(RejectCode.TX_BAD_SIGNATURE, TWO_OF_THREE, lambda s: [s(K1, True)[:64], s(K2), None])


# --- limits and encoding ----------------------------------------------------------------


def sized_policy(size: int) -> Policy:
    """A keyless policy whose encoding is exactly ``size`` bytes (2,000 to 14,000)."""
    inners = 10
    subs = 20 * inners
    extra = size - 4 - 6 * inners - 3 * subs  # every sub starts as after(1), 3 bytes
    hashes, widened = divmod(extra, 33)  # a hash lock adds 33 bytes, after(200) adds 1
    kinds = [Sha256(bytes(32))] * hashes + [After(200)] * widened
    kinds += [After(1)] * (subs - len(kinds))
    policy = Thresh(1, tuple(Thresh(1, tuple(kinds[i * 20 : i * 20 + 20])) for i in range(inners)))
    assert len(msgpack.packb(_obj(policy), use_bin_type=True)) == size
    return policy


def _obj(policy: Policy) -> list:
    from consensus.policy import policy_to_obj

    return policy_to_obj(policy)


def nested(depth: int) -> Policy:
    policy: Policy = pk(K1)
    for _ in range(depth):
        policy = Thresh(1, (policy,))
    return policy


def keys_policy(n: int) -> Policy:
    keys = tuple(pk(key(300 + i)) for i in range(n))
    return Thresh(1, (Thresh(1, keys[:20]), *((Thresh(1, keys[20:]),) if n > 20 else ())))


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        (sized_policy(MAX_POLICY_SIZE + 1), RejectCode.POLICY_TOO_BIG),
        (nested(9), RejectCode.POLICY_TOO_DEEP),
        (keys_policy(21), RejectCode.POLICY_TOO_MANY_KEYS),
    ],
    ids=["3601-bytes", "depth-9", "21-keys"],
)
def test_limits(policy: Policy, code: RejectCode) -> None:
    with pytest.raises(RuleError) as exc:
        encode_policy(policy)
    assert exc.value.code is code
    with pytest.raises(RuleError) as exc:
        decode_policy(msgpack.packb(_obj(policy), use_bin_type=True))
    assert exc.value.code is code


@pytest.mark.parametrize("policy", [sized_policy(MAX_POLICY_SIZE), nested(8), keys_policy(20)])
def test_at_the_limits(policy: Policy) -> None:
    assert decode_policy(encode_policy(policy)) == policy


@pytest.mark.parametrize(
    "obj",
    [
        [1, 0, [[2, 1]]],  # k = 0
        [1, 2, [[2, 1]]],  # k > n
        [1, 1, [[2, 1]] * 21],  # n > 20
        [1, 1, []],
        [2, 0],  # after(0)
        [2, 2**32],
        [3, bytes(31)],
        [0, 1, bytes(33)],  # an Ed25519 key is 32 bytes
        [0, 2, bytes(32)],
        [0, 3, bytes(32)],  # a policy is no key
        [4, 1],
        [2, 1, 0],
        [2],
        "pk",
        [True, 1],
    ],
)
def test_malformed_policies(obj) -> None:
    with pytest.raises(RuleError) as exc:
        decode_policy(msgpack.packb(obj, use_bin_type=True))
    assert exc.value.code is RejectCode.POLICY_BAD_ENCODING


def test_noncanonical_policy() -> None:
    canonical = encode_policy(After(5))
    assert canonical == b"\x92\x02\x05"
    for wide in (b"\x92\x02\xcc\x05", b"\xdc\x00\x02\x02\x05", b"\x92\x02\x05\x00"):
        with pytest.raises(RuleError) as exc:
            decode_policy(wide)
        assert exc.value.code is RejectCode.POLICY_BAD_ENCODING


# --- addresses --------------------------------------------------------------------------


def test_policy_address_round_trip() -> None:
    lock = policy_lock(encode_policy(TWO_OF_THREE))
    assert len(lock) == 33
    address = encode_address(lock, REGTEST)
    assert address.startswith("obrt1r")
    assert decode_address(address, REGTEST) == lock


@pytest.mark.parametrize("length", [20, 31, 33])
def test_policy_address_wrong_length_rejected(length: int) -> None:
    with pytest.raises(AddressError):
        decode_address(encode_segwit(REGTEST.hrp, 3, bytes(length)), REGTEST)


def test_lock_lengths() -> None:
    TxOut(1, b"\x03" + bytes(32))
    for bad in (b"\x03" + bytes(20), b"\x01" + bytes(32), b"", bytes(22)):
        with pytest.raises(ValueError):
            TxOut(1, bad)


# --- ANYONECANPAY and block-level counting ----------------------------------------------


@pytest.fixture(scope="module")
def funded() -> tuple[ChainBuilder, list]:
    """A chain with two key coins of different owners and two 2-of-3 policy coins."""
    chain = ChainBuilder()
    chain.mine_empty(101)
    lock = policy_lock(encode_policy(TWO_OF_THREE))
    fund = spend(
        [chain.coinbase_utxo(1)],
        [(2 * COIN, K1.lock), (3 * COIN, K2.lock), (COIN, lock), (COIN, lock)],
    )
    chain.mine([fund])
    return chain, fund


def _fork(chain: ChainBuilder, **params) -> ChainBuilder:
    copy = ChainBuilder(replace(chain.params, **params))
    copy.view = MemoryCoinView(chain.view.coins)
    copy.blocks, copy.undos, copy.times = list(chain.blocks), list(chain.undos), list(chain.times)
    return copy


def _pledge(fund, n: int, owner, goal: list[tuple[int, bytes]]) -> tuple:
    """Input ``n`` of ``fund``, signed ALL|ANYONECANPAY by ``owner`` against ``goal``."""
    alone = policy_tx([(fund.txid, n, owner.pubkey)], goal)
    value = fund.outputs[n].value
    return alone.inputs[0], sign_input(alone, 0, owner, value, owner.lock, acp=True)


def _combine(pledges: list[tuple], goal: list[tuple[int, bytes]]):
    tx = policy_tx([(i.prev_txid, i.prev_index, i.pubkey) for i, _ in pledges], goal)
    return with_sigs(tx, {n: sig for n, (_, sig) in enumerate(pledges)})


def test_anyonecanpay_pledges_combine_in_either_order(funded) -> None:
    chain, fund = funded
    goal = [(5 * COIN - 1000, OTHER.lock)]
    a, b = _pledge(fund, 0, K1, goal), _pledge(fund, 1, K2, goal)
    for order in ([a, b], [b, a]):
        _fork(chain).mine([_combine(order, goal)])
    with pytest.raises(RuleError) as exc:
        _fork(chain).mine([_combine([a, b], [*goal, (500, OTHER.lock)])])
    assert exc.value.code is RejectCode.TX_BAD_SIGNATURE
    with pytest.raises(RuleError) as exc:
        _fork(chain).mine([_combine([a, b], [(5 * COIN - 1000, K3.lock)])])
    assert exc.value.code is RejectCode.TX_BAD_SIGNATURE


def test_key_spend_flag_byte(funded) -> None:
    chain, fund = funded
    goal = [(2 * COIN - 1000, OTHER.lock)]
    inp, sig = _pledge(fund, 0, K1, goal)
    for flag in (0x00, 0x01, 0x80, 0x82, 0xFF):
        with pytest.raises(RuleError) as exc:
            _fork(chain).mine([_combine([(inp, sig[:64] + bytes((flag,)))], goal)])
        assert exc.value.code is RejectCode.TX_BAD_SIG_FLAG
    # the plain 64-byte form means ALL, as before
    _fork(chain).mine([spend([chain.utxo(fund, 0, K1)], goal)])


def test_each_used_key_is_one_sigcheck(funded) -> None:
    chain, fund = funded
    lock = fund.outputs[2].lock
    tx = policy_tx(
        [(fund.txid, 2, encode_policy(TWO_OF_THREE)), (fund.txid, 3, encode_policy(TWO_OF_THREE))],
        [(2 * COIN - 1000, OTHER.lock)],
    )
    sats = {
        n: encode_satisfaction(
            [sign_input(tx, n, K1, COIN, lock), None, sign_input(tx, n, K3, COIN, lock)]
        )
        for n in (0, 1)
    }
    tx = with_sigs(tx, sats)
    with pytest.raises(RuleError) as exc:
        _fork(chain, max_block_sigchecks=3).mine([tx])
    assert exc.value.code is RejectCode.BLOCK_TOO_MANY_SIGCHECKS
    _fork(chain, max_block_sigchecks=4).mine([tx])


def _sigcheck_block(used_keys: int) -> tuple[ChainBuilder, Block]:
    """A block spending ``used_keys / 20`` coins of a 20-of-20 policy, each satisfied with
    20 empty signatures: the keys count before any signature is verified."""
    keys = [key(3000 + i) for i in range(20)]
    policy = encode_policy(Thresh(20, tuple(pk(k) for k in keys)))
    chain = ChainBuilder()
    chain.mine_empty(1)
    funding = bytes([7]) * 32
    spends = used_keys // 20
    for n in range(spends):
        chain.view.coins[outpoint_key(funding, n)] = Coin(COIN, policy_lock(policy), 1, False)
    sat = encode_satisfaction([b""] * 20)
    txs = []
    for first in range(0, spends, 100):
        batch = range(first, min(first + 100, spends))
        tx = policy_tx([(funding, n, policy) for n in batch], [(len(batch) * COIN, OTHER.lock)])
        txs.append(with_sigs(tx, dict.fromkeys(range(len(batch)), sat)))
    return chain, chain.build(txs)


@pytest.mark.parametrize(
    ("used_keys", "code"),
    [
        (20_020, RejectCode.BLOCK_TOO_MANY_SIGCHECKS),
        (20_000, RejectCode.TX_BAD_SIGNATURE),  # at the limit: on to the signatures
    ],
)
def test_the_block_limit_of_20000_used_keys_at_real_parameters(used_keys, code) -> None:
    """The limit binds inside the size limit only for signatures that cannot be valid (a
    valid one is 64 bytes, and 20,001 of them are above 1,000,000 bytes); counting comes
    first, so such a block costs no verification at all."""
    assert REGTEST.max_block_sigchecks == 20_000
    chain, block = _sigcheck_block(used_keys)
    assert block.size <= REGTEST.max_block_size
    with pytest.raises(RuleError) as exc:
        chain.connect(block)
    assert exc.value.code is code
