"""The speed-ups change no verdict: the signature cache, the signature worker pool and the
coin cache each give the same accept/reject decisions, the same reject codes and the
same coin set as plain, uncached, in-process validation, on one sequence of valid blocks,
invalid blocks (a bad signature in the middle of a big block, two failures in different
chunks, a bad signature before a missing input...) and a reorg."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from consensus.errors import RejectCode
from consensus.params import REGTEST
from consensus.policy import Thresh, encode_policy, encode_satisfaction, policy_lock
from consensus.primitives import Block, Tx
from consensus.signatures import SECP256K1
from consensus.validation import verify_sig_checks
from node.chain.manager import Chain
from node.chain.storage import ChainDB
from node.mempool.policy import Policy
from node.mempool.pool import Mempool, MempoolConfig
from node.verify.sigcache import SigCache
from node.verify.sigpool import SigPool
from tests.chain_helpers import (
    ChainBuilder,
    Utxo,
    key,
    pk,
    policy_tx,
    sign_input,
    spend,
    with_sigs,
)

ED = key(1)
SECP = key(2, SECP256K1.key_type)
THIRD = key(3)
POLICY = encode_policy(Thresh(2, (pk(ED), pk(SECP), pk(THIRD))))
POLICY_LOCK = policy_lock(POLICY)
SECP_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def with_sig(tx: Tx, n: int, sig: bytes) -> Tx:
    inputs = list(tx.inputs)
    inputs[n] = replace(inputs[n], sig=sig)
    return replace(tx, inputs=tuple(inputs))


def bad_sig(tx: Tx) -> Tx:
    sig = tx.inputs[0].sig
    return with_sig(tx, 0, bytes([sig[0] ^ 1]) + sig[1:])


def high_s(tx: Tx) -> Tx:
    sig = tx.inputs[0].sig
    s = int.from_bytes(sig[32:], "big")
    return with_sig(tx, 0, sig[:32] + (SECP_N - s).to_bytes(32, "big"))


def policy_spend(txid: bytes, n: int, used: tuple[bool, bool, bool], flag: int = 0) -> Tx:
    """Coin ``n`` of ``txid`` (2 of ED, SECP, THIRD) to ED, signed by the ``used`` keys;
    ``flag`` appended to the first signature when not 0."""
    tx = policy_tx([(txid, n, POLICY)], [(10_000_000 - 1000, ED.lock)])
    sat = []
    for signer, use in zip((ED, SECP, THIRD), used, strict=True):
        sig = sign_input(tx, 0, signer, 10_000_000, POLICY_LOCK, acp=flag == 0x81)
        if flag and not sat:
            sig = sig[:64] + bytes((flag,))
        sat.append(sig if use else None)
    return with_sigs(tx, {0: encode_satisfaction(sat)})


def bad_policy_sig(tx: Tx) -> Tx:
    """``tx`` with a byte of the first policy signature flipped (same satisfaction shape)."""
    raw = bytearray(tx.inputs[0].sig)
    raw[5] ^= 1  # inside the first signature: array header, bin header, then its bytes
    return with_sig(tx, 0, bytes(raw))


@dataclass
class Scenario:
    """Blocks to submit in order, each with the verdict it must get; the txs a warm
    signature cache sees through a mempool first."""

    steps: list[tuple[Block, str, RejectCode | None]]
    mempool_txs: list[Tx]
    warm_before: int  # the step before which a mempool accepts ``mempool_txs``
    invalidate: bytes  # a block to invalidate at the end, then reconsider (a reorg)


def _pay(utxos: list[Utxo], count: int, owner) -> tuple[list[Tx], list[Utxo]]:
    txs, outs = [], []
    for u in utxos[:count]:
        tx = spend([u], [(u.value - 1000, owner.lock)])
        txs.append(tx)
        outs.append(Utxo(tx.txid, 0, u.value - 1000, owner))
    return txs, outs


def build_scenario() -> Scenario:
    chain = ChainBuilder()
    steps: list[tuple[Block, str, RejectCode | None]] = []

    def valid(block: Block) -> None:
        chain.connect(block)
        steps.append((block, "accepted", None))

    def invalid(txs: list[Tx], code: RejectCode) -> None:
        steps.append((chain.build(txs), "invalid", code))

    for _ in range(REGTEST.coinbase_maturity + 2):
        valid(chain.build([]))
    fan_ed = spend([chain.coinbase_utxo(1)], [(10_000_000, ED.lock)] * 120)
    fan_secp = spend([chain.coinbase_utxo(2)], [(10_000_000, SECP.lock)] * 12)
    fan_policy = spend([chain.coinbase_utxo(3)], [(10_000_000, POLICY_LOCK)] * 8)
    valid(chain.build([fan_ed, fan_secp, fan_policy]))
    pol = [
        policy_spend(fan_policy.txid, 0, (True, True, False)),
        policy_spend(fan_policy.txid, 1, (True, False, True), flag=0x81),
        policy_spend(fan_policy.txid, 2, (False, True, True)),
    ]
    ed = [chain.utxo(fan_ed, n, ED) for n in range(120)]
    secp = [chain.utxo(fan_secp, n, SECP) for n in range(12)]

    # A big block of 60 Ed25519 and 4 secp256k1 txs, valid: several chunks for the pool.
    ed_txs, ed = _pay(ed, 60, ED)
    secp_txs, secp_new = _pay(secp, 4, SECP)
    valid(chain.build(ed_txs + secp_txs))
    secp = secp_new + secp[4:]

    # Candidates for the invalid blocks, all spending the same fresh coins.
    big, _ = _pay(ed, 50, ED)
    secp_tx, _ = _pay(secp, 1, SECP)
    invalid([*big[:25], bad_sig(big[25]), *big[26:]], RejectCode.TX_BAD_SIGNATURE)
    invalid([*big[:49], bad_sig(big[49])], RejectCode.TX_BAD_SIGNATURE)  # the last check
    # Two failures in different chunks: the first in block order is the one reported.
    invalid([*big[:5], high_s(secp_tx[0]), *big[5:40], bad_sig(big[40])], RejectCode.TX_HIGH_S)
    invalid(
        [*big[:5], bad_sig(big[5]), *big[6:40], high_s(secp_tx[0])], RejectCode.TX_BAD_SIGNATURE
    )
    # Policy spends: a bad signature among its used keys, a bad flag, three used of two.
    invalid([*big[:20], *pol[:2], bad_policy_sig(pol[2]), *big[20:]], RejectCode.TX_BAD_SIGNATURE)
    invalid([*big[:20], bad_policy_sig(pol[1]), *big[20:]], RejectCode.TX_BAD_SIGNATURE)
    invalid(
        [*big[:20], policy_spend(fan_policy.txid, 3, (True, True, False), flag=0x01)],
        RejectCode.TX_BAD_SIG_FLAG,
    )
    invalid(
        [*big[:20], policy_spend(fan_policy.txid, 3, (True, True, True))],
        RejectCode.POLICY_TOO_MANY_SATISFIED,
    )
    # A rule broken later in the block wins over a bad signature earlier: signatures last.
    stranger = spend([Utxo(bytes(32), 7, 10_000, ED)], [(5_000, ED.lock)])
    invalid([bad_sig(big[0]), *big[1:30], stranger], RejectCode.TX_MISSING_OR_SPENT)
    # The mempool has seen (and cached) the good versions; the block carries a bad one.
    warm_before = len(steps)
    invalid([*big[:10], bad_sig(big[10]), *big[11:]], RejectCode.TX_BAD_SIGNATURE)
    # Then the good block, partly known to a warm cache, and one more on top.
    valid(chain.build(big + secp_tx + pol))
    more, _ = _pay(ed[50:], 40, ED)
    valid(chain.build(more))
    # A coin spent two blocks ago, spent again: a cache must have forgotten it.
    respend = spend([ed[0]], [(ed[0].value - 2000, ED.lock)])
    invalid([respend], RejectCode.TX_MISSING_OR_SPENT)
    return Scenario(steps, big[:30] + pol[:2], warm_before, invalidate=chain.blocks[-2].hash)


@dataclass
class Setup:
    name: str
    chain: Chain
    cache: SigCache | None
    pool: SigPool | None


def _mempool(chain: Chain, cache: SigCache) -> Mempool:
    return Mempool(
        MempoolConfig(
            params=REGTEST,
            policy=Policy(),
            fetch_coin=chain.coins.get_coin,
            tip_height=lambda: chain.height,
            median_time_past=lambda: chain.median_time_past(),
            clock=lambda: 2_000_000_000.0,
            verifier=cache.verifier,
            on_verified=cache.add_tx,
        )
    )


def run(scenario: Scenario, setup: Setup) -> tuple[list[tuple[str, str | None]], dict, bytes]:
    """Every verdict, then the coin set and tip after a reorg away and back."""
    verdicts = []
    for n, (block, _, _) in enumerate(scenario.steps):
        if n == scenario.warm_before and setup.cache is not None:
            mempool = _mempool(setup.chain, setup.cache)
            for tx in scenario.mempool_txs:
                mempool.accept(tx)
        result = setup.chain.process_block(block)
        verdicts.append((result.status, result.error.code.value if result.error else None))
    setup.chain.invalidate_block(scenario.invalidate)
    setup.chain.reconsider_block(scenario.invalidate)
    return verdicts, dict(setup.chain.db.coins()), setup.chain.tip.hash


SETUPS: dict[str, Callable[[ChainDB], Setup]] = {
    "plain": lambda db: Setup(
        "plain", Chain(db, REGTEST, verifier=verify_sig_checks, coin_cache_size=0), None, None
    ),
    "sigcache": lambda db: _with_cache(db, pool=False),
    "workers": lambda db: _with_cache(db, pool=True),
    "coincache": lambda db: Setup("coincache", Chain(db, REGTEST), None, None),
    "coincache_evicting": lambda db: Setup(
        "coincache_evicting", Chain(db, REGTEST, coin_cache_size=50), None, None
    ),
}


def _with_cache(db: ChainDB, pool: bool) -> Setup:
    # With the pool, a cache of one entry: every check goes to the workers, so that
    # failures land in different chunks and their order is what is tested.
    cache = SigCache(max_entries=1, max_txs=0) if pool else SigCache()
    workers = SigPool(cache, workers=2, chunk_size=4) if pool else None
    if workers is not None:
        workers.start()
    chain = Chain(db, REGTEST, verifier=cache.block_verifier, coin_cache_size=0, sig_pool=workers)
    return Setup("workers" if pool else "sigcache", chain, cache, workers)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario()


@pytest.fixture
def outcomes(scenario: Scenario, tmp_path: Path) -> Iterator[dict[str, tuple]]:
    results = {}
    for name, make in SETUPS.items():
        db = ChainDB(str(tmp_path / name), "regtest")
        setup = make(db)
        try:
            results[name] = run(scenario, setup)
        finally:
            if setup.pool is not None:
                setup.pool.close()
            db.close()
    yield results


def test_every_configuration_gives_the_expected_verdicts(scenario, outcomes):
    expected = [(status, code.value if code else None) for _, status, code in scenario.steps]
    for name, (verdicts, _, _) in outcomes.items():
        assert verdicts == expected, name


def test_every_configuration_ends_with_the_same_coins_and_tip(outcomes):
    plain_coins, plain_tip = outcomes["plain"][1], outcomes["plain"][2]
    assert len(plain_coins) > 100
    for name, (_, coins, tip) in outcomes.items():
        assert coins == plain_coins, name
        assert tip == plain_tip, name


def test_the_pool_and_caches_were_used(scenario, tmp_path):
    """The speed-ups above were exercised, not bypassed: workers answered chunks, and a
    warm cache answered for txs a mempool had checked."""
    pooled = _with_cache(ChainDB(str(tmp_path / "pooled"), "regtest"), pool=True)
    cached = _with_cache(ChainDB(str(tmp_path / "cached"), "regtest"), pool=False)
    try:
        run(scenario, pooled)
        run(scenario, cached)
        assert pooled.pool is not None and pooled.pool.chunks_answered > 20
        assert cached.cache is not None and cached.cache.hits > 0
        assert all(cached.cache.has_tx(tx.wtxid) for tx in scenario.mempool_txs)
    finally:
        assert pooled.pool is not None
        pooled.pool.close()
        pooled.chain.db.close()
        cached.chain.db.close()
