"""Partially signed transactions: one tx built and signed by several parties (BIP 174's
roles: creator, updater, signer, combiner, finalizer, extractor).

The tx a PSBT carries has every ``sig`` empty and each input's ``pubkey`` field as it will
be in the final tx: the public key of a key input, the policy of a policy input, or empty
until an updater fills it in. The txid covers those fields, so every field is in place
before anyone signs ALL; an ALL|ANYONECANPAY signature covers only its own input's field
(and the outputs), so other inputs may still be added. Per input the PSBT holds the coin
spent (value and lock), partial signatures keyed by typed public key, sha256 preimages,
and the final ``sig`` (a key's signature, or a policy's satisfaction); per output, the
policy behind a 33-byte lock or the key of a 21-byte lock, for a wallet to recognise.

The encoding (docs/PROTOCOL.md, "Partially signed transactions"): ``b"opsbt"``, one
version byte, then canonical MessagePack ``[network magic, tx, [input...], [output...]]``,
each input and output a list of ``[tag, value]`` fields in ascending tag order; the whole
in base64. Everything is checked before anything is returned: a field of an unknown tag,
an unknown version, another network, a field that disagrees with the lock it describes,
or any byte not in its one canonical place is refused with a ``PsbtError`` saying why.

Everything here is pure: the node looks coins up and hands them in.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from consensus.encoding import MAX_TX_BYTES, _unpack, decode_tx
from consensus.errors import RuleError
from consensus.hashing import sha256
from consensus.params import NetworkParams
from consensus.policy import (
    Key,
    Policy,
    Sha256,
    decode_policy,
    decode_satisfaction,
    encode_satisfaction,
    iter_nodes,
    policy_keys,
    policy_lock,
)
from consensus.primitives import MAX_SIG_SIZE, POLICY_LOCK_KIND, Tx, TxIn, TxOut, _pack
from consensus.sighash import SIGHASH_ALL_ACP, sighash, sighash_acp
from consensus.signatures import REGISTRY, make_lock

from .satisfy import Plan, plan

MAGIC = b"opsbt"
VERSION = 1
MAX_PSBT_BYTES = 4 * MAX_TX_BYTES  # binary; a tx is at most MAX_TX_BYTES
MAX_PSBT_TEXT = 4 * ((MAX_PSBT_BYTES + 2) // 3)
MAX_PREIMAGES = 20
MAX_JOINED = 100

IN_COIN, IN_SIGS, IN_PREIMAGES, IN_FINAL = 0, 1, 2, 3
OUT_POLICY, OUT_KEY = 0, 1
_IN_TAGS = frozenset((IN_COIN, IN_SIGS, IN_PREIMAGES, IN_FINAL))
_OUT_TAGS = frozenset((OUT_POLICY, OUT_KEY))


class PsbtError(ValueError):
    """A PSBT that cannot be read or used; the message is the reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _key_sort(key: Key) -> tuple[int, bytes]:
    return (key.key_type, key.pubkey)


def typed_key(key: Key) -> str:
    """``ed25519:HEX`` / ``secp256k1:HEX``, as policies' text form writes keys."""
    return f"{REGISTRY[key.key_type].name}:{key.pubkey.hex()}"


@dataclass(frozen=True, slots=True)
class PsbtInput:
    """What one input's parties know: the coin, signatures, preimages, the final sig."""

    coin: TxOut | None = None
    sigs: tuple[tuple[Key, bytes], ...] = ()  # sorted by (key type, pubkey), one per key
    preimages: tuple[bytes, ...] = ()  # sorted, 32 bytes each
    final: bytes | None = None  # the input's sig field once finalized

    def __post_init__(self) -> None:
        if self.coin is not None and type(self.coin) is not TxOut:
            raise PsbtError("an input's coin is a TxOut")
        keys = [k for k, _ in self.sigs]
        if any(type(k) is not Key for k in keys):
            raise PsbtError("partial signatures are keyed by typed public keys")
        if keys != sorted(set(keys), key=_key_sort):
            raise PsbtError("partial signatures must be sorted by key, one per key")
        for _, sig in self.sigs:
            if type(sig) is not bytes or not (
                len(sig) == 64 or (len(sig) == 65 and sig[64] == SIGHASH_ALL_ACP)
            ):
                raise PsbtError("a signature is 64 bytes (ALL) or 65 ending 0x81 (ALL|ACP)")
        if any(type(p) is not bytes or len(p) != 32 for p in self.preimages):
            raise PsbtError("a preimage is 32 bytes")
        if list(self.preimages) != sorted(set(self.preimages)):
            raise PsbtError("preimages must be sorted, each once")
        if len(self.preimages) > MAX_PREIMAGES:
            raise PsbtError(f"more than {MAX_PREIMAGES} preimages")
        if self.final is not None:
            if type(self.final) is not bytes or not 0 < len(self.final) <= MAX_SIG_SIZE:
                raise PsbtError(f"a final sig is 1 to {MAX_SIG_SIZE} bytes")
            if self.sigs or self.preimages:
                raise PsbtError("a finalized input keeps no partial signatures or preimages")

    @property
    def sig_map(self) -> dict[Key, bytes]:
        return dict(self.sigs)


@dataclass(frozen=True, slots=True)
class PsbtOutput:
    """What a wallet needs to recognise an output as its own."""

    policy: bytes | None = None  # the policy behind a 33-byte lock
    key: Key | None = None  # the key of a 21-byte lock

    def __post_init__(self) -> None:
        if self.policy is not None and self.key is not None:
            raise PsbtError("an output has a policy or a key, not both")
        if self.key is not None and type(self.key) is not Key:
            raise PsbtError("an output's key is a typed public key")
        if self.policy is not None:
            _policy(self.policy, "output policy")


def _policy(data: object, what: str) -> Policy:
    if type(data) is not bytes:
        raise PsbtError(f"{what} must be bytes")
    try:
        return decode_policy(data)
    except RuleError as exc:
        raise PsbtError(f"{what}: {exc.message}") from exc


def _spend_of(lock: bytes, field: bytes, where: str) -> Key | Policy:
    """The key or policy an input's pubkey field gives, checked against the coin's lock."""
    if lock[0] == POLICY_LOCK_KIND:
        policy = _policy(field, f"{where}: policy")
        if policy_lock(field) != lock:
            raise PsbtError(f"{where}: the policy does not hash to the coin's lock")
        return policy
    scheme = REGISTRY.get(lock[0])
    if scheme is None:
        raise PsbtError(f"{where}: a coin of lock kind {lock[0]} can never be spent")
    if len(field) != scheme.pubkey_len or make_lock(lock[0], field) != lock:
        raise PsbtError(f"{where}: the public key does not match the coin's lock")
    return Key(lock[0], field)


@dataclass(frozen=True, slots=True)
class Psbt:
    """A tx being built by several parties, with what each input and output needs."""

    magic: bytes
    tx: Tx
    inputs: tuple[PsbtInput, ...]
    outputs: tuple[PsbtOutput, ...]

    def __post_init__(self) -> None:
        if type(self.magic) is not bytes or len(self.magic) != 4:
            raise PsbtError("the network magic is 4 bytes")
        if type(self.tx) is not Tx:
            raise PsbtError("a PSBT carries a Tx")
        if any(i.sig for i in self.tx.inputs):
            raise PsbtError("the tx of a PSBT has every sig empty (signatures go in the inputs)")
        if len(self.inputs) != len(self.tx.inputs) or len(self.outputs) != len(self.tx.outputs):
            raise PsbtError("a PSBT has one input and one output entry per tx input and output")
        for n, (txin, pin) in enumerate(zip(self.tx.inputs, self.inputs, strict=True)):
            _check_input(n, txin, pin)
        for n, (txout, pout) in enumerate(zip(self.tx.outputs, self.outputs, strict=True)):
            if pout.policy is not None and policy_lock(pout.policy) != txout.lock:
                raise PsbtError(f"output {n}: the policy does not hash to the output's lock")
            if pout.key is not None and make_lock(pout.key.key_type, pout.key.pubkey) != (
                txout.lock
            ):
                raise PsbtError(f"output {n}: the key does not match the output's lock")

    def spend(self, index: int) -> Key | Policy | None:
        """What input ``index`` is spent with: its key, its policy, or None while unknown
        (no coin, or an empty pubkey field)."""
        coin = self.inputs[index].coin
        field = self.tx.inputs[index].pubkey
        if coin is None or not field:
            return None
        return _spend_of(coin.lock, field, f"input {index}")

    @property
    def fee(self) -> int | None:
        """Inputs less outputs, once every coin is known."""
        if any(i.coin is None for i in self.inputs):
            return None
        spent = sum(i.coin.value for i in self.inputs if i.coin is not None)
        return spent - sum(o.value for o in self.tx.outputs)


def _check_input(n: int, txin: TxIn, pin: PsbtInput) -> None:
    where = f"input {n}"
    if type(pin) is not PsbtInput:
        raise PsbtError(f"{where}: not a PsbtInput")
    if pin.coin is None or not txin.pubkey:
        if pin.sigs or pin.preimages or pin.final is not None:
            raise PsbtError(f"{where}: signed before its coin and key or policy are known")
        return
    spend = _spend_of(pin.coin.lock, txin.pubkey, where)
    if pin.coin.lock[0] != POLICY_LOCK_KIND:
        if any(k != spend for k, _ in pin.sigs):
            raise PsbtError(f"{where}: a signature by a key other than the input's")
        if pin.preimages:
            raise PsbtError(f"{where}: a key input takes no preimages")
        return
    keys = set(policy_keys(spend))
    if any(k not in keys for k, _ in pin.sigs):
        raise PsbtError(f"{where}: a signature by a key that is not in the policy")
    hashes = {node.hash for node in iter_nodes(spend) if type(node) is Sha256}
    if any(sha256(p) not in hashes for p in pin.preimages):
        raise PsbtError(f"{where}: a preimage of no hash lock of the policy")


# --- encoding ---------------------------------------------------------------------------


def _input_obj(pin: PsbtInput) -> list:
    fields: list[list] = []
    if pin.coin is not None:
        fields.append([IN_COIN, [pin.coin.value, pin.coin.lock]])
    if pin.sigs:
        fields.append([IN_SIGS, [[k.key_type, k.pubkey, s] for k, s in pin.sigs]])
    if pin.preimages:
        fields.append([IN_PREIMAGES, list(pin.preimages)])
    if pin.final is not None:
        fields.append([IN_FINAL, pin.final])
    return fields


def _output_obj(pout: PsbtOutput) -> list:
    if pout.policy is not None:
        return [[OUT_POLICY, pout.policy]]
    if pout.key is not None:
        return [[OUT_KEY, [pout.key.key_type, pout.key.pubkey]]]
    return []


def encode_psbt_bytes(psbt: Psbt) -> bytes:
    body = [
        psbt.magic,
        psbt.tx.serialize(),
        [_input_obj(i) for i in psbt.inputs],
        [_output_obj(o) for o in psbt.outputs],
    ]
    return MAGIC + bytes((VERSION,)) + _pack(body)


def encode_psbt(psbt: Psbt) -> str:
    """The PSBT's base64 text."""
    return base64.b64encode(encode_psbt_bytes(psbt)).decode("ascii")


def _list(obj: Any, what: str, arity: int | None = None) -> list:
    if type(obj) is not list:
        raise PsbtError(f"{what}: expected an array")
    if arity is not None and len(obj) != arity:
        raise PsbtError(f"{what}: expected {arity} items, got {len(obj)}")
    return obj


def _fields(obj: Any, what: str, known: frozenset[int]) -> dict[int, Any]:
    fields: dict[int, Any] = {}
    last = -1
    for item in _list(obj, what):
        tag, value = _list(item, f"{what} field", 2)
        if type(tag) is not int:
            raise PsbtError(f"{what}: a field tag is an unsigned integer")
        if tag not in known:
            raise PsbtError(f"{what}: unknown field {tag} (from a newer format?)")
        if tag <= last:
            raise PsbtError(f"{what}: fields must appear once each, in ascending tag order")
        last = tag
        fields[tag] = value
    return fields


def _typed(kt: Any, pk: Any, what: str) -> Key:
    try:
        return Key(kt, pk)
    except RuleError as exc:
        raise PsbtError(f"{what}: {exc.message}") from exc


def _input_from_obj(obj: Any, n: int) -> PsbtInput:
    what = f"input {n}"
    f = _fields(obj, what, _IN_TAGS)
    coin = None
    if IN_COIN in f:
        value, lock = _list(f[IN_COIN], f"{what} coin", 2)
        try:
            coin = TxOut(value, lock)
        except ValueError as exc:
            raise PsbtError(f"{what} coin: {exc}") from exc
    sigs = []
    for item in _list(f.get(IN_SIGS, []), f"{what} signatures"):
        kt, pk, sig = _list(item, f"{what} signature", 3)
        sigs.append((_typed(kt, pk, f"{what} signature"), sig))
    preimages = tuple(_list(f.get(IN_PREIMAGES, []), f"{what} preimages"))
    try:
        return PsbtInput(coin, tuple(sigs), preimages, f.get(IN_FINAL))
    except PsbtError as exc:
        raise PsbtError(f"{what}: {exc.message}") from exc


def _output_from_obj(obj: Any, n: int) -> PsbtOutput:
    what = f"output {n}"
    f = _fields(obj, what, _OUT_TAGS)
    key = None
    if OUT_KEY in f:
        kt, pk = _list(f[OUT_KEY], f"{what} key", 2)
        key = _typed(kt, pk, f"{what} key")
    try:
        return PsbtOutput(f.get(OUT_POLICY), key)
    except PsbtError as exc:
        raise PsbtError(f"{what}: {exc.message}") from exc


def decode_psbt_bytes(raw: bytes, magic: bytes) -> Psbt:
    if len(raw) > MAX_PSBT_BYTES:
        raise PsbtError(f"a PSBT is at most {MAX_PSBT_BYTES} bytes")
    if not raw.startswith(MAGIC):
        raise PsbtError("not a PSBT (it does not start with the magic bytes 'opsbt')")
    if len(raw) == len(MAGIC):
        raise PsbtError("truncated PSBT: no version")
    if raw[len(MAGIC)] != VERSION:
        raise PsbtError(f"unsupported PSBT version {raw[len(MAGIC)]} (this node reads {VERSION})")
    data = raw[len(MAGIC) + 1 :]
    try:
        body = _unpack(data, MAX_PSBT_BYTES, "PSBT")
    except RuleError as exc:
        raise PsbtError(f"truncated or damaged PSBT: {exc.message}") from exc
    net, tx_raw, ins, outs = _list(body, "PSBT", 4)
    if type(net) is not bytes or len(net) != 4:
        raise PsbtError("PSBT: the network magic is 4 bytes")
    if net != magic:
        raise PsbtError(
            f"the PSBT is for another network (magic {net.hex()}, this network's {magic.hex()})"
        )
    if type(tx_raw) is not bytes:
        raise PsbtError("PSBT: the tx is its encoding as bin")
    try:
        tx = decode_tx(tx_raw)
    except RuleError as exc:
        raise PsbtError(f"PSBT tx: {exc.message}") from exc
    psbt = Psbt(
        net,
        tx,
        tuple(_input_from_obj(o, n) for n, o in enumerate(_list(ins, "PSBT inputs"))),
        tuple(_output_from_obj(o, n) for n, o in enumerate(_list(outs, "PSBT outputs"))),
    )
    if encode_psbt_bytes(psbt) != raw:
        raise PsbtError("PSBT is not in its canonical encoding")
    return psbt


def decode_psbt(text: str, magic: bytes) -> Psbt:
    """The PSBT of base64 ``text`` for the network of ``magic``; PsbtError saying why not."""
    if type(text) is not str:
        raise PsbtError("a PSBT is base64 text")
    if len(text) > MAX_PSBT_TEXT:
        raise PsbtError(f"a PSBT is at most {MAX_PSBT_BYTES} bytes")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise PsbtError(f"invalid base64 ({exc})") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise PsbtError("invalid base64 (not its canonical form)")
    return decode_psbt_bytes(raw, magic)


# --- creator and updater ----------------------------------------------------------------


def create_psbt(tx: Tx, magic: bytes) -> Psbt:
    """A PSBT of ``tx`` with nothing known yet; the tx's sigs must be empty."""
    return Psbt(
        magic, tx, tuple(PsbtInput() for _ in tx.inputs), tuple(PsbtOutput() for _ in tx.outputs)
    )


def _with_input(psbt: Psbt, index: int, txin: TxIn, pin: PsbtInput) -> Psbt:
    inputs = list(psbt.tx.inputs)
    inputs[index] = txin
    pins = list(psbt.inputs)
    pins[index] = pin
    tx = Tx(psbt.tx.version, tuple(inputs), psbt.tx.outputs, psbt.tx.locktime)
    return Psbt(psbt.magic, tx, tuple(pins), psbt.outputs)


def _all_sigs_in(sat: Any) -> bool:
    """Whether a satisfaction tree holds a 64-byte (ALL) signature; preimages are 32."""
    if type(sat) is list:
        return any(_all_sigs_in(s) for s in sat)
    return type(sat) is bytes and len(sat) == 64


def has_all_signature(psbt: Psbt) -> bool:
    """Whether some input holds an ALL signature, partial or final: the txid is fixed
    then. ALL|ANYONECANPAY signatures fix only their own input."""
    for pin in psbt.inputs:
        if any(len(s) == 64 for _, s in pin.sigs):
            return True
        if pin.final is not None and pin.coin is not None:
            if pin.coin.lock[0] != POLICY_LOCK_KIND:
                if len(pin.final) == 64:
                    return True
            else:
                try:
                    sat = decode_satisfaction(pin.final)
                except RuleError:
                    return True
                if _all_sigs_in(sat):
                    return True
    return False


def update_input(
    psbt: Psbt, index: int, coin: TxOut | None = None, field: bytes | None = None
) -> Psbt:
    """Input ``index`` with its coin and/or its pubkey field (the key or the encoded
    policy) filled in. A coin already known must be the same; a field already set must be
    the same, and a new field changes the txid, so it is refused once anything signed ALL."""
    txin, pin = psbt.tx.inputs[index], psbt.inputs[index]
    where = f"input {index}"
    if coin is not None and pin.coin is not None and coin != pin.coin:
        raise PsbtError(f"{where}: the coin given differs from the PSBT's")
    if field is not None and txin.pubkey and field != txin.pubkey:
        raise PsbtError(f"{where}: the key or policy given differs from the PSBT's")
    new_coin = pin.coin or coin
    new_field = txin.pubkey or (field or b"")
    if new_field != txin.pubkey and has_all_signature(psbt):
        raise PsbtError(f"{where}: cannot add a key or policy once an input is signed ALL")
    new_in = TxIn(txin.prev_txid, txin.prev_index, new_field, b"")
    return _with_input(psbt, index, new_in, replace(pin, coin=new_coin))


def update_output(psbt: Psbt, index: int, out: PsbtOutput) -> Psbt:
    outs = list(psbt.outputs)
    outs[index] = out
    return Psbt(psbt.magic, psbt.tx, psbt.inputs, tuple(outs))


# --- signer -----------------------------------------------------------------------------


def signature_message(psbt: Psbt, index: int, params: NetworkParams, acp: bool) -> bytes:
    """What a signature of input ``index`` signs (ALL, or ALL|ANYONECANPAY)."""
    coin = psbt.inputs[index].coin
    if coin is None or not psbt.tx.inputs[index].pubkey:
        raise PsbtError(f"input {index}: its coin and key or policy must be known to sign it")
    if acp:
        return sighash_acp(params, psbt.tx, index, coin.value, coin.lock)
    if not all(i.pubkey for i in psbt.tx.inputs):
        raise PsbtError("every input's key or policy must be known before signing ALL")
    return sighash(params, psbt.tx.txid, index, coin.value, coin.lock)


def sig_valid(psbt: Psbt, index: int, key: Key, sig: bytes, params: NetworkParams) -> bool:
    """Whether ``sig`` by ``key`` is a valid signature of input ``index`` now."""
    acp = len(sig) == 65
    try:
        msg = signature_message(psbt, index, params, acp)
        REGISTRY[key.key_type].verify(key.pubkey, sig[:64], msg)
    except (PsbtError, RuleError):
        return False
    return True


def add_signature(psbt: Psbt, index: int, key: Key, sig: bytes) -> Psbt:
    """Input ``index`` with ``sig`` by ``key`` (replacing the key's earlier one)."""
    pin = psbt.inputs[index]
    if pin.final is not None:
        return psbt
    sigs = {**pin.sig_map, key: sig}
    new = replace(pin, sigs=tuple(sorted(sigs.items(), key=lambda kv: _key_sort(kv[0]))))
    return _with_input(psbt, index, psbt.tx.inputs[index], new)


def sign_input(
    psbt: Psbt,
    index: int,
    key_type: int,
    secret: bytes,
    params: NetworkParams,
    acp: bool = False,
) -> Psbt:
    """Input ``index`` signed by the secret key: ALL (64 bytes) or ALL|ANYONECANPAY
    (65 bytes ending 0x81). The key must be the input's key or one of its policy's."""
    scheme = REGISTRY[key_type]
    key = Key(key_type, scheme.pubkey_from_secret(secret))
    spend = psbt.spend(index)
    if spend is None:
        raise PsbtError(f"input {index}: its coin and key or policy must be known to sign it")
    if key != spend and (type(spend) is Key or key not in policy_keys(spend)):
        raise PsbtError(f"input {index}: the key is not one that can sign it")
    sig = scheme.sign(secret, signature_message(psbt, index, params, acp))
    return add_signature(psbt, index, key, sig + bytes((SIGHASH_ALL_ACP,)) if acp else sig)


def add_preimage(psbt: Psbt, index: int, preimage: bytes) -> Psbt:
    pin = psbt.inputs[index]
    new = replace(pin, preimages=tuple(sorted({*pin.preimages, preimage})))
    return _with_input(psbt, index, psbt.tx.inputs[index], new)


# --- combiner and joiner ----------------------------------------------------------------


def _blank_fields(tx: Tx) -> Tx:
    ins = tuple(TxIn(i.prev_txid, i.prev_index, b"", b"") for i in tx.inputs)
    return Tx(tx.version, ins, tx.outputs, tx.locktime)


def combine(psbts: Sequence[Psbt]) -> Psbt:
    """One PSBT with everything the given ones know of the same tx (Core's combinepsbt).

    The txs must be the same but for pubkey fields one of them has not filled in yet.
    For a key signed in several, the first PSBT's signature is kept; a final sig wins
    over partial ones."""
    if not psbts:
        raise PsbtError("nothing to combine")
    out = psbts[0]
    for n, other in enumerate(psbts[1:], start=1):
        if other.magic != out.magic:
            raise PsbtError(f"PSBT {n} is for another network")
        if _blank_fields(other.tx).txid != _blank_fields(out.tx).txid:
            raise PsbtError(f"PSBT {n} is of another transaction")
        for i, (pin, txin) in enumerate(zip(other.inputs, other.tx.inputs, strict=True)):
            if pin.coin is not None or txin.pubkey:
                out = update_input(out, i, pin.coin, txin.pubkey or None)
            current = out.inputs[i]
            if current.final is not None:
                continue
            if pin.final is not None:
                out = _with_input(
                    out, i, out.tx.inputs[i], PsbtInput(current.coin, final=pin.final)
                )
                continue
            for key, sig in pin.sigs:
                if key not in current.sig_map:
                    out = add_signature(out, i, key, sig)
            for preimage in pin.preimages:
                out = add_preimage(out, i, preimage)
        for i, pout in enumerate(other.outputs):
            mine = out.outputs[i]
            if pout != PsbtOutput() and mine == PsbtOutput():
                out = update_output(out, i, pout)
            elif pout != PsbtOutput() and pout != mine:
                raise PsbtError(f"PSBT {n}: output {i} is described differently")
    return out


def join(psbts: Sequence[Psbt]) -> Psbt:
    """One PSBT spending every input and paying every output of the given ones, in their
    order (Core's joinpsbts; the RPC shuffles). The highest version and the lowest
    locktime are taken, as Core does. A signature commits to the tx it signed, so
    signed PSBTs are refused: join first, then each party signs."""
    if len(psbts) < 2:
        raise PsbtError("At least two PSBTs are required to join PSBTs.")
    if len(psbts) > MAX_JOINED:
        raise PsbtError(f"at most {MAX_JOINED} PSBTs are joined at once")
    magic = psbts[0].magic
    seen: set[bytes] = set()
    ins: list[TxIn] = []
    outs: list[TxOut] = []
    pins: list[PsbtInput] = []
    pouts: list[PsbtOutput] = []
    for n, p in enumerate(psbts):
        if p.magic != magic:
            raise PsbtError(f"PSBT {n} is for another network")
        for txin, pin in zip(p.tx.inputs, p.inputs, strict=True):
            if pin.sigs or pin.final is not None:
                raise PsbtError(f"PSBT {n} is already signed: join first, then sign")
            if txin.outpoint_key in seen:
                raise PsbtError(
                    f"Input {txin.prev_txid[::-1].hex()}:{txin.prev_index} exists in multiple PSBTs"
                )
            seen.add(txin.outpoint_key)
            ins.append(txin)
            pins.append(pin)
        outs.extend(p.tx.outputs)
        pouts.extend(p.outputs)
    version = max(p.tx.version for p in psbts)
    locktime = min(p.tx.locktime for p in psbts)
    return Psbt(magic, Tx(version, tuple(ins), tuple(outs), locktime), tuple(pins), tuple(pouts))


def reorder(psbt: Psbt, input_order: Iterable[int], output_order: Iterable[int]) -> Psbt:
    """The same PSBT with inputs and outputs permuted (joinpsbts shuffles, as Core)."""
    io, oo = list(input_order), list(output_order)
    if sorted(io) != list(range(len(psbt.inputs))) or sorted(oo) != list(range(len(psbt.outputs))):
        raise PsbtError("not a permutation")
    if any(pin.sigs or pin.final is not None for pin in psbt.inputs):
        raise PsbtError("a signed PSBT cannot be reordered")
    tx = psbt.tx
    new_tx = Tx(
        tx.version,
        tuple(tx.inputs[i] for i in io),
        tuple(tx.outputs[i] for i in oo),
        tx.locktime,
    )
    return Psbt(
        psbt.magic,
        new_tx,
        tuple(psbt.inputs[i] for i in io),
        tuple(psbt.outputs[i] for i in oo),
    )


# --- analysis and finalizer -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Missing:
    """What input ``index`` still needs before it can be finalized."""

    coin: bool  # the coin spent is unknown (the updater adds it)
    field: bool  # the key or policy is unknown (the updater adds it)
    keys: tuple[Key, ...]  # signatures still needed, on the cheapest way to complete
    hashes: tuple[bytes, ...]  # preimages still needed (their sha256)
    after: tuple[int, ...]  # time locks the tx's locktime does not meet
    final: bool  # finalized already

    @property
    def role(self) -> str:
        """Who acts next on this input: updater, signer, finalizer or extractor."""
        if self.final:
            return "extractor"
        if self.coin or self.field:
            return "updater"
        if self.keys or self.hashes or self.after:
            return "signer"
        return "finalizer"


def _is_policy_input(psbt: Psbt, index: int) -> bool:
    coin = psbt.inputs[index].coin
    return coin is not None and coin.lock[0] == POLICY_LOCK_KIND


def _valid_sigs(psbt: Psbt, index: int, params: NetworkParams) -> dict[Key, bytes]:
    return {k: s for k, s in psbt.inputs[index].sigs if sig_valid(psbt, index, k, s, params)}


def input_plan(psbt: Psbt, index: int, params: NetworkParams) -> Plan | None:
    """The cheapest way to satisfy input ``index`` with its valid signatures and its
    preimages; None while its coin or key or policy is unknown."""
    spend = psbt.spend(index)
    if spend is None:
        return None
    sigs = _valid_sigs(psbt, index, params)
    preimages = {sha256(p): p for p in psbt.inputs[index].preimages}
    return plan(spend, sigs, preimages, psbt.tx.locktime)


def missing(psbt: Psbt, index: int, params: NetworkParams) -> Missing:
    pin = psbt.inputs[index]
    if pin.final is not None:
        return Missing(False, False, (), (), (), True)
    p = input_plan(psbt, index, params)
    if p is None:
        return Missing(pin.coin is None, not psbt.tx.inputs[index].pubkey, (), (), (), False)
    return Missing(False, False, p.missing_keys, p.missing_hashes, p.missing_after, False)


def finalize_input(psbt: Psbt, index: int, params: NetworkParams) -> Psbt:
    """Input ``index`` finalized if it can be now: a key input's valid signature, or the
    cheapest complete satisfaction of its policy (exactly k of each used threshold,
    preferring branches without time locks). Otherwise the PSBT unchanged."""
    pin = psbt.inputs[index]
    if pin.final is not None:
        return psbt
    p = input_plan(psbt, index, params)
    if p is None or not p.complete:
        return psbt
    final = encode_satisfaction(p.sat) if _is_policy_input(psbt, index) else p.sat
    return _with_input(psbt, index, psbt.tx.inputs[index], PsbtInput(pin.coin, final=final))


def finalize(psbt: Psbt, params: NetworkParams) -> Psbt:
    for n in range(len(psbt.inputs)):
        psbt = finalize_input(psbt, n, params)
    return psbt


def is_complete(psbt: Psbt) -> bool:
    return all(pin.final is not None for pin in psbt.inputs)


def extract(psbt: Psbt) -> Tx:
    """The signed tx of a PSBT whose every input is final (PsbtError otherwise)."""
    if not is_complete(psbt):
        raise PsbtError("not every input is finalized")
    ins = tuple(
        TxIn(i.prev_txid, i.prev_index, i.pubkey, pin.final or b"")
        for i, pin in zip(psbt.tx.inputs, psbt.inputs, strict=True)
    )
    return Tx(psbt.tx.version, ins, psbt.tx.outputs, psbt.tx.locktime)


def estimated_size(psbt: Psbt, params: NetworkParams) -> int | None:
    """The final tx's size: exact for finalized inputs, the cheapest plan's for the others
    (64-byte signatures where they are missing); None while an input's spend is unknown."""
    ins = []
    for n, (txin, pin) in enumerate(zip(psbt.tx.inputs, psbt.inputs, strict=True)):
        if pin.final is not None:
            ins.append(TxIn(txin.prev_txid, txin.prev_index, txin.pubkey, pin.final))
            continue
        p = input_plan(psbt, n, params)
        if p is None:
            return None
        sig = encode_satisfaction(p.sat) if _is_policy_input(psbt, n) else p.sat
        ins.append(TxIn(txin.prev_txid, txin.prev_index, txin.pubkey, sig))
    return Tx(psbt.tx.version, tuple(ins), psbt.tx.outputs, psbt.tx.locktime).size
