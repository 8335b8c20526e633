"""The wallet's data: an HD seed, the keys derived from it, labels, contracts and sent-tx
records.

What is secret is the BIP39 entropy (the mnemonic, and the seed, derive from it). It is held
in the clear in a plain wallet, or only as a keystore blob (``wallet.keystore``) once the
wallet is encrypted; then it is in memory only while the wallet is unlocked.

What is public is kept in the clear even when encrypted, like Bitcoin Core's keypool: the
public key of every derived address, ``lookahead`` beyond the last one handed out on each
chain (receive and change) of each key type. The node recognises payments to any of them,
so coins sent to an address a restored wallet has not handed out yet are found, and
``getnewaddress`` keeps working while the wallet is locked until the lookahead runs out.

Contracts are policy locks (kind 0x03) the wallet holds at least one key in
(``add_policy``): it watches their coins and can sign its part of a spend, but never spends
them alone in a plain payment. Their policies are public, kept in the clear like the public
keys; a file written before contracts existed has no ``policies`` and loads with none.

Pledges to crowdfunding campaigns are kept too (``pledges``): each reserves its coin, which
coin selection never spends, until ``revokepledge`` spends it back to the wallet. A file
written before pledges existed has no ``pledges`` and loads with none.

This module does no I/O: ``to_json``/``from_json`` give the file's content, and the node
writes it (atomically) where it belongs.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnemonic import Mnemonic

from consensus.errors import RuleError
from consensus.policy import decode_policy, policy_keys, policy_lock
from consensus.signatures import DEFAULT_KEY_TYPE, REGISTRY, make_lock

from . import keystore
from .errors import (
    UNLOCK_NEEDED,
    KeypoolRanOut,
    NotOurPolicy,
    WalletError,
    WalletLocked,
    WalletWrongEncState,
)
from .hd import (
    CURVE_BY_KEY_TYPE,
    EXTERNAL_CHAIN,
    INTERNAL_CHAIN,
    ExtendedKey,
    account_path,
    derive_child,
    master_key,
    parse_path,
)
from .mnemonic import entropy_to_mnemonic, mnemonic_to_seed, validate_mnemonic

FORMAT_VERSION = 1
DEFAULT_LOOKAHEAD = 20
KEY_TYPE_BY_NAME = {scheme.name: kt for kt, scheme in REGISTRY.items()}
CHAINS = (EXTERNAL_CHAIN, INTERNAL_CHAIN)
_CHAIN_NAMES = {EXTERNAL_CHAIN: "receive", INTERNAL_CHAIN: "change"}


def key_type_from_name(name: str) -> int:
    """``"ed25519"`` -> 1, ``"secp256k1"`` -> 2; ValueError for anything else."""
    try:
        return KEY_TYPE_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown key type {name!r}") from None


def mnemonic_entropy(words: str) -> bytes:
    """The BIP39 entropy behind a recovery phrase (checked first: ``InvalidMnemonic``)."""
    return bytes(Mnemonic("english").to_entropy(validate_mnemonic(words)))


@dataclass(frozen=True, slots=True)
class WalletKey:
    """One derived address: where it sits in the tree and its public data."""

    key_type: int
    chain: int  # 0 receive, 1 change
    index: int
    pubkey: bytes
    lock: bytes

    @property
    def path(self) -> str:
        return account_path(self.key_type, self.chain, self.index)

    @property
    def is_change(self) -> bool:
        return self.chain == INTERNAL_CHAIN


@dataclass(frozen=True, slots=True)
class SentRecord:
    """A tx this wallet made and submitted: rebroadcast if the node lost it, and the time
    and comments shown by gettransaction."""

    time: int
    raw: bytes
    comment: str = ""
    comment_to: str = ""


@dataclass(frozen=True, slots=True)
class PledgeRecord:
    """A pledge this wallet made to a campaign: its coin is reserved (coin selection never
    spends it) until ``revokepledge`` spends it back to the wallet (``revoked_by``)."""

    campaign_url: str
    coin: bytes  # outpoint key
    amount: int
    time: int
    revoked_by: bytes | None = None


class Wallet:
    """Keys, labels and sent txs of one wallet; secrets only while plain or unlocked."""

    def __init__(
        self,
        *,
        network: str,
        default_key_type: int,
        lookahead: int,
        entropy: bytes | None,
        keystore_blob: bytes | None,
        pubkeys: dict[tuple[int, int], list[bytes]],
        next_index: dict[tuple[int, int], int],
        labels: dict[bytes, str],
        sent: dict[bytes, SentRecord],
        policies: dict[bytes, bytes] | None = None,
        pledges: dict[str, PledgeRecord] | None = None,
    ) -> None:
        if (entropy is None) == (keystore_blob is None):
            raise ValueError("a wallet holds either its entropy or its keystore, not both")
        self.network = network
        self.default_key_type = default_key_type
        self.lookahead = lookahead
        self.keystore_blob = keystore_blob
        self.labels = labels
        self.sent = sent
        self.pledges = dict(pledges or {})
        self._pubkeys = {k: list(v) for k, v in pubkeys.items()}
        self._next = dict(next_index)
        self._by_lock: dict[bytes, WalletKey] = {}
        for (kt, chain), keys in self._pubkeys.items():
            for index, pk in enumerate(keys):
                self._index_key(WalletKey(kt, chain, index, pk, make_lock(kt, pk)))
        self._entropy: bytes | None = None
        self._seed: bytes | None = None
        self._chain_keys: dict[tuple[int, int], ExtendedKey] = {}
        if entropy is not None:
            self._set_entropy(entropy)
        self._policies = {policy_lock(d): d for d in (policies or {}).values()}
        for data in self._policies.values():
            decode_policy(data)

    # --- creation and persistence ---------------------------------------------------

    @classmethod
    def create(
        cls,
        network: str,
        entropy: bytes,
        *,
        lookahead: int = DEFAULT_LOOKAHEAD,
        default_key_type: int = DEFAULT_KEY_TYPE,
    ) -> Wallet:
        """A new wallet on ``entropy`` (16 to 32 bytes of BIP39 entropy), lookahead derived."""
        entropy_to_mnemonic(entropy)  # checks the length
        wallet = cls(
            network=network,
            default_key_type=default_key_type,
            lookahead=lookahead,
            entropy=entropy,
            keystore_blob=None,
            pubkeys={(kt, c): [] for kt in REGISTRY for c in CHAINS},
            next_index={(kt, c): 0 for kt in REGISTRY for c in CHAINS},
            labels={},
            sent={},
        )
        wallet.top_up()
        return wallet

    def to_json(self) -> dict[str, object]:
        """The wallet file's content (see ``from_json``)."""
        keys: dict[str, dict[str, object]] = {}
        for (kt, chain), pks in sorted(self._pubkeys.items()):
            keys[f"{REGISTRY[kt].name}/{_CHAIN_NAMES[chain]}"] = {
                "next": self._next[(kt, chain)],
                "pubkeys": [pk.hex() for pk in pks],
            }
        secret: dict[str, object]
        if self.keystore_blob is not None:
            secret = {"keystore": self.keystore_blob.hex()}
        else:
            assert self._entropy is not None
            secret = {"entropy": self._entropy.hex()}
        return {
            "format": "obol-wallet",
            "version": FORMAT_VERSION,
            "network": self.network,
            "default_key_type": REGISTRY[self.default_key_type].name,
            "lookahead": self.lookahead,
            **secret,
            "keys": keys,
            "labels": {lock.hex(): label for lock, label in sorted(self.labels.items())},
            "policies": {lock.hex(): data.hex() for lock, data in sorted(self._policies.items())},
            "sent": {
                txid[::-1].hex(): {
                    "time": r.time,
                    "hex": r.raw.hex(),
                    "comment": r.comment,
                    "to": r.comment_to,
                }
                for txid, r in self.sent.items()
            },
            "pledges": {
                pid: {
                    "url": p.campaign_url,
                    "coin": p.coin.hex(),
                    "amount": p.amount,
                    "time": p.time,
                    "revoked_by": p.revoked_by[::-1].hex() if p.revoked_by else None,
                }
                for pid, p in self.pledges.items()
            },
        }

    @classmethod
    def from_json(cls, obj: object) -> Wallet:
        """Parse a wallet file; ``WalletError`` saying what is wrong with a damaged one."""
        try:
            if not isinstance(obj, dict) or obj.get("format") != "obol-wallet":
                raise ValueError("not an obol wallet file")
            if obj["version"] != FORMAT_VERSION:
                raise ValueError(f"unsupported wallet version {obj['version']!r}")
            pubkeys: dict[tuple[int, int], list[bytes]] = {}
            next_index: dict[tuple[int, int], int] = {}
            chain_ids = {name: c for c, name in _CHAIN_NAMES.items()}
            for name, chain_obj in obj["keys"].items():
                kt_name, _, chain_name = name.partition("/")
                slot = (key_type_from_name(kt_name), chain_ids[chain_name])
                pubkeys[slot] = [bytes.fromhex(pk) for pk in chain_obj["pubkeys"]]
                next_index[slot] = int(chain_obj["next"])
            entropy = bytes.fromhex(obj["entropy"]) if "entropy" in obj else None
            blob = bytes.fromhex(obj["keystore"]) if "keystore" in obj else None
            return cls(
                network=str(obj["network"]),
                default_key_type=key_type_from_name(obj["default_key_type"]),
                lookahead=int(obj["lookahead"]),
                entropy=entropy,
                keystore_blob=blob,
                pubkeys=pubkeys,
                next_index=next_index,
                labels={bytes.fromhex(k): str(v) for k, v in obj["labels"].items()},
                sent={
                    bytes.fromhex(txid)[::-1]: SentRecord(
                        int(r["time"]), bytes.fromhex(r["hex"]), r["comment"], r["to"]
                    )
                    for txid, r in obj["sent"].items()
                },
                policies={
                    bytes.fromhex(k): bytes.fromhex(v) for k, v in obj.get("policies", {}).items()
                },
                pledges={
                    pid: PledgeRecord(
                        str(p["url"]),
                        bytes.fromhex(p["coin"]),
                        int(p["amount"]),
                        int(p["time"]),
                        bytes.fromhex(p["revoked_by"])[::-1] if p["revoked_by"] else None,
                    )
                    for pid, p in obj.get("pledges", {}).items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError, RuleError) as exc:
            raise WalletError(f"the wallet file is damaged ({exc})") from exc

    # --- secrets -------------------------------------------------------------------

    @property
    def encrypted(self) -> bool:
        return self.keystore_blob is not None

    @property
    def locked(self) -> bool:
        return self._entropy is None

    def _set_entropy(self, entropy: bytes) -> None:
        self._entropy = entropy
        self._seed = mnemonic_to_seed(entropy_to_mnemonic(entropy))
        self._chain_keys = {}

    def require_unlocked(self) -> bytes:
        if self._seed is None:
            raise WalletLocked(UNLOCK_NEEDED)
        return self._seed

    def encrypt(self, passphrase: str, limits: tuple[int, int] | None = None) -> None:
        """Encrypt the entropy under ``passphrase`` and forget it: the wallet ends locked."""
        if self.encrypted:
            raise WalletWrongEncState(
                "Error: running with an encrypted wallet, but encryptwallet was called."
            )
        assert self._entropy is not None
        self.keystore_blob = keystore.encrypt_secret(self._entropy, passphrase, limits=limits)
        self.lock()

    def unlock(self, passphrase: str) -> None:
        """Decrypt the entropy (``WrongPassphrase`` if it does not open) and top up keys."""
        if not self.encrypted:
            raise WalletWrongEncState(
                "Error: running with an unencrypted wallet, but walletpassphrase was called."
            )
        assert self.keystore_blob is not None
        self._set_entropy(keystore.decrypt_secret(self.keystore_blob, passphrase))

    def lock(self) -> None:
        if not self.encrypted:
            raise WalletWrongEncState(
                "Error: running with an unencrypted wallet, but walletlock was called."
            )
        self._entropy = None
        self._seed = None
        self._chain_keys = {}

    def change_passphrase(self, old: str, new: str, limits: tuple[int, int] | None = None) -> None:
        if not self.encrypted:
            raise WalletWrongEncState(
                "Error: running with an unencrypted wallet, but walletpassphrasechange was called."
            )
        assert self.keystore_blob is not None
        entropy = keystore.decrypt_secret(self.keystore_blob, old)
        self.keystore_blob = keystore.encrypt_secret(entropy, new, limits=limits)

    def mnemonic(self, passphrase: str | None = None) -> str:
        """The recovery phrase: needs the wallet unlocked, or the passphrase."""
        if passphrase is not None and self.encrypted:
            assert self.keystore_blob is not None
            return entropy_to_mnemonic(keystore.decrypt_secret(self.keystore_blob, passphrase))
        self.require_unlocked()
        assert self._entropy is not None
        return entropy_to_mnemonic(self._entropy)

    # --- keys ----------------------------------------------------------------------

    def _index_key(self, key: WalletKey) -> None:
        self._by_lock[key.lock] = key

    def _derive(self, key_type: int, chain: int, index: int) -> bytes:
        """The secret key at ``index`` of a chain; the chain's key is cached while unlocked."""
        seed = self.require_unlocked()
        path = parse_path(account_path(key_type, chain, index))
        chain_key = self._chain_keys.get((key_type, chain))
        if chain_key is None:
            chain_key = master_key(seed, CURVE_BY_KEY_TYPE[key_type])
            for step in path[:-1]:
                chain_key = derive_child(chain_key, step)
            self._chain_keys[(key_type, chain)] = chain_key
        child = derive_child(chain_key, path[-1])
        if child.index != path[-1]:  # BIP32 skipped an invalid child (odds below 2^-127)
            raise WalletError("this derivation index has no valid key")
        return child.private_key

    def top_up(self) -> bool:
        """Derive public keys up to ``lookahead`` beyond each chain's next index (needs the
        seed; a locked wallet keeps what it has). True if anything was added."""
        if self._seed is None:
            return False
        added = False
        for (kt, chain), pks in self._pubkeys.items():
            while len(pks) < self._next[(kt, chain)] + self.lookahead:
                index = len(pks)
                pk = REGISTRY[kt].pubkey_from_secret(self._derive(kt, chain, index))
                pks.append(pk)
                self._index_key(WalletKey(kt, chain, index, pk, make_lock(kt, pk)))
                added = True
        return added

    def new_key(self, key_type: int, chain: int) -> WalletKey:
        """Hand out the next unused key of a chain; ``KeypoolRanOut`` if the wallet is locked
        and the lookahead is used up."""
        slot = (key_type, chain)
        index = self._next[slot]
        if index >= len(self._pubkeys[slot]):
            self.top_up()
            if index >= len(self._pubkeys[slot]):
                raise KeypoolRanOut("Error: Keypool ran out, please call keypoolrefill first")
        self._next[slot] = index + 1
        self.top_up()
        pk = self._pubkeys[slot][index]
        return self._by_lock[make_lock(key_type, pk)]

    def mark_used(self, lock: bytes) -> bool:
        """A coin or tx paid ``lock``: never hand that key out again. True if state changed."""
        key = self._by_lock.get(lock)
        if key is None:
            return False
        slot = (key.key_type, key.chain)
        if self._next[slot] > key.index:
            return False
        self._next[slot] = key.index + 1
        self.top_up()
        return True

    def unused_keys(self) -> list[WalletKey]:
        """The lookahead: derived keys not handed out yet, whose first payment marks them
        used."""
        return [k for k in self._by_lock.values() if k.index >= self._next[(k.key_type, k.chain)]]

    def key_for(self, lock: bytes) -> WalletKey | None:
        return self._by_lock.get(lock)

    def locks(self) -> list[bytes]:
        """Every lock the wallet watches: handed-out keys, the lookahead and contracts."""
        return [*self._by_lock, *self._policies]

    def owns(self, lock: bytes) -> bool:
        """A lock of one of our keys, or a contract we hold a key in."""
        return lock in self._by_lock or lock in self._policies

    # --- contracts -----------------------------------------------------------------

    def add_policy(self, data: bytes) -> bytes:
        """Watch the policy encoded as ``data`` (canonical, within the limits); its lock.
        ``NotOurPolicy`` unless one of its keys is ours, ``RuleError`` if ``data`` is no
        policy. Adding one again changes nothing."""
        policy = decode_policy(data)
        if not any(make_lock(k.key_type, k.pubkey) in self._by_lock for k in policy_keys(policy)):
            raise NotOurPolicy("None of the policy's keys belongs to this wallet")
        lock = policy_lock(data)
        self._policies[lock] = data
        return lock

    def policy_for_lock(self, lock: bytes) -> bytes | None:
        """The encoded policy of a contract lock we watch (for a PSBT's updater and
        signer), None for any other lock."""
        return self._policies.get(lock)

    def contract_locks(self) -> list[bytes]:
        return list(self._policies)

    def policy_signers(self, data: bytes) -> list[WalletKey]:
        """Our keys among a policy's, once each, in the policy's order."""
        out: dict[bytes, WalletKey] = {}
        for k in policy_keys(decode_policy(data)):
            key = self._by_lock.get(make_lock(k.key_type, k.pubkey))
            if key is not None:
                out.setdefault(key.lock, key)
        return list(out.values())

    def secret_for(self, lock: bytes) -> tuple[int, bytes]:
        """(key type, secret key) to sign for ``lock``; ``WalletLocked`` while locked."""
        key = self._by_lock[lock]
        return key.key_type, self._derive(key.key_type, key.chain, key.index)

    def reserved_coins(self) -> set[bytes]:
        """Outpoint keys of coins pledged and not revoked: kept out of coin selection."""
        return {p.coin for p in self.pledges.values() if p.revoked_by is None}

    def keypool_size(self, chain: int) -> int:
        """Pre-derived keys not handed out yet on ``chain`` of the default key type."""
        slot = (self.default_key_type, chain)
        return len(self._pubkeys[slot]) - self._next[slot]
