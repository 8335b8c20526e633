"""Constructing coinbases, blocks and the genesis block: pure functions the miner, the
wallet and the tests share."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from .hashing import ZERO_HASH, sha256d
from .merkle import merkle_root
from .params import NetworkParams
from .pow import bits_to_target
from .primitives import COINBASE_INDEX, LOCK_SIZE, Block, BlockHeader, Tx, TxIn, TxOut
from .sighash import sighash
from .signatures import REGISTRY

BLOCK_VERSION = 1
UNSPENDABLE_LOCK = bytes(LOCK_SIZE)  # key type 0 has no scheme: nothing can spend it


def coinbase_height_bytes(height: int) -> bytes:
    return height.to_bytes(4, "little")


def make_coinbase(height: int, outputs: Sequence[TxOut], extra: bytes = b"") -> Tx:
    """The coinbase of the block at ``height``; ``extra`` is the free field (<= 100 bytes)."""
    coinbase_in = TxIn(ZERO_HASH, COINBASE_INDEX, coinbase_height_bytes(height), extra)
    return Tx(1, (coinbase_in,), tuple(outputs), 0)


def block_merkle_root(txs: Sequence[Tx]) -> bytes:
    return merkle_root([tx.wtxid for tx in txs])


def solve_header(header: BlockHeader) -> BlockHeader:
    """Find a nonce by brute force: for regtest-difficulty blocks in tests and tools."""
    target = bits_to_target(header.bits)
    prefix = header.serialize()[:76]
    for nonce in range(1 << 32):
        h = sha256d(prefix + nonce.to_bytes(4, "little"))
        if int.from_bytes(h, "little") <= target:
            return BlockHeader(
                header.version,
                header.prev_hash,
                header.merkle_root,
                header.time,
                header.bits,
                nonce,
            )
    raise ValueError("no nonce satisfies the target; change the time or the coinbase")


def make_block(
    prev_hash: bytes, txs: Sequence[Tx], time: int, bits: int, solve: bool = True
) -> Block:
    header = BlockHeader(BLOCK_VERSION, prev_hash, block_merkle_root(txs), time, bits, 0)
    if solve:
        header = solve_header(header)
    return Block(header, tuple(txs))


@cache
def genesis_block(params: NetworkParams) -> Block:
    """The fixed first block of ``params``' chain. Its coinbase pays to an unspendable lock
    and, as in Bitcoin, is never added to the coin set."""
    coinbase = make_coinbase(
        0, (TxOut(params.initial_subsidy, UNSPENDABLE_LOCK),), params.genesis_message
    )
    header = BlockHeader(
        BLOCK_VERSION,
        ZERO_HASH,
        block_merkle_root((coinbase,)),
        params.genesis_time,
        params.pow_limit_bits,
        params.genesis_nonce,
    )
    return Block(header, (coinbase,))


def sign_tx(
    tx: Tx,
    keys: Sequence[tuple[int, bytes]],
    spent: Sequence[tuple[int, bytes]],
    params: NetworkParams,
) -> Tx:
    """``tx`` with every input signed: ``keys[i]`` is (key type, secret) for input i and
    ``spent[i]`` the (value, lock) of the coin it spends.

    The txid covers the public keys, so all of them are put in place before anything is
    signed; each signature then commits to the final txid.
    """
    if not len(keys) == len(spent) == len(tx.inputs):
        raise ValueError("one key and one spent coin per input")
    pubkeys = [REGISTRY[kt].pubkey_from_secret(secret) for kt, secret in keys]
    unsigned = Tx(
        tx.version,
        tuple(
            TxIn(i.prev_txid, i.prev_index, pk, b"")
            for i, pk in zip(tx.inputs, pubkeys, strict=True)
        ),
        tx.outputs,
        tx.locktime,
    )
    txid = unsigned.txid
    inputs = tuple(
        TxIn(
            i.prev_txid,
            i.prev_index,
            i.pubkey,
            REGISTRY[kt].sign(secret, sighash(params, txid, n, value, lock)),
        )
        for n, (i, (kt, secret), (value, lock)) in enumerate(
            zip(unsigned.inputs, keys, spent, strict=True)
        )
    )
    return Tx(tx.version, inputs, tx.outputs, tx.locktime)
