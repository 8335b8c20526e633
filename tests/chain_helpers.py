"""Test helpers: keys, signed transactions and valid chains built with the consensus API."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from consensus.builder import genesis_block, make_block, make_coinbase, sign_tx
from consensus.coins import Coin, CoinViewCache, MemoryCoinView
from consensus.params import REGTEST, NetworkParams, block_subsidy
from consensus.policy import Key as PolicyKey
from consensus.pow import next_bits
from consensus.primitives import Block, Tx, TxIn, TxOut, outpoint_key
from consensus.sighash import SIGHASH_ALL_ACP, sighash, sighash_acp
from consensus.signatures import ED25519, REGISTRY, make_lock
from consensus.validation import check_block, connect_block, median_time_past


@dataclass(frozen=True)
class Key:
    secret: bytes
    key_type: int = ED25519.key_type

    @property
    def pubkey(self) -> bytes:
        return REGISTRY[self.key_type].pubkey_from_secret(self.secret)

    @property
    def lock(self) -> bytes:
        return make_lock(self.key_type, self.pubkey)


def key(n: int, key_type: int = ED25519.key_type) -> Key:
    """A deterministic key for tests."""
    return Key(hashlib.sha256(b"obol test key %d" % n).digest(), key_type)


@dataclass(frozen=True)
class Utxo:
    txid: bytes
    index: int
    value: int
    key: Key

    @property
    def outpoint_key(self) -> bytes:
        return outpoint_key(self.txid, self.index)


def spend(
    utxos: list[Utxo],
    outputs: list[tuple[int, bytes]],
    params: NetworkParams = REGTEST,
    locktime: int = 0,
    version: int = 1,
) -> Tx:
    """A signed tx spending ``utxos`` into (value, lock) ``outputs``."""
    tx = Tx(
        version,
        tuple(TxIn(u.txid, u.index, b"", b"") for u in utxos),
        tuple(TxOut(v, lock) for v, lock in outputs),
        locktime,
    )
    return sign_tx(
        tx,
        [(u.key.key_type, u.key.secret) for u in utxos],
        [(u.value, u.key.lock) for u in utxos],
        params,
    )


@dataclass
class ChainBuilder:
    """Builds and connects a valid chain in memory, tracking coins per test key."""

    params: NetworkParams = REGTEST
    view: MemoryCoinView = field(default_factory=MemoryCoinView)
    blocks: list[Block] = field(default_factory=list)
    undos: list[tuple[Coin, ...]] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    miner: Key = field(default_factory=lambda: key(0))

    def __post_init__(self) -> None:
        genesis = genesis_block(self.params)
        self.blocks.append(genesis)
        self.undos.append(())
        self.times.append(genesis.header.time)

    @property
    def height(self) -> int:
        return len(self.blocks) - 1

    @property
    def tip(self) -> Block:
        return self.blocks[-1]

    @property
    def anchor_time(self) -> int | None:
        """The time of block 1, devnet's ASERT anchor (None before it exists)."""
        return self.times[1] if len(self.times) > 1 else None

    def mtp(self) -> int:
        return median_time_past(self.times[-11:])

    def build(
        self, txs: list[Tx] = (), miner: Key | None = None, fees: int | None = None, **kw
    ) -> Block:
        """The next block with ``txs``, paying subsidy + fees to ``miner`` (not connected)."""
        height = self.height + 1
        if fees is None:
            fees = self.fees(txs)
        reward = kw.pop("reward", block_subsidy(height, self.params) + fees)
        coinbase = kw.pop(
            "coinbase", make_coinbase(height, [TxOut(reward, (miner or self.miner).lock)])
        )
        time = kw.pop("time", self.times[-1] + 1)
        bits = kw.pop("bits", next_bits(self.params, self.height, self.times[-1], self.anchor_time))
        return make_block(self.tip.hash, [coinbase, *txs], time, bits, **kw)

    def fees(self, txs: list[Tx]) -> int:
        """Sum of fees of ``txs`` spending coins of the view or of earlier txs in the list."""
        created = {}
        total = 0
        for tx in txs:
            value_in = 0
            for i in tx.inputs:
                coin = created.get(i.outpoint_key) or self.view.get_coin(i.outpoint_key)
                value_in += coin.value if coin else 0
            total += value_in - sum(o.value for o in tx.outputs)
            for n, o in enumerate(tx.outputs):
                created[outpoint_key(tx.txid, n)] = o
        return max(total, 0)

    def connect(self, block: Block) -> tuple[Coin, ...]:
        check_block(block, self.params)
        cache = CoinViewCache(self.view)
        undo = connect_block(block, cache, self.height + 1, self.mtp(), self.params)
        self.view.apply(cache.changes)
        self.blocks.append(block)
        self.undos.append(undo)
        self.times.append(block.header.time)
        return undo

    def mine(self, txs: list[Tx] = (), miner: Key | None = None) -> Block:
        block = self.build(list(txs), miner)
        self.connect(block)
        return block

    def mine_empty(self, n: int, miner: Key | None = None) -> None:
        for _ in range(n):
            self.mine([], miner)

    def coinbase_utxo(self, height: int, miner: Key | None = None) -> Utxo:
        cb = self.blocks[height].txs[0]
        return Utxo(cb.txid, 0, cb.outputs[0].value, miner or self.miner)

    def utxo(self, tx: Tx, index: int, owner: Key) -> Utxo:
        return Utxo(tx.txid, index, tx.outputs[index].value, owner)


def pk(k: Key) -> PolicyKey:
    return PolicyKey(k.key_type, k.pubkey)


def policy_tx(
    coins: list[tuple[bytes, int, bytes]],
    outputs: list[tuple[int, bytes]],
    locktime: int = 0,
) -> Tx:
    """An unsigned tx spending (txid, index, pubkey field) ``coins``: a policy's encoding
    for a policy coin, the key for a key coin. Signatures never change its txid."""
    return Tx(
        1,
        tuple(TxIn(txid, index, field, b"") for txid, index, field in coins),
        tuple(TxOut(v, lock) for v, lock in outputs),
        locktime,
    )


def sign_input(
    tx: Tx, n: int, k: Key, value: int, lock: bytes, acp: bool = False, params=REGTEST
) -> bytes:
    """``k``'s signature for input ``n`` of ``tx`` (64 bytes, or 65 ending in 0x81)."""
    if acp:
        return REGISTRY[k.key_type].sign(k.secret, sighash_acp(params, tx, n, value, lock)) + bytes(
            (SIGHASH_ALL_ACP,)
        )
    return REGISTRY[k.key_type].sign(k.secret, sighash(params, tx.txid, n, value, lock))


def with_sigs(tx: Tx, sigs: dict[int, bytes]) -> Tx:
    """``tx`` with input n's sig field set to ``sigs[n]``."""
    return Tx(
        tx.version,
        tuple(
            TxIn(i.prev_txid, i.prev_index, i.pubkey, sigs.get(n, i.sig))
            for n, i in enumerate(tx.inputs)
        ),
        tx.outputs,
        tx.locktime,
    )
