"""The partially signed tx the contract flows hand from one party to the next.

Every flow step goes through this module's few operations (fund a part, join parts, add a
signature, sign the wallet's key inputs, finish), so the flows never touch the string
form. A key input carries its public key and a policy input its policy in the unsigned
tx already: the txid covers them, so it is fixed before anyone signs, and every party
signs the same tx.

The string: ``obolpsbt:`` and the base64 of the canonical MessagePack array
``[tx, [[value, lock], ...], [{pubkey: sig}, ...]]``, one coin and one signature map per
input. Read strictly: a damaged string, a tx that is not one, counts that disagree, or
coins that disagree with the chain are refused whole (-22).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from consensus.encoding import decode_tx
from consensus.errors import DecodeError
from consensus.policy import Key, encode_satisfaction
from consensus.primitives import POLICY_LOCK_KIND, Tx, TxIn, TxOut
from consensus.sighash import sighash
from consensus.signatures import REGISTRY
from wallet.contracts import ContractError

from ..wallets import LoadedWallet, WalletManager

PREFIX = "obolpsbt:"
MAX_SIZE = 1_000_000


@dataclass(frozen=True, slots=True)
class Partial:
    """An unsigned tx, the coin each input spends, and the signatures collected so far."""

    tx: Tx
    coins: tuple[tuple[int, bytes], ...]  # (value, lock) per input
    sigs: tuple[dict[bytes, bytes], ...]  # pubkey -> 64-byte signature, per input


def encode(p: Partial) -> str:
    obj = [
        p.tx.serialize(),
        [[v, lock] for v, lock in p.coins],
        [dict(sorted(s.items())) for s in p.sigs],
    ]
    return PREFIX + base64.b64encode(msgpack.packb(obj, use_bin_type=True)).decode()


def decode(manager: WalletManager, text: str) -> Partial:
    """The partial tx ``text`` holds, its coins checked against the chain and mempool."""
    if not text.startswith(PREFIX):
        raise ContractError(f"not a partially signed tx (it starts with {PREFIX!r})")
    if len(text) > MAX_SIZE:
        raise ContractError("partially signed tx too long")
    try:
        obj = msgpack.unpackb(base64.b64decode(text[len(PREFIX) :], validate=True), raw=False)
        raw, coin_list, sig_list = obj
        tx = decode_tx(raw)
        coins = tuple((int(v), bytes(lock)) for v, lock in coin_list)
        sigs = tuple({bytes(k): bytes(v) for k, v in s.items()} for s in sig_list)
    except (binascii.Error, ValueError, TypeError, AttributeError, DecodeError) as exc:
        raise ContractError(f"the partially signed tx is damaged ({exc})") from exc
    except msgpack.UnpackException as exc:
        raise ContractError(f"the partially signed tx is damaged ({exc})") from exc
    if not len(tx.inputs) == len(coins) == len(sigs):
        raise ContractError("the partially signed tx has one coin and one signature map per input")
    partial = Partial(tx, coins, sigs)
    if encode(partial) != text:
        raise ContractError("the partially signed tx is not in its canonical encoding")
    for inp, coin in zip(tx.inputs, coins, strict=True):
        if manager.spent_coin(inp.outpoint_key) != coin:
            raise ContractError(
                f"the coin of input {inp.prev_txid[::-1].hex()}:{inp.prev_index} disagrees "
                "with the chain (spent, unknown, or another value or lock)"
            )
    return partial


def unsigned_tx(p: Partial) -> Tx:
    return p.tx


def signatures(p: Partial, index: int) -> dict[bytes, bytes]:
    return dict(p.sigs[index])


def with_signature(p: Partial, index: int, key: Key, sig: bytes) -> Partial:
    sigs = list(p.sigs)
    sigs[index] = {**sigs[index], key.pubkey: sig}
    return Partial(p.tx, p.coins, tuple(sigs))


def is_ours(manager: WalletManager, lw: LoadedWallet, p: Partial, index: int) -> bool:
    return lw.wallet.owns(p.coins[index][1])


def policy_spend_psbt(
    manager: WalletManager, tx: Tx, coins: Sequence[tuple[int, bytes]]
) -> Partial:
    return Partial(tx, tuple(coins), tuple({} for _ in tx.inputs))


def funded(
    manager: WalletManager, lw: LoadedWallet, outputs: Sequence[TxOut], fee_rate: int | None
) -> Partial:
    """The wallet's coins paying ``outputs`` with change, each input's public key in place
    (Core's walletcreatefundedpsbt). Not replaceable: the other party signs it too."""
    rate = manager.fee_rate(fee_rate)
    tx, _, _ = manager.fund(lw, outputs, rate, replaceable=False)
    inputs, coins = [], []
    for inp in tx.inputs:
        coin = manager.spent_coin(inp.outpoint_key)
        assert coin is not None
        key = lw.wallet.key_for(coin[1])
        assert key is not None
        inputs.append(TxIn(inp.prev_txid, inp.prev_index, key.pubkey, b""))
        coins.append(coin)
    with_keys = Tx(tx.version, tuple(inputs), tx.outputs, tx.locktime)
    return Partial(with_keys, tuple(coins), tuple({} for _ in inputs))


def _unsigned(p: Partial, what: str) -> None:
    if any(p.sigs):
        raise ContractError(f"cannot {what} a tx someone already signed")


def join(manager: WalletManager, parts: Sequence[Partial]) -> Partial:
    """One tx of every part's inputs and outputs (Core's joinpsbts), none signed yet."""
    first = parts[0].tx
    for p in parts:
        _unsigned(p, "join")
        if (p.tx.version, p.tx.locktime) != (first.version, first.locktime):
            raise ContractError("the parts to join differ in version or locktime")
    keys = [i.outpoint_key for p in parts for i in p.tx.inputs]
    if len(set(keys)) != len(keys):
        raise ContractError("the parts to join spend the same coin")
    tx = Tx(
        first.version,
        tuple(i for p in parts for i in p.tx.inputs),
        tuple(o for p in parts for o in p.tx.outputs),
        first.locktime,
    )
    return Partial(tx, tuple(c for p in parts for c in p.coins), tuple({} for _ in tx.inputs))


def add_policy_spend(
    manager: WalletManager,
    p: Partial,
    coin: tuple[bytes, int, int, bytes, bytes],
    output: TxOut,
) -> Partial:
    """``p`` with one more input, spending a policy coin (txid, vout, value, lock, policy),
    and one more output."""
    _unsigned(p, "extend")
    txid, vout, value, lock, policy = coin
    tx = Tx(
        p.tx.version,
        (*p.tx.inputs, TxIn(txid, vout, policy, b"")),
        (*p.tx.outputs, output),
        p.tx.locktime,
    )
    return Partial(tx, (*p.coins, (value, lock)), (*p.sigs, {}))


def sign_ours(manager: WalletManager, lw: LoadedWallet, p: Partial) -> Partial:
    """Sign (ALL) every key input whose coin is one of the wallet's keys."""
    sigs = list(p.sigs)
    txid = p.tx.txid
    for n, (value, lock) in enumerate(p.coins):
        key = lw.wallet.key_for(lock)
        if key is None or key.pubkey in sigs[n]:
            continue
        key_type, secret = lw.wallet.secret_for(lock)
        sig = REGISTRY[key_type].sign(secret, sighash(manager.params, txid, n, value, lock))
        sigs[n] = {**sigs[n], key.pubkey: sig}
    return Partial(p.tx, p.coins, tuple(sigs))


def try_finish(p: Partial, sats: dict[int, Any]) -> Tx | None:
    """The final tx: key inputs with their signature, policy inputs with ``sats[n]``;
    None while anything is missing."""
    inputs = []
    for n, inp in enumerate(p.tx.inputs):
        if p.coins[n][1][0] == POLICY_LOCK_KIND:
            if n not in sats:
                return None
            sig = encode_satisfaction(sats[n])
        else:
            found = p.sigs[n].get(inp.pubkey)
            if found is None:
                return None
            sig = found
        inputs.append(TxIn(inp.prev_txid, inp.prev_index, inp.pubkey, sig))
    return Tx(p.tx.version, tuple(inputs), p.tx.outputs, p.tx.locktime)


def finish(p: Partial, sats: dict[int, Any]) -> Tx:
    tx = try_finish(p, sats)
    if tx is None:
        raise ContractError("the tx still misses a signature")
    return tx
