"""Writes policy_vectors.json from the implementation and the deterministic test keys.

    python -m tests.unit.data.make_policy_vectors > tests/unit/data/policy_vectors.json
    python -m tests.unit.data.make_policy_vectors --out tests/unit/data/policy_vectors.json

Every value is computed: encodings, locks and addresses by ``consensus``, signatures by the
keys of ``tests.chain_helpers`` (Ed25519 and RFC 6979 secp256k1 are both deterministic),
reject codes and verdicts by decoding and validating. To add a vector, add a row to one of
the tables below and regenerate; tests/unit/test_vectors_policy.py checks the file against
the implementation and against this script.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import msgpack

from consensus.address import encode_address
from consensus.coins import Coin, MemoryCoinView
from consensus.encoding import encode_tx
from consensus.errors import RuleError
from consensus.hashing import sha256
from consensus.params import COIN, REGTEST
from consensus.policy import (
    TAG_AFTER,
    TAG_KEY,
    TAG_SHA256,
    TAG_THRESH,
    After,
    Policy,
    Sha256,
    Thresh,
    decode_policy,
    encode_policy,
    encode_satisfaction,
    policy_lock,
    policy_to_obj,
)
from consensus.policy_text import format_policy
from consensus.sighash import sighash, sighash_acp
from consensus.signatures import ED25519, SECP256K1
from consensus.validation import check_tx_contextual
from tests.chain_helpers import Key, key, pk, policy_tx, sign_input, with_sigs

COMMENT = (
    "Policy locks (kind 0x03) and signature flags, regtest. Keys are the ones the tests "
    "derive; every hex is as on the wire. Generated from the implementation by "
    "tests/unit/data/make_policy_vectors.py and checked against it by "
    "tests/unit/test_vectors_policy.py."
)

# The buyer, the seller (secp256k1) and the arbiter of the escrow; K3 also receives.
K1, K2, K3 = key(501), key(502, SECP256K1.key_type), key(503)
PREIMAGE = b"obol vector preimage, 32 bytes!!"

TWO_OF_THREE = Thresh(2, (pk(K1), pk(K2), pk(K3)))
ESCROW = Thresh(1, (TWO_OF_THREE, Thresh(2, (pk(K1), After(1000)))))
HASH_LOCK = Thresh(2, (pk(K3), Sha256(sha256(PREIMAGE))))

POLICIES: list[tuple[str, Policy]] = [
    ("a single Ed25519 key", pk(K1)),
    ("a single secp256k1 key", pk(K2)),
    ("2 of 3 keys", TWO_OF_THREE),
    ("escrow: 2 of 3, or the buyer after height 1000", ESCROW),
    ("a key and a sha256 preimage", HASH_LOCK),
    ("a key after a time", Thresh(2, (pk(K1), After(1_700_000_000)))),
]


def nested_thresholds(depth: int) -> list:
    """``depth`` thresholds of one sub each around K1 (the policy objects refuse this)."""
    obj = policy_to_obj(pk(K1))
    for _ in range(depth):
        obj = [TAG_THRESH, 1, [obj]]
    return obj


# Encodings no Policy object can have, as MessagePack objects or, where the point is a
# non-canonical encoding, as raw bytes.
INVALID_POLICIES: list[tuple[str, list | bytes]] = [
    ("threshold with k = 0", [TAG_THRESH, 0, [[TAG_AFTER, 1]]]),
    ("threshold with k > n", [TAG_THRESH, 3, [[TAG_AFTER, 1], [TAG_AFTER, 2]]]),
    ("after(0)", [TAG_AFTER, 0]),
    ("hash of 31 bytes", [TAG_SHA256, bytes(31)]),
    ("Ed25519 key of 33 bytes", [TAG_KEY, ED25519.key_type, bytes(33)]),
    ("unknown tag", [4, 1]),
    ("after(5) with its integer in a uint8", bytes((0x92, TAG_AFTER, 0xCC, 5))),
    ("9 nested thresholds", nested_thresholds(9)),
]

# One tx with a policy input and a key input, both sighashes of each.
SIGHASH_TX = policy_tx(
    [(bytes(range(32)), 1, encode_policy(TWO_OF_THREE)), (bytes(range(32, 64)), 0, K1.pubkey)],
    [(3 * COIN, K3.lock), (COIN, policy_lock(encode_policy(TWO_OF_THREE)))],
)
SIGHASH_SPENT = [
    (2 * COIN, policy_lock(encode_policy(TWO_OF_THREE))),
    (2 * COIN + 5000, K1.lock),
]

# Each satisfaction spends a coin of SPEND_VALUE at SPEND_TXID:0 to K3, paying 1000 in fee,
# and is validated at SPEND_HEIGHT with SPEND_MTP.
SPEND_TXID = bytes(range(1, 33))
SPEND_VALUE = COIN
SPEND_HEIGHT = 2000
SPEND_MTP = 1_700_000_100

Sign = Callable[..., bytes]  # sig(key, acp=False): the key's signature of the input


class Spend(NamedTuple):
    description: str
    policy: Policy
    satisfaction: Callable[[Sign], bytes]  # the sig field, given the signer
    locktime: int = 0
    field: Policy | None = None  # the policy revealed, if not the one of the lock


def array16(items: list) -> bytes:
    """``items`` under a 3-byte array16 header instead of the canonical fixarray."""
    return b"\xdc" + len(items).to_bytes(2, "big") + encode_satisfaction(items)[1:]


SATISFACTIONS: list[Spend] = [
    Spend(
        "2 of 3: first and second",
        TWO_OF_THREE,
        lambda sig: encode_satisfaction([sig(K1), sig(K2), None]),
    ),
    Spend(
        "2 of 3: first and third, the first signed ALL|ANYONECANPAY",
        TWO_OF_THREE,
        lambda sig: encode_satisfaction([sig(K1, acp=True), None, sig(K3)]),
    ),
    Spend(
        "2 of 3: all three",
        TWO_OF_THREE,
        lambda sig: encode_satisfaction([sig(K1), sig(K2), sig(K3)]),
    ),
    Spend(
        "2 of 3: one",
        TWO_OF_THREE,
        lambda sig: encode_satisfaction([None, sig(K2), None]),
    ),
    Spend(
        "2 of 3: a signature by the wrong key",
        TWO_OF_THREE,
        lambda sig: encode_satisfaction([sig(K3), sig(K2), None]),
    ),
    Spend(
        "2 of 3: flag byte 0x01",
        TWO_OF_THREE,
        lambda sig: encode_satisfaction([sig(K1) + b"\x01", sig(K2), None]),
    ),
    Spend(
        "2 of 3: root not used",
        TWO_OF_THREE,
        lambda sig: encode_satisfaction(None),
    ),
    Spend(
        "2 of 3: array16 header (not canonical)",
        TWO_OF_THREE,
        lambda sig: array16([sig(K1), sig(K2), None]),
    ),
    Spend(
        "2 of 3: policy of another lock",
        TWO_OF_THREE,
        lambda sig: encode_satisfaction([sig(K1), sig(K2), None]),
        field=pk(K1),
    ),
    Spend(
        "escrow: buyer refund at locktime 1000",
        ESCROW,
        lambda sig: encode_satisfaction([None, [sig(K1), True]]),
        locktime=1000,
    ),
    Spend(
        "escrow: buyer refund at locktime 999",
        ESCROW,
        lambda sig: encode_satisfaction([None, [sig(K1), True]]),
        locktime=999,
    ),
    Spend(
        "escrow: buyer refund with a time locktime",
        ESCROW,
        lambda sig: encode_satisfaction([None, [sig(K1), True]]),
        locktime=1_700_000_000,
    ),
    Spend(
        "hash lock: the preimage",
        HASH_LOCK,
        lambda sig: encode_satisfaction([sig(K3), PREIMAGE]),
    ),
    Spend(
        "hash lock: another 32 bytes",
        HASH_LOCK,
        lambda sig: encode_satisfaction([sig(K3), bytes(32)]),
    ),
]


def policy_vector(description: str, policy: Policy) -> dict:
    data = encode_policy(policy)
    return {
        "description": description,
        "text": format_policy(policy),
        "policy": data.hex(),
        "lock": policy_lock(data).hex(),
        "address": encode_address(policy_lock(data), REGTEST),
    }


def invalid_policy_vector(description: str, encoding: list | bytes) -> dict:
    data = encoding if type(encoding) is bytes else msgpack.packb(encoding)
    try:
        decode_policy(data)
    except RuleError as exc:
        error = exc.code.value
    else:
        raise AssertionError(f"{description}: the policy decodes")
    return {"description": description, "policy": data.hex(), "error": error}


def sighash_vector(n: int) -> dict:
    value, lock = SIGHASH_SPENT[n]
    return {
        "tx": encode_tx(SIGHASH_TX).hex(),
        "input": n,
        "spent_value": value,
        "spent_lock": lock.hex(),
        "sighash_all": sighash(REGTEST, SIGHASH_TX.txid, n, value, lock).hex(),
        "sighash_acp": sighash_acp(REGTEST, SIGHASH_TX, n, value, lock).hex(),
    }


def satisfaction_vector(spend: Spend) -> dict:
    lock = policy_lock(encode_policy(spend.policy))
    field = encode_policy(spend.field or spend.policy)
    unsigned = policy_tx([(SPEND_TXID, 0, field)], [(SPEND_VALUE - 1000, K3.lock)], spend.locktime)

    def sig(k: Key, acp: bool = False) -> bytes:
        return sign_input(unsigned, 0, k, SPEND_VALUE, lock, acp)

    satisfaction = spend.satisfaction(sig)
    tx = with_sigs(unsigned, {0: satisfaction})
    view = MemoryCoinView({tx.inputs[0].outpoint_key: Coin(SPEND_VALUE, lock, 1, False)})
    try:
        check_tx_contextual(tx, view, SPEND_HEIGHT, SPEND_MTP, REGTEST)
        result = "valid"
    except RuleError as exc:
        result = exc.code.value
    return {
        "description": spend.description,
        "spent_value": SPEND_VALUE,
        "spent_lock": lock.hex(),
        "height": SPEND_HEIGHT,
        "median_time_past": SPEND_MTP,
        "tx": encode_tx(tx).hex(),
        "satisfaction": satisfaction.hex(),
        "result": result,
    }


def vectors() -> dict:
    return {
        "comment": COMMENT,
        "policies": [policy_vector(d, p) for d, p in POLICIES],
        "invalid_policies": [invalid_policy_vector(d, e) for d, e in INVALID_POLICIES],
        "sighashes": [sighash_vector(n) for n in range(len(SIGHASH_TX.inputs))],
        "satisfactions": [satisfaction_vector(s) for s in SATISFACTIONS],
    }


def render() -> str:
    """The file's text: one-space indent, no newline at the end."""
    return json.dumps(vectors(), indent=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write to this file instead of stdout")
    args = parser.parse_args(argv)
    text = render()
    if args.out:
        args.out.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
