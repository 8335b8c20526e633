"""Wallets inside the node: where they live, what they own, and how they spend.

``wallet/`` holds the pure parts (keys, keystore, coin selection, signing); this module
gives them the node's view of the chain. A wallet's coins and history are not stored in
the wallet: they come from the node's address index (``ChainDB.address_coins`` and
``address_history``, kept in the same atomic batch as the coins) overlaid with the mempool,
so a restored wallet sees its balance at once and a reorg needs no wallet rescan.

Files: ``<netdir>/wallets/<name>/wallet.json`` (``Wallet.to_json``), written atomically
(temporary file, fsync, rename, fsync of the directory) with mode 0600. Once a wallet is
encrypted its file holds only the keystore blob; copies of the old clear file may survive in
free filesystem blocks or backups, so, as Bitcoin Core advises, a wallet that was ever
unencrypted is best replaced by a new encrypted one and its funds moved there.

Balances follow Bitcoin Core's ``getbalances``: *trusted* is confirmed mature coins plus
unconfirmed outputs of txs whose inputs are all ours (our own change); *untrusted_pending*
is unconfirmed coins from others; *immature* is coinbase outputs fewer than
``coinbase_maturity + 1`` blocks deep (Core's wallet waits one block more than consensus).

Spending holds the wallet's ``asyncio.Lock`` from coin selection to mempool acceptance, and
selection skips every coin a mempool tx spends, so concurrent sends never pick one coin
twice, and every coin the wallet reserved for a crowdfunding pledge. Confirmed coins are
tried first; unconfirmed own change only if they do not suffice.

``OBOL_TEST_FAST_KDF=1`` in the environment makes new keystores use libsodium's minimum
Argon2id limits instead of "moderate" (about a second and 256 MiB per unlock). It exists
for the test suite only: never set it for a wallet that holds real value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from consensus.coins import Coin
from consensus.encoding import decode_tx
from consensus.errors import RuleError
from consensus.params import COIN
from consensus.primitives import (
    POLICY_LOCK_KIND,
    POLICY_LOCK_SIZE,
    Tx,
    TxIn,
    TxOut,
    outpoint_key,
)
from p2p.tasks import cancel_and_wait, start_supervised
from wallet import keystore
from wallet.coinselect import Candidate, Selection, select_coins, select_subtracting_fee
from wallet.errors import InsufficientFunds, WalletError
from wallet.hd import EXTERNAL_CHAIN, INTERNAL_CHAIN
from wallet.mnemonic import NEW_WALLET_ENTROPY_BYTES
from wallet.txbuild import input_size, sign_inputs, unsigned_tx
from wallet.wallet import SentRecord, Wallet, WalletKey, mnemonic_entropy

from ..mempool.policy import (
    FINAL_TX_VERSION,
    REPLACEABLE_TX_VERSION,
    PolicyError,
    signals_replaceable,
)
from ..mempool.pool import MempoolEntry

if TYPE_CHECKING:
    from .host import WalletHost

log = logging.getLogger("obol.wallet")

DEFAULT_WALLET = "default"
WALLET_FILE = "wallet.json"
SETTINGS_FILE = "settings.json"
FALLBACK_FEE_RATE = 10  # units per byte, Core's -fallbackfee: obol has no fee estimator
MAX_UNLOCK_SECONDS = 100_000_000  # Core's cap on walletpassphrase's timeout
# Unconfirmed wallet txs are announced again this often. Core waits about a day on a real
# network; a local one mines every few seconds and is partitioned on purpose, so a minute.
REBROADCAST_INTERVAL = 60.0
MAX_SENT_SCANNED = 10_000  # the newest sent txs looked at per round
MAX_REBROADCAST = 1_000  # txs announced per wallet per round
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def kdf_limits() -> tuple[int, int] | None:
    """Argon2id limits for new keystores: the keystore's default unless the test switch is on."""
    if os.environ.get("OBOL_TEST_FAST_KDF") == "1":
        return keystore.FAST_KDF_LIMITS
    return None


class WalletNotFound(WalletError):
    """No wallet of that name is loaded, or none exists (RPC_WALLET_NOT_FOUND)."""


class WalletNotSpecified(WalletError):
    """Several wallets are loaded and the call named none (RPC_WALLET_NOT_SPECIFIED)."""


class WalletAlreadyLoaded(WalletError):
    """The wallet is loaded already (RPC_WALLET_ALREADY_LOADED)."""


class WalletAlreadyExists(WalletError):
    """A wallet of that name exists already (RPC_WALLET_ALREADY_EXISTS)."""


class InvalidTxid(WalletError):
    """A txid the wallet does not know (RPC_INVALID_ADDRESS_OR_KEY)."""


class InvalidWalletParameter(WalletError):
    """An argument the wallet cannot use (RPC_INVALID_PARAMETER)."""


def format_units(units: int) -> str:
    return f"{units // COIN}.{units % COIN:08d}"


@dataclass(frozen=True, slots=True)
class OwnedCoin:
    """An unspent output of a lock we watch, confirmed or created by a mempool tx."""

    txid: bytes
    index: int
    value: int
    lock: bytes
    height: int | None  # None while unconfirmed
    coinbase: bool
    from_me: bool  # unconfirmed and every input of its tx was ours (our change)

    @property
    def key(self) -> bytes:
        return outpoint_key(self.txid, self.index)

    @property
    def contract(self) -> bool:
        """A coin of a contract (a policy lock): the wallet holds only part of its keys."""
        return self.lock[0] == POLICY_LOCK_KIND

    def depth(self, tip_height: int) -> int:
        return 0 if self.height is None else tip_height - self.height + 1


@dataclass(frozen=True, slots=True)
class Balances:
    trusted: int
    untrusted_pending: int
    immature: int


@dataclass(frozen=True, slots=True)
class WalletTx:
    """A tx touching our locks, where it is, and the coins its inputs spent."""

    tx: Tx
    height: int | None  # None: in the mempool
    position: int  # in its block (0 for mempool txs)
    block_hash: bytes | None
    block_time: int | None
    time: int
    spent: tuple[tuple[int, bytes] | None, ...]  # (value, lock) per input; None: coinbase


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of listtransactions: a payment in or out of the wallet."""

    category: str  # "send", "receive", "generate" or "immature"
    lock: bytes
    amount: int  # negative for sends
    vout: int
    fee: int | None  # negative, on sends of a tx whose inputs are all ours


@dataclass(frozen=True, slots=True)
class TxSummary:
    """gettransaction's totals: net amount without the fee, and the fee if we paid it."""

    entries: tuple[Entry, ...]
    amount: int
    fee: int | None


class LoadedWallet:
    """A wallet in memory: its data, file, spending lock and unlock timer."""

    def __init__(self, name: str, path: Path, wallet: Wallet) -> None:
        self.name = name
        self.path = path
        self.wallet = wallet
        self.lock = asyncio.Lock()
        self.relock_handle: asyncio.TimerHandle | None = None
        self.unlocked_until = 0
        # Outpoint keys lockunspent set aside: coin selection never picks them. In memory
        # only, as Core's default (non-persistent) locks: a restart or reload frees them.
        self.locked_coins: set[bytes] = set()

    def save(self) -> None:
        write_atomic(self.path, json.dumps(self.wallet.to_json(), indent=1).encode())


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, whole."""
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class WalletManager:
    """The loaded wallets and everything they read from the node."""

    def __init__(self, node: WalletHost) -> None:
        self.node = node
        self.params = node.params
        self.dir = node.config.netdir / "wallets"
        self.settings_path = node.config.netdir / SETTINGS_FILE
        self.loaded: dict[str, LoadedWallet] = {}
        self._rebroadcaster: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Create ``default`` on first start and load it (unless ``--no-wallet``), then
        the wallets marked load_on_startup, as Core does with its settings.json."""
        if not self.node.config.wallet:
            return
        if (self.dir / DEFAULT_WALLET / WALLET_FILE).exists():
            await self.load(DEFAULT_WALLET)
        else:
            await self.create(DEFAULT_WALLET)
        for name in self.startup_wallets():
            if name in self.loaded:
                continue
            try:
                await self.load(name)
            except WalletError as exc:
                log.warning("wallet %r marked load_on_startup was not loaded: %s", name, exc)
        self._rebroadcaster = start_supervised("wallet-rebroadcast", self._rebroadcast_loop, log)

    def startup_wallets(self) -> list[str]:
        """Names marked load_on_startup (``<netdir>/settings.json``, key ``wallet``)."""
        try:
            names = json.loads(self.settings_path.read_text()).get("wallet", [])
        except FileNotFoundError:
            return []
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("ignoring unreadable %s: %s", self.settings_path, exc)
            return []
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def set_load_on_startup(self, name: str, load: bool | None) -> None:
        """Core's load_on_startup argument: true adds, false removes, null leaves as is."""
        if load is None:
            return
        names = [n for n in self.startup_wallets() if n != name]
        if load:
            names.append(name)
        write_atomic(self.settings_path, json.dumps({"wallet": names}, indent=1).encode())

    async def stop(self) -> None:
        task, self._rebroadcaster = self._rebroadcaster, None
        if task is not None:
            await cancel_and_wait([task], log)
        for name in list(self.loaded):
            self.unload(name)

    async def _rebroadcast_loop(self) -> None:
        """Core's ResendWalletTransactions, on a local network's time scale: a tx that a
        peer dropped, or that never crossed a partition, is announced again."""
        while True:
            await asyncio.sleep(REBROADCAST_INTERVAL)
            for lw in list(self.loaded.values()):
                try:
                    await self.rebroadcast(lw)
                except Exception:
                    log.exception("wallet %s: rebroadcast failed", lw.name)

    async def rebroadcast(self, lw: LoadedWallet) -> int:
        """Resubmit the wallet's lost unconfirmed txs, then announce (up to
        MAX_REBROADCAST of) those in the mempool to every peer not known to have them."""
        await self._resubmit(lw)
        txs = [
            decode_tx(record.raw)
            for txid, record in islice(reversed(lw.wallet.sent.items()), MAX_SENT_SCANNED)
            if txid in self.node.mempool
        ][:MAX_REBROADCAST]
        if txs and self.node.p2p is not None:
            self.node.p2p.relay_txs(txs)
        return len(txs)

    # --- which wallet --------------------------------------------------------------

    def resolve(self, name: str | None) -> LoadedWallet:
        """The wallet a call is for: ``/wallet/<name>``, or the only one loaded."""
        if name is not None:
            lw = self.loaded.get(name)
            if lw is None:
                loaded = ", ".join(sorted(self.loaded)) or "none"
                raise WalletNotFound(
                    f"Requested wallet does not exist or is not loaded (loaded: {loaded})"
                )
            return lw
        if len(self.loaded) == 1:
            return next(iter(self.loaded.values()))
        if not self.loaded:
            raise WalletNotFound(
                "No wallet is loaded. Load a wallet using loadwallet or create a new one with "
                "createwallet."
            )
        raise WalletNotSpecified(
            "Wallet file not specified (must request wallet RPC through /wallet/<filename> "
            "uri-path)."
        )

    def _path(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise WalletError("Invalid wallet name: use up to 64 letters, digits, '.', '_' or '-'")
        return self.dir / name / WALLET_FILE

    async def create(
        self, name: str, mnemonic: str | None = None, passphrase: str | None = None
    ) -> LoadedWallet:
        """A new wallet (fresh 24 words, or restored from ``mnemonic``), saved and loaded;
        encrypted (and so locked) at once if ``passphrase`` is given."""
        path = self._path(name)
        entropy = (
            mnemonic_entropy(mnemonic)
            if mnemonic is not None
            else secrets.token_bytes(NEW_WALLET_ENTROPY_BYTES)
        )
        wallet = Wallet.create(self.params.name, entropy)
        if passphrase:
            await asyncio.to_thread(wallet.encrypt, passphrase, kdf_limits())
        if path.exists() or name in self.loaded:  # checked after the await: no race
            raise WalletAlreadyExists(
                f"Failed to create database path '{path.parent}'. Database already exists."
            )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lw = LoadedWallet(name, path, wallet)
        lw.save()
        self.loaded[name] = lw
        log.info("wallet %s created%s", name, " from a mnemonic" if mnemonic else "")
        self.refresh(lw)
        return lw

    async def load(self, name: str) -> LoadedWallet:
        path = self._path(name)
        if name in self.loaded:
            raise WalletAlreadyLoaded(
                f"Wallet file verification failed. Refusing to load database. Data file "
                f"'{path}' is already loaded."
            )
        if not path.exists():
            raise WalletNotFound(
                f"Wallet file verification failed. Failed to load database path "
                f"'{path.parent}'. Path does not exist."
            )
        try:
            obj = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise WalletError(f"cannot read the wallet file {path}: {exc}") from exc
        wallet = Wallet.from_json(obj)
        if wallet.network != self.params.name:
            raise WalletError(f"wallet {name} is for {wallet.network}, not {self.params.name}")
        lw = LoadedWallet(name, path, wallet)
        self.loaded[name] = lw
        await self._resubmit(lw)
        self.refresh(lw)
        log.info("wallet %s loaded", name)
        return lw

    def unload(self, name: str) -> None:
        lw = self.loaded.pop(name, None)
        if lw is None:
            raise WalletNotFound("Requested wallet does not exist or is not loaded")
        if lw.relock_handle is not None:
            lw.relock_handle.cancel()
        if lw.wallet.encrypted and not lw.wallet.locked:
            lw.wallet.lock()

    async def _resubmit(self, lw: LoadedWallet) -> None:
        """Txs we sent that are neither confirmed nor in the mempool go back to the mempool
        (the node lost them, or a reorg dropped them); ones that no longer fit are left."""
        db = self.node.chain.db
        for txid, record in lw.wallet.sent.items():
            if txid in self.node.mempool or db.tx_location(txid) is not None:
                continue
            try:
                await self.node.submit_tx(decode_tx(record.raw))
            except (RuleError, PolicyError) as exc:
                log.info(
                    "wallet %s: sent tx %s not resubmitted: %s", lw.name, txid[::-1].hex(), exc
                )

    # --- encryption ----------------------------------------------------------------

    async def encrypt(self, lw: LoadedWallet, passphrase: str) -> None:
        """Under the spending lock: a send must not see the seed vanish half way."""
        async with lw.lock:
            await asyncio.to_thread(lw.wallet.encrypt, passphrase, kdf_limits())
            lw.save()

    async def unlock(self, lw: LoadedWallet, passphrase: str, timeout: int) -> None:
        await asyncio.to_thread(lw.wallet.unlock, passphrase)
        if lw.wallet.top_up():
            lw.save()
        if lw.relock_handle is not None:
            lw.relock_handle.cancel()
        lw.unlocked_until = self.node.clock.now() + timeout
        lw.relock_handle = asyncio.get_running_loop().call_later(timeout, self.relock, lw)

    def relock(self, lw: LoadedWallet) -> None:
        if lw.relock_handle is not None:
            lw.relock_handle.cancel()
            lw.relock_handle = None
        lw.unlocked_until = 0
        if not lw.wallet.locked:
            lw.wallet.lock()

    async def change_passphrase(self, lw: LoadedWallet, old: str, new: str) -> None:
        await asyncio.to_thread(lw.wallet.change_passphrase, old, new, kdf_limits())
        lw.save()

    # --- addresses -----------------------------------------------------------------

    def add_policy(self, lw: LoadedWallet, data: bytes, label: str = "") -> bytes:
        """Watch a contract (``Wallet.add_policy``) and save; its lock. Its coins, past
        and future, come from the address index at once: no rescan is needed."""
        lock = lw.wallet.add_policy(data)
        if label:
            lw.wallet.labels[lock] = label
        lw.save()
        return lock

    def new_key(self, lw: LoadedWallet, key_type: int, chain: int, label: str = "") -> WalletKey:
        self.refresh(lw)
        key = lw.wallet.new_key(key_type, chain)
        if label:
            lw.wallet.labels[key.lock] = label
        lw.save()
        return key

    async def default_mining_lock(self) -> bytes | None:
        """A fresh receive address of ``default`` (or of the only wallet) for ``generate``."""
        lw = self.loaded.get(DEFAULT_WALLET)
        if lw is None and len(self.loaded) == 1:
            lw = next(iter(self.loaded.values()))
        if lw is None:
            return None
        return self.new_key(lw, lw.wallet.default_key_type, EXTERNAL_CHAIN).lock

    # --- the chain as the wallet sees it -------------------------------------------

    @property
    def tip_height(self) -> int:
        return self.node.chain.height

    def is_mature(self, coin: OwnedCoin) -> bool:
        return not coin.coinbase or coin.depth(self.tip_height) > self.params.coinbase_maturity

    def refresh(self, lw: LoadedWallet) -> None:
        """Mark lookahead keys that received coins as used (so they are not handed out
        again and the lookahead moves on); saves the wallet if anything changed."""
        db = self.node.chain.db
        wallet = lw.wallet
        in_mempool = {out.lock for e in self.node.mempool.entries() for out in e.tx.outputs}
        changed = False
        for key in wallet.unused_keys():
            if key.lock in in_mempool or next(db.address_history(key.lock), None):
                changed |= wallet.mark_used(key.lock)
        if changed:
            lw.save()

    def spent_coin(self, key: bytes) -> tuple[int, bytes] | None:
        """(value, lock) of the coin at outpoint ``key``: confirmed, or a mempool output."""
        coin = self.node.chain.db.get_coin(key)
        if coin is not None:
            return coin.value, coin.lock
        entry = self.node.mempool.get(key[:32])
        index = int.from_bytes(key[32:], "little")
        if entry is not None and index < len(entry.tx.outputs):
            out = entry.tx.outputs[index]
            return out.value, out.lock
        return None

    def unspent(
        self,
        locks: Iterable[bytes],
        confirmed: Mapping[bytes, list[tuple[bytes, Coin]]] | None = None,
    ) -> list[OwnedCoin]:
        """Unspent coins of ``locks``: confirmed ones no mempool tx spends, then outputs of
        mempool txs that no other mempool tx spends. A coin in both (a block connected and
        the mempool not yet updated) counts once, as confirmed. ``confirmed``: each lock's
        index entries, when read beforehand off the event loop."""
        db = self.node.chain.db
        mempool = self.node.mempool
        wanted = set(locks)
        coins: dict[bytes, OwnedCoin] = {}
        for lock in wanted:
            found = db.address_coins(lock) if confirmed is None else confirmed[lock]
            for key, coin in found:
                if mempool.spender_of(key) is None:
                    coins[key] = OwnedCoin(
                        key[:32],
                        int.from_bytes(key[32:], "little"),
                        coin.value,
                        coin.lock,
                        coin.height,
                        coin.coinbase,
                        False,
                    )
        for entry in mempool.entries():
            mine = [(n, o) for n, o in enumerate(entry.tx.outputs) if o.lock in wanted]
            if not mine:
                continue
            from_me = self._all_inputs_in(entry.tx, wanted)
            for n, out in mine:
                key = outpoint_key(entry.txid, n)
                if key not in coins and mempool.spender_of(key) is None:
                    coins[key] = OwnedCoin(entry.txid, n, out.value, out.lock, None, False, from_me)
        return list(coins.values())

    def _all_inputs_in(self, tx: Tx, locks: set[bytes]) -> bool:
        for inp in tx.inputs:
            spent = self.spent_coin(inp.outpoint_key)
            if spent is None or spent[1] not in locks:
                return False
        return True

    def coins(self, lw: LoadedWallet) -> list[OwnedCoin]:
        return self.unspent(lw.wallet.locks())

    def balances(self, lw: LoadedWallet, contract: bool = False) -> Balances:
        """The wallet's own coins, or (``contract``) its contracts' coins, which it never
        spends alone."""
        trusted = pending = immature = 0
        for coin in self.coins(lw):
            if coin.contract != contract:
                continue
            if coin.height is None:
                if coin.from_me:
                    trusted += coin.value
                else:
                    pending += coin.value
            elif self.is_mature(coin):
                trusted += coin.value
            else:
                immature += coin.value
        return Balances(trusted, pending, immature)

    def history(self, locks: Iterable[bytes]) -> list[WalletTx]:
        """Every tx paying or spending ``locks``: confirmed ones in chain order, then the
        mempool's in the order they entered.

        From the address index and the tx index alone, in time proportional to the txs
        returned: each tx is sliced out of its block's body, and the coins its inputs spent
        are the outputs of the txs they name; no block is decoded."""
        db = self.node.chain.db
        wanted = set(locks)
        refs: set[tuple[int, int, bytes]] = set()
        for lock in wanted:
            refs.update(db.address_history(lock))
        sources: dict[bytes, Tx | None] = {}

        def spent_output(inp: TxIn) -> tuple[int, bytes] | None:
            if inp.prev_txid not in sources:
                sources[inp.prev_txid] = db.tx(inp.prev_txid)
            source = sources[inp.prev_txid]
            if source is None:
                return None
            o = source.outputs[inp.prev_index]
            return o.value, o.lock

        out: list[WalletTx] = []
        confirmed = set()
        for height, position, txid in sorted(refs):
            entry = self.node.chain.at_height(height)
            tx = db.tx(txid) if entry is not None else None
            if entry is None or tx is None:
                continue
            spent: tuple[tuple[int, bytes] | None, ...] = (
                (None,) if position == 0 else tuple(spent_output(i) for i in tx.inputs)
            )
            confirmed.add(txid)
            t = entry.header.time
            out.append(WalletTx(tx, height, position, entry.hash, t, t, spent))
        for mentry in self.node.mempool.entries():
            tx = mentry.tx
            if mentry.txid in confirmed:
                continue
            spent = tuple(self.spent_coin(i.outpoint_key) for i in tx.inputs)
            touches = any(o.lock in wanted for o in tx.outputs) or any(
                s is not None and s[1] in wanted for s in spent
            )
            if touches:
                out.append(WalletTx(tx, None, 0, None, None, int(mentry.time), spent))
        return out

    def summarize(self, lw: LoadedWallet, wtx: WalletTx) -> TxSummary:
        """The wallet's reading of one tx, as Bitcoin Core's ListTransactions/gettransaction."""
        wallet = lw.wallet
        tx = wtx.tx
        if tx.is_coinbase:
            mature = (
                wtx.height is not None
                and self.tip_height - wtx.height + 1 > self.params.coinbase_maturity
            )
            category = "generate" if mature else "immature"
            mined = tuple(
                Entry(category, o.lock, o.value, n, None)
                for n, o in enumerate(tx.outputs)
                if wallet.owns(o.lock)
            )
            return TxSummary(mined, sum(e.amount for e in mined), None)
        debit = sum(s[0] for s in wtx.spent if s is not None and wallet.owns(s[1]))
        credit = sum(o.value for o in tx.outputs if wallet.owns(o.lock))
        from_me = all(s is not None and wallet.owns(s[1]) for s in wtx.spent)
        fee = sum(s[0] for s in wtx.spent if s is not None) - sum(o.value for o in tx.outputs)
        entries: list[Entry] = []
        for n, out in enumerate(tx.outputs):
            key = wallet.key_for(out.lock)
            if debit > 0:
                if key is not None and key.is_change:
                    continue
                entries.append(Entry("send", out.lock, -out.value, n, -fee if from_me else None))
            if wallet.owns(out.lock):
                entries.append(Entry("receive", out.lock, out.value, n, None))
        if from_me:
            return TxSummary(tuple(entries), credit - debit + fee, -fee)
        return TxSummary(tuple(entries), credit - debit, None)

    def find_tx(self, lw: LoadedWallet, txid: bytes) -> WalletTx | None:
        for wtx in self.history(lw.wallet.locks()):
            if wtx.tx.txid == txid:
                return wtx
        return None

    # --- spending ------------------------------------------------------------------

    def fee_rate(self, requested: int | None) -> int:
        """``requested`` (units per byte), or the fallback; never below the mempool's floor."""
        floor = math.ceil(self.node.mempool.min_fee_rate())
        if requested is None:
            return max(FALLBACK_FEE_RATE, floor)
        if requested < floor:
            raise ValueError(
                f"fee_rate {requested} is below the minimum fee rate of {floor} units per byte"
            )
        return requested

    def _candidates(self, lw: LoadedWallet, unconfirmed: bool) -> list[Candidate]:
        mempool = self.node.mempool
        limit = self.node.policy.max_ancestors
        out = []
        reserved = lw.wallet.reserved_coins()
        for coin in self.coins(lw):
            if coin.key in lw.locked_coins or coin.contract or coin.key in reserved:
                continue
            if coin.height is None:
                if not (unconfirmed and coin.from_me):
                    continue
                if mempool.package_stats(coin.txid).ancestor_count + 1 >= limit:
                    continue
            elif not self.is_mature(coin):
                continue
            out.append(Candidate(coin.key, coin.value, input_size(coin.index, coin.lock[0])))
        return out

    def spendable(self, lw: LoadedWallet) -> int:
        """What coin selection may spend: mature coins and own change, less locked coins."""
        return sum(c.value for c in self._candidates(lw, True))

    def select(
        self,
        lw: LoadedWallet,
        payments: Sequence[int],
        fee_rate: int,
        subtract: Sequence[int] = (),
        required: Sequence[Candidate] = (),
        policy_outputs: int = 0,
    ) -> tuple[Selection, list[int]]:
        """Confirmed mature coins first; our own unconfirmed change only if they fall
        short. Returns the selection and the payments (less the fee where ``subtract``);
        ``policy_outputs`` of the payments go to 33-byte policy locks."""
        dust = self.node.policy.dust_limit

        def attempt(unconfirmed: bool) -> tuple[Selection, list[int]]:
            keys = {c.key for c in required}
            candidates = [c for c in self._candidates(lw, unconfirmed) if c.key not in keys]
            if subtract:
                return select_subtracting_fee(
                    candidates, payments, subtract, fee_rate, dust, policy_outputs
                )
            selection = select_coins(candidates, payments, fee_rate, dust, required, policy_outputs)
            return selection, list(payments)

        try:
            return attempt(False)
        except InsufficientFunds:
            try:
                return attempt(True)
            except InsufficientFunds as exc:
                raise InsufficientFunds(
                    f"{exc} (spendable: {format_units(self.spendable(lw))} OBOL)"
                ) from exc

    def fund(
        self,
        lw: LoadedWallet,
        outputs: Sequence[TxOut],
        fee_rate: int,
        replaceable: bool = True,
        subtract: Sequence[int] = (),
        preset: Sequence[TxIn] = (),
    ) -> tuple[Tx, int, int]:
        """An unsigned tx paying ``outputs`` from our coins with change: (tx, fee, change
        position or -1). Takes a change key when there is change. ``replaceable`` sets the
        opt-in replace-by-fee signal (the tx version); ``subtract`` lists the outputs
        that pay the fee; ``preset`` inputs (the wallet's coins) are spent in any case."""
        self.refresh(lw)
        if preset and subtract:
            raise InvalidWalletParameter("obol cannot subtract the fee with preset inputs")
        required = [self._preset_candidate(lw, i) for i in preset]
        payments = [o.value for o in outputs]
        policy_outputs = sum(len(o.lock) == POLICY_LOCK_SIZE for o in outputs)
        selection, paid = self.select(lw, payments, fee_rate, subtract, required, policy_outputs)
        outs = [TxOut(v, o.lock) for v, o in zip(paid, outputs, strict=True)]
        change_pos = -1
        if selection.change:
            change = lw.wallet.new_key(lw.wallet.default_key_type, INTERNAL_CHAIN)
            change_pos = secrets.randbelow(len(outs) + 1)
            outs.insert(change_pos, TxOut(selection.change, change.lock))
            lw.save()
        inputs = [(c.key[:32], int.from_bytes(c.key[32:], "little")) for c in selection.inputs]
        version = REPLACEABLE_TX_VERSION if replaceable else FINAL_TX_VERSION
        return unsigned_tx(inputs, outs, version), selection.fee, change_pos

    def _preset_candidate(self, lw: LoadedWallet, inp: TxIn) -> Candidate:
        coin = self.spent_coin(inp.outpoint_key)
        if coin is not None and lw.wallet.policy_for_lock(coin[1]) is not None:
            raise WalletError(
                f"Input {inp.prev_txid[::-1].hex()}:{inp.prev_index} is a contract coin: "
                "only a PSBT its signers build together spends it"
            )
        if coin is None or lw.wallet.key_for(coin[1]) is None:
            raise WalletError(
                f"Input not found or not the wallet's: {inp.prev_txid[::-1].hex()}:{inp.prev_index}"
            )
        return Candidate(inp.outpoint_key, coin[0], input_size(inp.prev_index, coin[1][0]))

    def sign(self, lw: LoadedWallet, tx: Tx) -> tuple[Tx, list[int]]:
        """``tx`` with every input we can sign signed; and the indexes we could not sign."""
        wallet = lw.wallet
        spent = [self.spent_coin(i.outpoint_key) for i in tx.inputs]
        keys = {}
        missing = []
        for n, coin in enumerate(spent):
            if coin is not None and wallet.key_for(coin[1]) is not None:
                keys[n] = wallet.secret_for(coin[1])
            else:
                missing.append(n)
        return sign_inputs(tx, keys, spent, self.params), missing

    async def send(
        self,
        lw: LoadedWallet,
        outputs: Sequence[TxOut],
        fee_rate: int | None,
        comment: str = "",
        comment_to: str = "",
        replaceable: bool = True,
        subtract: Sequence[int] = (),
    ) -> tuple[Tx, int]:
        """Fund, sign and submit a payment under the wallet's lock: (tx, fee)."""
        async with lw.lock:
            lw.wallet.require_unlocked()
            rate = self.fee_rate(fee_rate)
            unsigned, fee, _ = self.fund(lw, outputs, rate, replaceable, subtract)
            tx = await self.sign_and_submit(lw, unsigned, SentRecord(0, b"", comment, comment_to))
        log.info("wallet %s sent %s fee=%d", lw.name, tx.txid_hex, fee)
        return tx, fee

    async def sign_and_submit(self, lw: LoadedWallet, unsigned: Tx, record: SentRecord) -> Tx:
        """Sign with our keys, submit, and remember it as sent (time: now)."""
        tx, missing = self.sign(lw, unsigned)
        assert not missing, "the wallet selected a coin it cannot sign for"
        try:
            await self.node.submit_tx(tx)
        except (RuleError, PolicyError) as exc:
            raise WalletError(f"the transaction was rejected: {exc.code.value}") from exc
        now = self.node.clock.now()
        lw.wallet.sent[tx.txid] = SentRecord(now, tx.serialize(), record.comment, record.comment_to)
        lw.save()
        return tx

    def _bumpable(self, lw: LoadedWallet, txid: bytes) -> MempoolEntry:
        """The mempool entry of a wallet tx bumpfee may replace, or Core's error for it."""
        wtx = self.find_tx(lw, txid)
        if wtx is None:
            raise InvalidTxid("Invalid or non-wallet transaction id")
        if wtx.height is not None:
            raise WalletError(
                "Transaction has been mined, or is conflicted with a mined transaction"
            )
        if not all(s is not None and lw.wallet.key_for(s[1]) for s in wtx.spent):
            raise WalletError("Transaction contains inputs that don't belong to this wallet")
        if not signals_replaceable(wtx.tx.version):
            raise WalletError("Transaction is not BIP 125 replaceable")
        if self.node.mempool.descendants(txid):
            raise InvalidWalletParameter("Transaction has descendants in the mempool")
        entry = self.node.mempool.get(txid)
        assert entry is not None
        return entry

    async def bump(
        self, lw: LoadedWallet, txid: bytes, fee_rate: int | None
    ) -> tuple[Tx, int, int]:
        """Replace our unconfirmed tx ``txid`` by one paying more, taken from its change
        output: (new tx, old fee, new fee). The default rate is the higher of the fallback
        rate and the old rate plus the incremental relay rate (Core's bumpfee)."""
        async with lw.lock:
            lw.wallet.require_unlocked()
            entry = self._bumpable(lw, txid)
            old = entry.tx
            incremental = self.node.policy.incremental_relay_fee_rate
            change = [n for n, o in enumerate(old.outputs) if self._is_change(lw, o.lock)]
            if not change:
                raise WalletError("Transaction does not have a change output")
            floor = entry.fee + incremental * entry.size
            if fee_rate is None:
                rate = max(self.fee_rate(None), math.ceil(entry.fee_rate) + incremental)
                new_fee = max(rate * entry.size, floor)
            elif fee_rate * entry.size < floor:
                raise InvalidWalletParameter(
                    f"Insufficient total fee {format_units(fee_rate * entry.size)}, must be at "
                    f"least {format_units(floor)} (oldFee {format_units(entry.fee)} + "
                    f"incrementalFee {format_units(incremental * entry.size)})"
                )
            else:
                new_fee = fee_rate * entry.size
            pos = change[-1]
            value = old.outputs[pos].value - (new_fee - entry.fee)
            if value < self.node.policy.dust_limit:
                raise WalletError("Change output is too small to bump the fee")
            outputs = list(old.outputs)
            outputs[pos] = TxOut(value, old.outputs[pos].lock)
            unsigned = unsigned_tx(
                [(i.prev_txid, i.prev_index) for i in old.inputs], outputs, old.version
            )
            record = lw.wallet.sent.pop(txid, None) or SentRecord(0, b"")
            try:
                tx = await self.sign_and_submit(lw, unsigned, record)
            except WalletError:
                if record.raw:
                    lw.wallet.sent[txid] = record
                raise
        log.info("wallet %s replaced %s by %s fee=%d", lw.name, old.txid_hex, tx.txid_hex, new_fee)
        return tx, entry.fee, new_fee

    def _is_change(self, lw: LoadedWallet, lock: bytes) -> bool:
        key = lw.wallet.key_for(lock)
        return key is not None and key.is_change

    def abandon(self, lw: LoadedWallet, txid: bytes) -> None:
        """Forget a sent tx that is neither in the mempool nor confirmed, so it is never
        resubmitted and its coins stay free (Core's abandontransaction)."""
        if txid not in lw.wallet.sent and self.find_tx(lw, txid) is None:
            raise InvalidTxid("Invalid or non-wallet transaction id")
        if txid in self.node.mempool or self.node.chain.db.tx_location(txid) is not None:
            raise InvalidTxid("Transaction not eligible for abandonment")
        del lw.wallet.sent[txid]
        lw.save()
