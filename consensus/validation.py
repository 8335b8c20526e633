"""Validation in two tiers.

Context-free (``check_tx``, ``check_header``, ``check_block``) looks only at the object.
Contextual (``contextual_check_header``, ``check_tx_inputs``, ``connect_block``) is given
everything else as arguments: the coin view, the height, the median time past, the node's
clock reading, the expected bits. Nothing here reads a clock, a socket or a database.

Signature checks are collected as plain tuples (``SigCheck``) and verified last, through a
``verify`` callable the caller may replace with a cached one, or handed as they are found
to a ``SigBatch`` that may verify them elsewhere (worker processes) while the rest of the
block is checked; the verdict is the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from hashlib import blake2b
from typing import Protocol

from .coins import Coin, CoinView, CoinViewCache, new_coin
from .errors import RejectCode, RuleError
from .merkle import merkle_root
from .params import (
    LOCKTIME_THRESHOLD,
    MAX_FUTURE_BLOCK_TIME,
    MAX_MONEY,
    NetworkParams,
    block_subsidy,
)
from .policy import SpendContext, policy_sig_checks, used_key_count
from .pow import check_proof_of_work
from .primitives import (
    MAX_COINBASE_SIG_SIZE,
    NULL_OUTPOINT_KEY,
    POLICY_LOCK_KIND,
    Block,
    BlockHeader,
    Tx,
    outpoint_key,
)
from .sighash import flagged_sig, sighash_from_head, sighash_head
from .signatures import REGISTRY

# (key type, pubkey, sig, message): one signature to verify.
SigCheck = tuple[int, bytes, bytes, bytes]
Verifier = Callable[[Sequence[SigCheck]], None]
BlockUndo = tuple[Coin, ...]


class SigBatch(Protocol):
    """Signature checks handed over while a block is validated, settled at the end.

    ``known_valid(tx)`` says whether every input check of ``tx`` (``input_sig_checks``
    and the signatures) already passed once, for example when it entered the mempool:
    they depend only on the tx (its wtxid) and the outputs it spends, which its outpoints
    fix, so such a tx needs none of them again. ``add`` may start verifying at once,
    elsewhere, and never raises for a bad signature. ``finish`` returns when every check
    added has passed, or raises the ``RuleError`` of the first failing check in the order
    added: what ``verify_sig_checks`` would raise given them all in one list.
    """

    def known_valid(self, tx: Tx) -> bool: ...

    def add(self, checks: Sequence[SigCheck]) -> None: ...

    def finish(self) -> None: ...


def _fail(code: RejectCode, message: str = "") -> RuleError:
    return RuleError(code, message)


# --- context-free -------------------------------------------------------------------


def check_tx(tx: Tx, params: NetworkParams) -> None:
    """Rules that hold for a tx wherever it appears."""
    inputs = tx.inputs
    if not inputs:
        raise _fail(RejectCode.TX_NO_INPUTS, "a transaction needs at least one input")
    if not tx.outputs:
        raise _fail(RejectCode.TX_NO_OUTPUTS, "a transaction needs at least one output")
    if len(tx.serialize()) > params.max_block_size:
        raise _fail(RejectCode.TX_OVERSIZE, "transaction larger than a block")
    total = 0
    for out in tx.outputs:
        if out.value > MAX_MONEY:
            raise _fail(RejectCode.TX_OUTPUT_TOO_LARGE, "output value above MAX_MONEY")
        total += out.value
        if total > MAX_MONEY:
            raise _fail(RejectCode.TX_OUTPUT_TOTAL_TOO_LARGE, "sum of outputs above MAX_MONEY")
    keys = {i.outpoint_key for i in inputs}
    if len(keys) != len(inputs):
        raise _fail(RejectCode.TX_DUPLICATE_INPUTS, "the same coin is spent twice")
    if NULL_OUTPOINT_KEY in keys:
        if len(inputs) == 1:  # the coinbase
            cb = inputs[0]
            if len(cb.pubkey) != 4:
                raise _fail(
                    RejectCode.TX_COINBASE_SHAPE, "coinbase pubkey must be the 4-byte height"
                )
            if len(cb.sig) > MAX_COINBASE_SIG_SIZE:
                raise _fail(RejectCode.TX_COINBASE_LENGTH, "coinbase free field above 100 bytes")
        else:
            raise _fail(RejectCode.TX_PREVOUT_NULL, "a non-coinbase input spends the null outpoint")


def check_header(header: BlockHeader, params: NetworkParams) -> None:
    if header.version < 1:
        raise _fail(RejectCode.BLOCK_BAD_VERSION, "block version must be at least 1")
    check_proof_of_work(header.hash, header.bits, params)


def check_block(block: Block, params: NetworkParams) -> None:
    """Everything about a block that needs no chain: PoW, merkle root, shape, limits."""
    check_header(block.header, params)
    txs = block.txs
    if not txs:
        raise _fail(RejectCode.BLOCK_NO_TXS, "a block needs at least a coinbase")
    if merkle_root([tx.wtxid for tx in txs]) != block.header.merkle_root:
        raise _fail(RejectCode.BLOCK_BAD_MERKLE_ROOT, "merkle root does not match the txs")
    if block.size > params.max_block_size:
        raise _fail(RejectCode.BLOCK_OVERSIZE, "block larger than the size limit")
    if not txs[0].is_coinbase:
        raise _fail(RejectCode.BLOCK_COINBASE_MISSING, "first transaction is not a coinbase")
    for tx in txs[1:]:
        if tx.is_coinbase:
            raise _fail(RejectCode.BLOCK_COINBASE_MULTIPLE, "more than one coinbase")
    for tx in txs:
        check_tx(tx, params)
    if len({tx.txid for tx in txs}) != len(txs):
        raise _fail(RejectCode.BLOCK_DUPLICATE_TX, "duplicate transaction")


# --- contextual ---------------------------------------------------------------------


def median_time_past(times: Sequence[int]) -> int:
    """Median of the last (up to 11) block times, the parent's included."""
    ordered = sorted(times)
    return ordered[len(ordered) // 2]


def contextual_check_header(
    header: BlockHeader,
    *,
    expected_bits: int,
    median_time_past: int,
    now: int,
    params: NetworkParams,
) -> None:
    if header.bits != expected_bits:
        raise _fail(
            RejectCode.BLOCK_BAD_BITS, f"bits {header.bits:#x}, expected {expected_bits:#x}"
        )
    if header.time <= median_time_past:
        raise _fail(RejectCode.BLOCK_TIME_TOO_OLD, "time not above the median of the last 11")
    if header.time >= now + MAX_FUTURE_BLOCK_TIME:
        raise _fail(RejectCode.BLOCK_TIME_TOO_NEW, "time two hours or more ahead of the node")


def is_final_tx(tx: Tx, height: int, median_time_past: int) -> bool:
    """Locktime below 500,000,000 is a height, else a time compared with median time past."""
    if tx.locktime == 0:
        return True
    cutoff = height if tx.locktime < LOCKTIME_THRESHOLD else median_time_past
    return tx.locktime < cutoff


def check_tx_inputs(
    tx: Tx, view: CoinView, spend_height: int, params: NetworkParams
) -> tuple[int, list[Coin]]:
    """(fee, spent coins) of a non-coinbase tx, or the reason it cannot spend its inputs."""
    value_in = 0
    coins: list[Coin] = []
    get_coin = view.get_coin
    for inp in tx.inputs:
        coin = get_coin(inp.outpoint_key)
        if coin is None:
            raise _fail(RejectCode.TX_MISSING_OR_SPENT, f"input {len(coins)} is missing or spent")
        if coin.coinbase and spend_height - coin.height < params.coinbase_maturity:
            raise _fail(
                RejectCode.TX_PREMATURE_COINBASE_SPEND,
                f"tried to spend a coinbase at depth {spend_height - coin.height}",
            )
        value = coin.value
        value_in += value
        if not 0 <= value <= MAX_MONEY or value_in > MAX_MONEY:
            raise _fail(RejectCode.TX_INPUT_VALUES_OUT_OF_RANGE, "input values out of range")
        coins.append(coin)
    value_out = 0
    for out in tx.outputs:
        value_out += out.value
    if value_in < value_out:
        raise _fail(RejectCode.TX_IN_BELOW_OUT, f"value in {value_in} below value out {value_out}")
    return value_in - value_out, coins


def input_sig_checks(tx: Tx, coins: Sequence[Coin], params: NetworkParams) -> list[SigCheck]:
    """Check every input's key against the lock it spends; return the signatures to verify."""
    head = sighash_head(params, tx.txid)
    checks: list[SigCheck] = []
    for n, (inp, coin) in enumerate(zip(tx.inputs, coins, strict=True)):
        lock = coin.lock
        key_type = lock[0]
        scheme = REGISTRY.get(key_type)
        if scheme is None:
            if key_type == POLICY_LOCK_KIND:
                checks += _policy_checks(tx, n, coin, head, params)
                continue
            raise _fail(RejectCode.TX_UNKNOWN_KEY_TYPE, f"input {n} spends an unknown key type")
        pubkey = inp.pubkey
        if len(pubkey) != scheme.pubkey_len:
            raise _fail(RejectCode.TX_WRONG_KEY_TYPE, f"input {n}: not a {scheme.name} key")
        if blake2b(pubkey, digest_size=20).digest() != lock[1:]:
            raise _fail(RejectCode.TX_LOCK_MISMATCH, f"input {n}: key does not match the lock")
        sig = inp.sig
        msg = sighash_from_head(head, n, coin.value, lock)
        if len(sig) == 65:
            sig, msg = flagged_sig(sig, params, tx, n, coin.value, lock)
        checks.append((key_type, pubkey, sig, msg))
    return checks


def _policy_checks(
    tx: Tx, n: int, coin: Coin, head: bytes, params: NetworkParams
) -> list[SigCheck]:
    inp = tx.inputs[n]
    all_msg = sighash_from_head(head, n, coin.value, coin.lock)
    ctx = SpendContext(params, tx, n, coin.value, coin.lock, all_msg)
    return policy_sig_checks(inp.pubkey, inp.sig, ctx)


def tx_sigchecks(tx: Tx, coins: Sequence[Coin]) -> int:
    """The signature checks of a valid tx: one per key input, one per used policy key."""
    count = 0
    for inp, coin in zip(tx.inputs, coins, strict=True):
        count += used_key_count(inp.pubkey, inp.sig) if coin.lock[0] == POLICY_LOCK_KIND else 1
    return count


def verify_sig_checks(checks: Sequence[SigCheck]) -> None:
    """The plain verifier: each signature, in order, in this process."""
    for key_type, pubkey, sig, msg in checks:
        REGISTRY[key_type].verify(pubkey, sig, msg)


def check_tx_contextual(
    tx: Tx,
    view: CoinView,
    height: int,
    median_time_past: int,
    params: NetworkParams,
    verify: Verifier = verify_sig_checks,
) -> int:
    """Everything a non-coinbase tx must satisfy to enter a block at ``height``; the fee."""
    if not is_final_tx(tx, height, median_time_past):
        raise _fail(RejectCode.TX_NONFINAL, "locktime not yet reached")
    fee, coins = check_tx_inputs(tx, view, height, params)
    verify(input_sig_checks(tx, coins, params))
    return fee


def connect_block(
    block: Block,
    view: CoinViewCache,
    height: int,
    median_time_past: int,
    params: NetworkParams,
    verify: Verifier = verify_sig_checks,
    sigs: SigBatch | None = None,
) -> BlockUndo:
    """Apply ``block`` (already through ``check_block``) to ``view``; return its undo data.

    Signatures are the verdict's last word: every other rule of every tx is checked first.
    Without ``sigs``, the signature checks are passed to ``verify`` in one list at the end.
    With ``sigs``, each tx's checks go to it as soon as they are known, and settling them
    is left to the caller: the block is valid only once ``sigs.finish()`` has returned, so
    that the caller can prepare its writes while they are verified elsewhere, and must not
    commit anything before. On a RuleError the view holds a partial change and must be
    thrown away (and ``sigs`` with it).
    """
    connector = BlockConnector(view, height, median_time_past, params, verify, sigs)
    for tx in block.txs:
        connector.add(tx)
    return connector.finish()


class BlockConnector:
    """``connect_block`` one tx at a time, the coinbase first: ``add`` each tx in block
    order, then ``finish``. For a caller that has the txs before the whole block (a block
    still being decoded): the same rules in the same order, so the same verdict."""

    __slots__ = (
        "_add_checks",
        "_checks",
        "_coinbase",
        "_fees",
        "_known_valid",
        "_sigchecks",
        "_spent",
        "height",
        "median_time_past",
        "params",
        "sigs",
        "verify",
        "view",
    )

    def __init__(
        self,
        view: CoinViewCache,
        height: int,
        median_time_past: int,
        params: NetworkParams,
        verify: Verifier = verify_sig_checks,
        sigs: SigBatch | None = None,
    ) -> None:
        self.view = view
        self.height = height
        self.median_time_past = median_time_past
        self.params = params
        self.verify = verify
        self.sigs = sigs
        self._coinbase: Tx | None = None
        self._fees = 0
        self._sigchecks = 0
        self._spent: list[Coin] = []
        self._checks: list[SigCheck] = []
        self._add_checks = self._checks.extend if sigs is None else sigs.add
        self._known_valid = None if sigs is None else sigs.known_valid

    def add(self, tx: Tx) -> None:
        height = self.height
        is_coinbase = self._coinbase is None
        if is_coinbase:
            if tx.inputs[0].pubkey != height.to_bytes(4, "little"):
                raise _fail(
                    RejectCode.BLOCK_COINBASE_HEIGHT,
                    f"coinbase does not commit to height {height}",
                )
            self._coinbase = tx
        if tx.locktime and not is_final_tx(tx, height, self.median_time_past):
            raise _fail(RejectCode.TX_NONFINAL, "block contains a non-final transaction")
        view = self.view
        if not is_coinbase:
            fee, coins = check_tx_inputs(tx, view, height, self.params)
            self._fees += fee
            if self._fees > MAX_MONEY:
                raise _fail(RejectCode.TX_INPUT_VALUES_OUT_OF_RANGE, "total fees out of range")
            known_valid = self._known_valid
            if known_valid is None or not known_valid(tx):
                checks = input_sig_checks(tx, coins, self.params)
                self._sigchecks += len(checks)
                self._add_checks(checks)
            else:
                self._sigchecks += tx_sigchecks(tx, coins)
            if self._sigchecks > self.params.max_block_sigchecks:
                raise _fail(RejectCode.BLOCK_TOO_MANY_SIGCHECKS, "too many signature checks")
            spend_coin = view.spend_coin
            for inp in tx.inputs:
                spend_coin(inp.outpoint_key)
            self._spent += coins
        txid = tx.txid
        add_coin = view.add_coin
        for index, out in enumerate(tx.outputs):
            add_coin(
                txid + index.to_bytes(4, "little"),
                new_coin(out.value, out.lock, height, is_coinbase),
            )

    def finish(self) -> BlockUndo:
        """The block's last rules (the coinbase's reward); its undo data."""
        coinbase = self._coinbase
        if coinbase is None:
            raise ValueError("a block has at least its coinbase")
        reward = sum(o.value for o in coinbase.outputs)
        allowed = block_subsidy(self.height, self.params) + self._fees
        if reward > allowed:
            raise _fail(
                RejectCode.BLOCK_COINBASE_AMOUNT, f"coinbase pays {reward}, limit {allowed}"
            )
        if self.sigs is None:
            self.verify(self._checks)
        return tuple(self._spent)


def disconnect_block(
    block: Block, undo: BlockUndo, view: CoinViewCache, *, check_height: int | None = None
) -> None:
    """Undo ``connect_block``: remove the block's outputs, restore the coins it spent, tx
    by tx from the last (a coin created and spent in the block is found in between).

    With ``check_height`` (the block's height; verifychain), also check that each coin
    removed is the one the block created and each coin restored was spent and is older:
    ValueError on the first that is not."""
    remaining = len(undo)
    for tx in reversed(block.txs):
        txid = tx.txid
        for index, out in enumerate(tx.outputs):
            key = outpoint_key(txid, index)
            if check_height is not None and view.get_coin(key) != Coin(
                out.value, out.lock, check_height, tx.is_coinbase
            ):
                raise ValueError(f"output {tx.txid_hex}:{index} is not in the coin set as created")
            view.spend_coin(key)
        if tx.is_coinbase:
            continue
        remaining -= len(tx.inputs)
        if remaining < 0:
            raise ValueError("undo data does not match the block")
        for inp, coin in zip(tx.inputs, undo[remaining : remaining + len(tx.inputs)], strict=True):
            if check_height is not None and (
                coin.height > check_height or view.get_coin(inp.outpoint_key) is not None
            ):
                raise ValueError(f"coin spent by {tx.txid_hex} is unspent or from the future")
            view.add_coin(inp.outpoint_key, coin)
    if remaining != 0:
        raise ValueError("undo data does not match the block")
