"""Policy locks (lock kind 0x03): thresholds of keys, time locks and hash locks.

A policy lock is ``0x03 || sha256(policy)``. The input spending it carries the policy in
its ``pubkey`` field and a satisfaction in its ``sig`` field, both canonical MessagePack
(docs/PROTOCOL.md, "Policies"). Miniscript's semantic policy is the model:

- ``[0, key_type, pubkey]``: a signature by this key (kinds 0x01, 0x02, their exact size)
- ``[1, k, [sub, ...]]``: k of the n subs, 1 <= k <= n <= 20 (and = n of n, or = 1 of n)
- ``[2, n]``: ``tx.locktime >= n``, both heights or both times, 1 <= n
- ``[3, h]``: a 32-byte preimage of the sha256 hash ``h``

A satisfaction has the policy's shape: a key gives its signature, a threshold the array of
its children's satisfactions, after ``true``, a hash lock the preimage; ``nil`` marks a node
not used. A used threshold has exactly k used children: nobody but the signers can strip
or add one (Miniscript's non-malleability). Signatures are not verified here: each used key
becomes one ``SigCheck``, verified later like a key spend's, and counted toward the block's
signature-check limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, final

from .encoding import _unpack
from .errors import DecodeError, RejectCode, RuleError
from .hashing import sha256
from .params import LOCKTIME_THRESHOLD, NetworkParams
from .primitives import POLICY_LOCK_KIND, U32, Tx, _pack
from .sighash import flagged_sig
from .signatures import REGISTRY

MAX_POLICY_SIZE = 3600
MAX_SATISFACTION_SIZE = 3600
MAX_POLICY_DEPTH = 8  # thresholds on the longest path from the root
MAX_POLICY_KEYS = 20
MAX_THRESHOLD_SUBS = 20

TAG_KEY, TAG_THRESH, TAG_AFTER, TAG_SHA256 = 0, 1, 2, 3

# (key type, pubkey, sig, message), as validation.SigCheck.
SigCheck = tuple[int, bytes, bytes, bytes]


def _bad(message: str) -> RuleError:
    return RuleError(RejectCode.POLICY_BAD_ENCODING, message)


@final
@dataclass(frozen=True, slots=True)
class Key:
    """A signature by ``pubkey`` of a key kind (0x01 Ed25519, 0x02 secp256k1)."""

    key_type: int
    pubkey: bytes

    def __post_init__(self) -> None:
        scheme = REGISTRY.get(self.key_type) if type(self.key_type) is int else None
        if scheme is None:
            raise _bad(f"policy key of unknown type {self.key_type!r}")
        if type(self.pubkey) is not bytes or len(self.pubkey) != scheme.pubkey_len:
            raise _bad(f"a {scheme.name} key in a policy is {scheme.pubkey_len} bytes")


@final
@dataclass(frozen=True, slots=True)
class Thresh:
    """At least, and in a satisfaction exactly, ``k`` of ``subs``."""

    k: int
    subs: tuple[Policy, ...]

    def __post_init__(self) -> None:
        if type(self.subs) is not tuple or not all(isinstance(s, _NODES) for s in self.subs):
            raise _bad("threshold subs must be a tuple of policies")
        n = len(self.subs)
        if type(self.k) is not int or not 1 <= self.k <= n or n > MAX_THRESHOLD_SUBS:
            raise _bad(f"threshold needs 1 <= k <= n <= {MAX_THRESHOLD_SUBS}")


@final
@dataclass(frozen=True, slots=True)
class After:
    """``tx.locktime >= n``, in the same domain (heights below 500,000,000, else times)."""

    n: int

    def __post_init__(self) -> None:
        if type(self.n) is not int or not 1 <= self.n <= U32:
            raise _bad("after(n) needs 1 <= n < 2^32")


@final
@dataclass(frozen=True, slots=True)
class Sha256:
    """A 32-byte preimage ``x`` with ``sha256(x) == hash``."""

    hash: bytes

    def __post_init__(self) -> None:
        if type(self.hash) is not bytes or len(self.hash) != 32:
            raise _bad("a hash lock commits to a 32-byte sha256 hash")


Policy = Key | Thresh | After | Sha256
_NODES = (Key, Thresh, After, Sha256)


# --- encoding ---------------------------------------------------------------------------


def policy_to_obj(policy: Policy) -> list:
    if type(policy) is Key:
        return [TAG_KEY, policy.key_type, policy.pubkey]
    if type(policy) is Thresh:
        return [TAG_THRESH, policy.k, [policy_to_obj(s) for s in policy.subs]]
    if type(policy) is After:
        return [TAG_AFTER, policy.n]
    return [TAG_SHA256, policy.hash]


def iter_nodes(policy: Policy) -> Iterator[Policy]:
    yield policy
    if type(policy) is Thresh:
        for sub in policy.subs:
            yield from iter_nodes(sub)


def policy_depth(policy: Policy) -> int:
    if type(policy) is Thresh:
        return 1 + max(policy_depth(s) for s in policy.subs)
    return 0


def policy_keys(policy: Policy) -> list[Key]:
    return [node for node in iter_nodes(policy) if type(node) is Key]


def encode_policy(policy: Policy) -> bytes:
    """The canonical encoding of a policy within the limits; RuleError otherwise."""
    if policy_depth(policy) > MAX_POLICY_DEPTH:
        raise RuleError(
            RejectCode.POLICY_TOO_DEEP, f"more than {MAX_POLICY_DEPTH} nested thresholds"
        )
    if len(policy_keys(policy)) > MAX_POLICY_KEYS:
        raise RuleError(RejectCode.POLICY_TOO_MANY_KEYS, f"more than {MAX_POLICY_KEYS} keys")
    data = _pack(policy_to_obj(policy))
    if len(data) > MAX_POLICY_SIZE:
        raise RuleError(RejectCode.POLICY_TOO_BIG, f"policy above {MAX_POLICY_SIZE} bytes")
    return data


def _field(obj: list, arity: int) -> list:
    if len(obj) != arity:
        raise _bad(f"policy node [{obj[0]}, ...] has {arity} fields, not {len(obj)}")
    return obj


def _policy_from_obj(obj: Any, depth: int) -> Policy:
    if type(obj) is not list or not obj or type(obj[0]) is not int:
        raise _bad("a policy node is an array starting with its tag")
    tag = obj[0]
    if tag == TAG_KEY:
        _, key_type, pubkey = _field(obj, 3)
        return Key(key_type, pubkey)
    if tag == TAG_THRESH:
        _, k, subs = _field(obj, 3)
        if depth >= MAX_POLICY_DEPTH:
            raise RuleError(
                RejectCode.POLICY_TOO_DEEP, f"more than {MAX_POLICY_DEPTH} nested thresholds"
            )
        if type(subs) is not list:
            raise _bad("threshold subs must be an array")
        return Thresh(k, tuple(_policy_from_obj(s, depth + 1) for s in subs))
    if tag == TAG_AFTER:
        return After(_field(obj, 2)[1])
    if tag == TAG_SHA256:
        return Sha256(_field(obj, 2)[1])
    raise _bad(f"unknown policy node tag {tag}")


def decode_policy(data: bytes) -> Policy:
    """The policy ``data`` canonically encodes, within the limits; RuleError otherwise."""
    if len(data) > MAX_POLICY_SIZE:
        raise RuleError(RejectCode.POLICY_TOO_BIG, f"policy above {MAX_POLICY_SIZE} bytes")
    try:
        obj = _unpack(data, MAX_POLICY_SIZE, "policy")
    except DecodeError as exc:
        raise _bad(exc.message) from exc
    policy = _policy_from_obj(obj, 0)
    if _pack(obj) != data:
        raise _bad("policy is not in its canonical encoding")
    if len(policy_keys(policy)) > MAX_POLICY_KEYS:
        raise RuleError(RejectCode.POLICY_TOO_MANY_KEYS, f"more than {MAX_POLICY_KEYS} keys")
    return policy


def policy_lock(policy_bytes: bytes) -> bytes:
    """The 33-byte lock of an encoded policy: ``0x03 || sha256(policy)``."""
    return bytes((POLICY_LOCK_KIND,)) + sha256(policy_bytes)


# --- satisfaction -----------------------------------------------------------------------


def decode_satisfaction(data: bytes) -> Any:
    """The satisfaction tree of ``data`` (checked against a policy by ``evaluate``)."""
    if len(data) > MAX_SATISFACTION_SIZE:
        raise RuleError(
            RejectCode.POLICY_TOO_BIG, f"satisfaction above {MAX_SATISFACTION_SIZE} bytes"
        )
    try:
        obj = _unpack(data, MAX_SATISFACTION_SIZE, "satisfaction")
    except DecodeError as exc:
        raise RuleError(RejectCode.SATISFACTION_BAD_ENCODING, exc.message) from exc
    try:
        again = _pack(obj)
    except ValueError as exc:  # nested deeper than the packer goes: no satisfaction is
        raise RuleError(RejectCode.SATISFACTION_BAD_ENCODING, "nested too deep") from exc
    if again != data:
        raise RuleError(
            RejectCode.SATISFACTION_BAD_ENCODING, "satisfaction is not in its canonical encoding"
        )
    return obj


def encode_satisfaction(sat: Any) -> bytes:
    return _pack(sat)


@dataclass(frozen=True, slots=True)
class SpendContext:
    """What a satisfaction is checked against: the spending tx, the input, the coin."""

    params: NetworkParams
    tx: Tx
    index: int
    value: int
    lock: bytes
    all_msg: bytes

    def sig_check(self, key: Key, sig: bytes) -> SigCheck:
        if len(sig) == 65:
            sig, msg = flagged_sig(sig, self.params, self.tx, self.index, self.value, self.lock)
            return (key.key_type, key.pubkey, sig, msg)
        return (key.key_type, key.pubkey, sig, self.all_msg)


def _shape(message: str) -> RuleError:
    return RuleError(RejectCode.SATISFACTION_BAD_ENCODING, message)


def evaluate(policy: Policy, sat: Any, ctx: SpendContext, out: list[SigCheck]) -> None:
    """Check the used node ``policy`` against ``sat``; append each used key's check."""
    if type(policy) is Key:
        if type(sat) is not bytes:
            raise _shape("a used key is satisfied by its signature (bin)")
        out.append(ctx.sig_check(policy, sat))
    elif type(policy) is Thresh:
        if type(sat) is not list or len(sat) != len(policy.subs):
            raise _shape("a used threshold is satisfied by an array of its n children")
        used = len(sat) - sat.count(None)
        if used < policy.k:
            raise RuleError(
                RejectCode.POLICY_THRESHOLD_NOT_MET, f"{used} of {policy.k} needed are used"
            )
        if used > policy.k:
            raise RuleError(
                RejectCode.POLICY_TOO_MANY_SATISFIED,
                f"{used} used where exactly {policy.k} must be",
            )
        for sub, sub_sat in zip(policy.subs, sat, strict=True):
            if sub_sat is not None:
                evaluate(sub, sub_sat, ctx, out)
    elif type(policy) is After:
        if sat is not True:
            raise _shape("a used after(n) is satisfied by true")
        locktime = ctx.tx.locktime
        if (locktime < LOCKTIME_THRESHOLD) != (policy.n < LOCKTIME_THRESHOLD):
            raise RuleError(RejectCode.POLICY_TIMELOCK, "locktime and after(n) in other domains")
        if locktime < policy.n:
            raise RuleError(RejectCode.POLICY_TIMELOCK, f"locktime {locktime} below {policy.n}")
    else:
        if type(sat) is not bytes:
            raise _shape("a used hash lock is satisfied by its preimage (bin)")
        if len(sat) != 32 or sha256(sat) != policy.hash:
            raise RuleError(RejectCode.POLICY_WRONG_PREIMAGE, "not the 32-byte preimage")


def policy_sig_checks(policy_bytes: bytes, sat_bytes: bytes, ctx: SpendContext) -> list[SigCheck]:
    """Every rule of a policy spend but the signatures; one check per used key."""
    policy = decode_policy(policy_bytes)
    if policy_lock(policy_bytes) != ctx.lock:
        raise RuleError(RejectCode.TX_LOCK_MISMATCH, "policy does not hash to the lock")
    sat = decode_satisfaction(sat_bytes)
    if sat is None:
        raise RuleError(RejectCode.POLICY_UNSATISFIED, "the root of a policy must be used")
    checks: list[SigCheck] = []
    evaluate(policy, sat, ctx, checks)
    return checks


def used_key_count(policy_bytes: bytes, sat_bytes: bytes) -> int:
    """The signature checks of a valid policy spend: its used keys."""
    return _count_used(decode_policy(policy_bytes), decode_satisfaction(sat_bytes))


def _count_used(policy: Policy, sat: Any) -> int:
    if sat is None:
        return 0
    if type(policy) is Key:
        return 1
    if type(policy) is Thresh and type(sat) is list:
        return sum(_count_used(p, s) for p, s in zip(policy.subs, sat, strict=False))
    return 0
