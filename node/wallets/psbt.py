"""A node's and a wallet's part in partially signed txs (wallet/psbt.py): coins from the
node's coin set, keys and policies from a wallet, signatures by the wallet's keys.

The PSBT RPCs and the contract flows both go through these, so a PSBT is checked the same
way wherever it comes in: ``read_psbt`` decodes it whole and refuses one whose coins
disagree with the node's (chain or mempool). A coin the node does not know (spent, or not
seen yet) is taken at the PSBT's word: signatures commit to the coin's value and lock, so
a wrong one only makes them invalid.
"""

from __future__ import annotations

from consensus.params import NetworkParams
from consensus.policy import Key, policy_keys
from consensus.primitives import TxOut
from consensus.signatures import make_lock
from wallet import psbt as P
from wallet.psbt import Psbt, PsbtError, PsbtOutput, decode_psbt

from .manager import LoadedWallet, WalletManager, format_units


def node_coin(manager: WalletManager, psbt: Psbt, index: int) -> TxOut | None:
    """The coin input ``index`` spends, as the node knows it (chain, then mempool)."""
    found = manager.spent_coin(psbt.tx.inputs[index].outpoint_key)
    return None if found is None else TxOut(*found)


def check_coins(manager: WalletManager, psbt: Psbt) -> None:
    """PsbtError if a coin of the PSBT differs from the node's."""
    for n, pin in enumerate(psbt.inputs):
        known = node_coin(manager, psbt, n)
        if pin.coin is not None and known is not None and known != pin.coin:
            raise PsbtError(
                f"input {n}: the PSBT's coin ({format_units(pin.coin.value)} OBOL to lock "
                f"{pin.coin.lock.hex()}) disagrees with the chain's "
                f"({format_units(known.value)} OBOL to lock {known.lock.hex()})"
            )


def read_psbt(manager: WalletManager, text: str) -> Psbt:
    """The PSBT of base64 ``text`` for this node's network, its coins checked."""
    psbt = decode_psbt(text, manager.params.magic)
    check_coins(manager, psbt)
    return psbt


def fill_coins(manager: WalletManager, psbt: Psbt) -> Psbt:
    """The PSBT with every coin the node knows and the PSBT lacks filled in."""
    for n, pin in enumerate(psbt.inputs):
        if pin.coin is None and (coin := node_coin(manager, psbt, n)) is not None:
            psbt = P.update_input(psbt, n, coin)
    return psbt


def update_from_wallet(lw: LoadedWallet, psbt: Psbt) -> Psbt:
    """The PSBT with what the wallet knows: the keys of its key inputs, the policies it
    watches (``addmultisigaddress``, ``addpolicyaddress``), and the description of
    outputs to its keys and policies. PsbtError if a field cannot be added any more (an
    input is already signed ALL)."""
    wallet = lw.wallet
    for n, pin in enumerate(psbt.inputs):
        if pin.coin is None or psbt.tx.inputs[n].pubkey:
            continue
        key = wallet.key_for(pin.coin.lock)
        field = key.pubkey if key is not None else None
        if field is None:
            field = wallet.policy_for_lock(pin.coin.lock)
        if field is not None:
            psbt = P.update_input(psbt, n, field=field)
    for n, out in enumerate(psbt.tx.outputs):
        if psbt.outputs[n] != PsbtOutput():
            continue
        key = wallet.key_for(out.lock)
        if key is not None:
            psbt = P.update_output(psbt, n, PsbtOutput(key=Key(key.key_type, key.pubkey)))
        elif (data := wallet.policy_for_lock(out.lock)) is not None:
            psbt = P.update_output(psbt, n, PsbtOutput(policy=data))
    return psbt


def sign_with_wallet(lw: LoadedWallet, psbt: Psbt, params: NetworkParams, acp: bool) -> Psbt:
    """Every input the wallet can sign, signed: its key inputs, and each of its keys in a
    policy input. ALL (``acp`` False) needs every input's key or policy in place
    (PsbtError otherwise); ``WalletLocked`` if the wallet is locked and has a key to use."""
    wallet = lw.wallet
    for n, pin in enumerate(psbt.inputs):
        spend = psbt.spend(n)
        if pin.final is not None or pin.coin is None or spend is None:
            continue
        keys = policy_keys(spend)  # a key spend's one key, or the policy's keys
        for key in keys:
            lock = make_lock(key.key_type, key.pubkey)
            if wallet.key_for(lock) is not None:
                key_type, secret = wallet.secret_for(lock)
                psbt = P.sign_input(psbt, n, key_type, secret, params, acp)
    return psbt
