"""The PSBTs the contract flows hand from one party to the next (``wallet.psbt``).

Every flow step goes through this module's few operations (fund a part, join parts, add a
signature, sign the wallet's key inputs, finalize), so the flows never touch the string
form. A key input carries its public key and a policy input its policy in the unsigned
tx already: the txid covers them, so it is fixed before anyone signs, and every party
signs the same tx. A PSBT read from another party is checked whole: its format
(``decode_psbt``: -22 with the reason) and every input's coin against the chain and the
mempool, so nobody signs for a coin that is not what the PSBT says.
"""

from __future__ import annotations

from collections.abc import Sequence

from consensus.policy import Key
from consensus.primitives import Tx, TxIn, TxOut
from wallet import psbt as fmt
from wallet.contracts import ContractError
from wallet.psbt import Psbt, PsbtError, PsbtInput, PsbtOutput

from ..wallets.manager import LoadedWallet, WalletManager


def encode(p: Psbt) -> str:
    return fmt.encode_psbt(p)


def decode(manager: WalletManager, text: str) -> Psbt:
    """The PSBT ``text`` holds, every input's coin known and checked against the chain."""
    try:
        p = fmt.decode_psbt(text, manager.params.magic)
    except PsbtError as exc:
        raise ContractError(f"PSBT decode failed: {exc.message}") from exc
    for n, (txin, pin) in enumerate(zip(p.tx.inputs, p.inputs, strict=True)):
        coin = manager.spent_coin(txin.outpoint_key)
        if pin.coin is None or coin is None or (pin.coin.value, pin.coin.lock) != coin:
            raise ContractError(
                f"the coin of input {n} ({txin.prev_txid[::-1].hex()}:{txin.prev_index}) "
                "disagrees with the chain (unknown, spent, or another value or lock)"
            )
    return p


def unsigned_tx(p: Psbt) -> Tx:
    return p.tx


def signatures(p: Psbt, index: int) -> dict[bytes, bytes]:
    """The partial signatures of input ``index``, by public key."""
    return {key.pubkey: sig for key, sig in p.inputs[index].sigs}


def with_signature(p: Psbt, index: int, key: Key, sig: bytes) -> Psbt:
    return fmt.add_signature(p, index, key, sig)


def is_ours(manager: WalletManager, lw: LoadedWallet, p: Psbt, index: int) -> bool:
    coin = p.inputs[index].coin
    return coin is not None and lw.wallet.owns(coin.lock)


def _with_coins(manager: WalletManager, tx: Tx, coins: Sequence[tuple[int, bytes]]) -> Psbt:
    p = fmt.create_psbt(tx, manager.params.magic)
    for n, (value, lock) in enumerate(coins):
        p = fmt.update_input(p, n, coin=TxOut(value, lock))
    return p


def policy_spend_psbt(manager: WalletManager, tx: Tx, coins: Sequence[tuple[int, bytes]]) -> Psbt:
    """A PSBT of a tx whose inputs' pubkey fields are in place, with their coins."""
    return _with_coins(manager, tx, coins)


def funded(
    manager: WalletManager, lw: LoadedWallet, outputs: Sequence[TxOut], fee_rate: int | None
) -> Psbt:
    """The wallet's coins paying ``outputs`` with change, each input's public key and
    coin in place (Core's walletcreatefundedpsbt with ``lockUnspents``). Not
    replaceable: others sign it too. The coins are locked as lockunspent locks them: the
    other party broadcasts the tx, so until it reaches this node's mempool nothing else
    marks them spent, and a second flow started meanwhile would pick them again.
    listlockunspent shows them; ``lockunspent true`` frees them if the tx is never sent."""
    rate = manager.fee_rate(fee_rate)
    tx, _, _ = manager.fund(lw, outputs, rate, replaceable=False)
    lw.locked_coins.update(inp.outpoint_key for inp in tx.inputs)
    inputs, coins = [], []
    for inp in tx.inputs:
        coin = manager.spent_coin(inp.outpoint_key)
        assert coin is not None
        key = lw.wallet.key_for(coin[1])
        assert key is not None, "coin selection picks only the wallet's key coins"
        inputs.append(TxIn(inp.prev_txid, inp.prev_index, key.pubkey, b""))
        coins.append(coin)
    with_keys = Tx(tx.version, tuple(inputs), tx.outputs, tx.locktime)
    p = _with_coins(manager, with_keys, coins)
    for n, out in enumerate(tx.outputs):
        key = lw.wallet.key_for(out.lock)
        if key is not None:
            p = fmt.update_output(p, n, PsbtOutput(key=Key(key.key_type, key.pubkey)))
    return p


def join(manager: WalletManager, parts: Sequence[Psbt]) -> Psbt:
    """One tx of every part's inputs and outputs (joinpsbts), none signed yet."""
    try:
        return fmt.join(parts)
    except PsbtError as exc:
        raise ContractError(exc.message) from exc


def add_policy_spend(
    manager: WalletManager,
    p: Psbt,
    coin: tuple[bytes, int, int, bytes, bytes],
    output: TxOut,
) -> Psbt:
    """``p`` with one more input, spending a policy coin (txid, vout, value, lock, policy),
    and one more output; nobody has signed ``p`` yet."""
    if any(pin.sigs or pin.final is not None for pin in p.inputs):
        raise ContractError("cannot extend a tx someone already signed")
    txid, vout, value, lock, policy = coin
    tx = Tx(
        p.tx.version,
        (*p.tx.inputs, TxIn(txid, vout, policy, b"")),
        (*p.tx.outputs, output),
        p.tx.locktime,
    )
    return Psbt(
        p.magic,
        tx,
        (*p.inputs, PsbtInput(coin=TxOut(value, lock))),
        (*p.outputs, PsbtOutput()),
    )


def sign_ours(manager: WalletManager, lw: LoadedWallet, p: Psbt) -> Psbt:
    """Sign (ALL) every key input whose coin is one of the wallet's keys."""
    for n, pin in enumerate(p.inputs):
        if pin.coin is None or pin.final is not None:
            continue
        key = lw.wallet.key_for(pin.coin.lock)
        if key is None or key.pubkey in signatures(p, n):
            continue
        key_type, secret = lw.wallet.secret_for(pin.coin.lock)
        p = fmt.sign_input(p, n, key_type, secret, manager.params)
    return p


def try_finish(manager: WalletManager, p: Psbt) -> Tx | None:
    """The final tx (each policy input's satisfaction built by the finalizer, exactly k
    of each used threshold), or None while a signature is missing."""
    final = fmt.finalize(p, manager.params)
    return fmt.extract(final) if fmt.is_complete(final) else None
