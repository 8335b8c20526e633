"""Valid regtest chains built in memory, fast enough to make a million-byte block a second.

The benchmark needs blocks of thousands of signed txs. ``ChainGen`` keeps its own tip,
times and a pool of spendable coins, signs with keys whose expanded secrets are kept (so a
signature is one libsodium call, not a key derivation plus a call), and never validates:
the node under test does that.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass

import nacl.bindings

from consensus.builder import genesis_block, make_block, make_coinbase
from consensus.params import REGTEST, NetworkParams, block_subsidy
from consensus.primitives import Block, Tx, TxIn, TxOut
from consensus.sighash import sighash
from consensus.signatures import ED25519, SECP256K1, make_lock

FEE = 2_000  # per tx: above the default min relay fee for any tx built here


@dataclass(frozen=True, slots=True)
class GenKey:
    """A key that can sign fast: Ed25519 keeps libsodium's 64-byte secret."""

    key_type: int
    secret: bytes
    pubkey: bytes
    lock: bytes
    _sodium_sk: bytes

    def sign(self, msg: bytes) -> bytes:
        if self.key_type == ED25519.key_type:
            return nacl.bindings.crypto_sign(msg, self._sodium_sk)[:64]
        return SECP256K1.sign(self.secret, msg)


def gen_key(n: int, key_type: int = ED25519.key_type) -> GenKey:
    secret = hashlib.sha256(b"obol bench key %d" % n).digest()
    if key_type == ED25519.key_type:
        pk, sk = nacl.bindings.crypto_sign_seed_keypair(secret)
        return GenKey(key_type, secret, pk, make_lock(key_type, pk), sk)
    pk = SECP256K1.pubkey_from_secret(secret)
    return GenKey(key_type, secret, pk, make_lock(key_type, pk), b"")


@dataclass(frozen=True, slots=True)
class Coin:
    """A spendable output the generator knows the key of."""

    txid: bytes
    index: int
    value: int
    key: GenKey


def sign(
    params: NetworkParams, coins: list[Coin], outputs: list[tuple[int, bytes]], locktime: int = 0
) -> Tx:
    """A tx spending ``coins`` (each signed by its own key) into (value, lock) outputs."""
    outs = tuple(TxOut(v, lock) for v, lock in outputs)
    unsigned = Tx(1, tuple(TxIn(c.txid, c.index, c.key.pubkey, b"") for c in coins), outs, locktime)
    txid = unsigned.txid
    inputs = tuple(
        TxIn(
            c.txid, c.index, c.key.pubkey, c.key.sign(sighash(params, txid, n, c.value, c.key.lock))
        )
        for n, c in enumerate(coins)
    )
    return Tx(1, inputs, outs, locktime)


class ChainGen:
    """A regtest chain on top of genesis: coinbases, fan-outs and blocks of given txs.

    Blocks are stamped one second apart, ending near the wall clock, so a node accepts
    them (time above the median of the last 11, below now + 2 h) however many there are.
    """

    def __init__(
        self, params: NetworkParams = REGTEST, start_time: int | None = None, miner: int = 0
    ) -> None:
        self.params = params
        genesis = genesis_block(params)
        self.blocks: list[Block] = [genesis]
        self.time = start_time if start_time is not None else int(time.time()) - 100_000
        self.time = max(self.time, genesis.header.time)
        self.miner = gen_key(miner)
        self.mature: deque[Coin] = deque()  # coinbase outputs old enough to spend
        self._young: deque[tuple[int, Coin]] = deque()  # (height, coinbase coin)

    @property
    def height(self) -> int:
        return len(self.blocks) - 1

    def block(self, txs: list[Tx], fees: int | None = None) -> Block:
        """The next block holding ``txs``, appended to the chain (``fees``: default FEE each)."""
        height = self.height + 1
        if fees is None:
            fees = FEE * len(txs)
        reward = block_subsidy(height, self.params) + fees
        coinbase = make_coinbase(height, [TxOut(reward, self.miner.lock)])
        self.time += 1
        block = make_block(
            self.blocks[-1].hash, [coinbase, *txs], self.time, self.params.pow_limit_bits
        )
        self.blocks.append(block)
        self._young.append((height, Coin(coinbase.txid, 0, reward, self.miner)))
        while self._young and height + 1 - self._young[0][0] >= self.params.coinbase_maturity:
            self.mature.append(self._young.popleft()[1])
        return block

    def fanout(self, count: int, key: GenKey, value: int) -> tuple[Tx, list[Coin]]:
        """A tx splitting mature coinbases into ``count`` outputs of ``value`` to ``key``."""
        need = count * value + FEE
        spent: list[Coin] = []
        while sum(c.value for c in spent) < need:
            spent.append(self.mature.popleft())
        change = sum(c.value for c in spent) - need
        outputs = [(value, key.lock)] * count
        if change:
            outputs.append((change, self.miner.lock))
        tx = sign(self.params, spent, outputs)
        return tx, [Coin(tx.txid, n, value, key) for n in range(count)]


def split_txs(
    params: NetworkParams, coins: list[Coin], keys: list[GenKey]
) -> tuple[list[Tx], list[Coin]]:
    """One one-in-two-out tx per coin (FEE each); returns the txs and their new coins."""
    txs = []
    new = []
    for i, coin in enumerate(coins):
        half = (coin.value - FEE) // 2
        a, b = keys[i % len(keys)], keys[(i + 1) % len(keys)]
        tx = sign(params, [coin], [(half, a.lock), (coin.value - FEE - half, b.lock)])
        txs.append(tx)
        txid = tx.txid
        new.append(Coin(txid, 0, half, a))
        new.append(Coin(txid, 1, coin.value - FEE - half, b))
    return txs, new
