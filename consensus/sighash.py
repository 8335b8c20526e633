"""What input i of a transaction signs.

``sha256d(b"OBOL/sighash" || magic || txid || u32le(i) || u64le(spent value) || spent lock)``:
the network (no replay across networks), the whole tx (its txid leaves signatures out), the
input's position, and the coin it spends (value and lock, so a signer never has to trust
someone else's word for the amount).
"""

from __future__ import annotations

from .errors import RejectCode, RuleError
from .hashing import sha256d
from .params import NetworkParams
from .primitives import Tx, TxIn

SIGHASH_TAG = b"OBOL/sighash"


def sighash_head(params: NetworkParams, txid: bytes) -> bytes:
    """What every input's sighash of a tx starts with: validation builds it once per tx."""
    return SIGHASH_TAG + params.magic + txid


def sighash_from_head(head: bytes, index: int, value: int, lock: bytes) -> bytes:
    """``sighash`` given ``sighash_head(params, txid)``."""
    return sha256d(b"".join((head, index.to_bytes(4, "little"), value.to_bytes(8, "little"), lock)))


def sighash(params: NetworkParams, txid: bytes, index: int, value: int, lock: bytes) -> bytes:
    return sighash_from_head(sighash_head(params, txid), index, value, lock)


ACP_SIGHASH_TAG = b"OBOL/sighash/acp"
SIGHASH_ALL = 0x01
SIGHASH_ANYONECANPAY = 0x80
# The one flag byte a 65-byte signature may end with; a 64-byte signature means ALL.
SIGHASH_ALL_ACP = SIGHASH_ALL | SIGHASH_ANYONECANPAY


def sighash_acp(params: NetworkParams, tx: Tx, index: int, value: int, lock: bytes) -> bytes:
    """What an ALL|ANYONECANPAY signature of input ``index`` signs.

    ``sha256d(b"OBOL/sighash/acp" || magic || body || u64le(spent value) || spent lock)``,
    ``body`` being the txid of ``tx`` reduced to this one input (same version, outputs and
    locktime): anyone may add inputs without breaking the signature, nobody may change
    the outputs.
    """
    inp = tx.inputs[index]
    alone = TxIn(inp.prev_txid, inp.prev_index, inp.pubkey, b"")
    body = Tx(tx.version, (alone,), tx.outputs, tx.locktime).txid
    return sha256d(
        b"".join((ACP_SIGHASH_TAG, params.magic, body, value.to_bytes(8, "little"), lock))
    )


def flagged_sig(
    sig: bytes, params: NetworkParams, tx: Tx, index: int, value: int, lock: bytes
) -> tuple[bytes, bytes]:
    """(the 64-byte signature, the message it signs) of a 65-byte flagged signature.

    Only 0x81 (ALL|ANYONECANPAY) may follow the 64 bytes: ALL alone is the 64-byte form,
    so one meaning has one encoding.
    """
    if sig[64] != SIGHASH_ALL_ACP:
        raise RuleError(
            RejectCode.TX_BAD_SIG_FLAG, f"signature flag {sig[64]:#04x}, only 0x81 is valid"
        )
    return sig[:64], sighash_acp(params, tx, index, value, lock)
