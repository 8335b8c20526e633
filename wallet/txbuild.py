"""Exact sizes of transactions before they are signed, and signing the inputs a wallet owns.

A tx's encoding is MessagePack, so its size is computable before signing: every signature
and public key of a key type has a fixed length, and the only variable widths are those of
the integers (values and output indexes) and of the two array headers. Coin selection uses
these sizes to charge exactly ``fee rate x final size``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgpack

from consensus.params import NetworkParams
from consensus.primitives import LOCK_SIZE, POLICY_LOCK_SIZE, Tx, TxIn, TxOut
from consensus.sighash import sighash
from consensus.signatures import REGISTRY

# [version, inputs, outputs, locktime] with version 1 and locktime 0: the fixarray header
# and the two one-byte integers around the input and output arrays.
_TX_FIXED = 3


def _packed_len(obj: object) -> int:
    return len(msgpack.packb(obj, use_bin_type=True))


def uint_width(value: int) -> int:
    """Bytes MessagePack uses for an unsigned integer (1, 2, 3, 5 or 9)."""
    return _packed_len(value)


def array_header_size(count: int) -> int:
    return 1 if count <= 15 else 3 if count <= 0xFFFF else 5


def input_size(prev_index: int, key_type: int) -> int:
    """Size of a signed input spending output ``prev_index`` with a key of ``key_type``."""
    scheme = REGISTRY[key_type]
    return _packed_len([bytes(32), prev_index, bytes(scheme.pubkey_len), bytes(scheme.sig_len)])


def output_size(value: int) -> int:
    return _packed_len([value, bytes(LOCK_SIZE)])


# A policy lock (33 bytes) where a key lock has 21: its bin header stays one byte wide.
POLICY_LOCK_EXTRA = POLICY_LOCK_SIZE - LOCK_SIZE


def tx_size(
    input_sizes: Sequence[int], output_values: Sequence[int], policy_outputs: int = 0
) -> int:
    """The encoded size of a version-1, locktime-0 tx with these inputs and outputs, of
    which ``policy_outputs`` pay to a 33-byte policy lock and the rest to 21-byte locks."""
    return (
        _TX_FIXED
        + array_header_size(len(input_sizes))
        + sum(input_sizes)
        + array_header_size(len(output_values))
        + sum(output_size(v) for v in output_values)
        + POLICY_LOCK_EXTRA * policy_outputs
    )


def unsigned_tx(
    inputs: Sequence[tuple[bytes, int]], outputs: Sequence[TxOut], version: int = 1
) -> Tx:
    """A locktime-0 tx spending ``(txid, index)`` pairs, with empty keys and sigs. The
    version is a small number (1 or 2), so the sizes above hold for it."""
    return Tx(version, tuple(TxIn(txid, n, b"", b"") for txid, n in inputs), tuple(outputs), 0)


def sign_inputs(
    tx: Tx,
    keys: Mapping[int, tuple[int, bytes]],
    spent: Sequence[tuple[int, bytes] | None],
    params: NetworkParams,
) -> Tx:
    """``tx`` with input ``i`` signed by ``keys[i]`` = (key type, secret) for each i in keys.

    ``spent[i]`` is the (value, lock) of the coin input i spends (needed for the inputs in
    ``keys``). Other inputs keep their public key and signature. The txid covers every public
    key, so all of ours are put in place first, then each signature commits to that txid.
    """
    with_keys = tuple(
        TxIn(i.prev_txid, i.prev_index, REGISTRY[keys[n][0]].pubkey_from_secret(keys[n][1]), b"")
        if n in keys
        else i
        for n, i in enumerate(tx.inputs)
    )
    unsigned = Tx(tx.version, with_keys, tx.outputs, tx.locktime)
    txid = unsigned.txid
    signed = []
    for n, i in enumerate(with_keys):
        if n in keys:
            key_type, secret = keys[n]
            coin = spent[n]
            assert coin is not None, "a signed input needs the coin it spends"
            value, lock = coin
            sig = REGISTRY[key_type].sign(secret, sighash(params, txid, n, value, lock))
            i = TxIn(i.prev_txid, i.prev_index, i.pubkey, sig)
        signed.append(i)
    return Tx(tx.version, tuple(signed), tx.outputs, tx.locktime)
