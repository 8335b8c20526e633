"""The strict, bounded, canonical codec: round trips and every kind of bad input."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import msgpack
import pytest

from consensus.builder import make_block, make_coinbase
from consensus.coins import Coin
from consensus.encoding import (
    MAX_BLOCK_BYTES,
    MAX_TX_BYTES,
    decode_block,
    decode_coin,
    decode_header,
    decode_tx,
    decode_undo,
    encode_block,
    encode_coin,
    encode_tx,
    encode_undo,
)
from consensus.errors import DecodeError, RejectCode
from consensus.hashing import ZERO_HASH, hash_to_hex, hex_to_hash, sha256d
from consensus.params import COIN, MAX_MONEY
from consensus.primitives import Block, BlockHeader, Tx, TxIn, TxOut
from consensus.signatures import SECP256K1
from tests.chain_helpers import Utxo, key, spend

ED = key(1)
SECP = key(2, SECP256K1.key_type)


def pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def sample_tx() -> Tx:
    coins = [
        Utxo(sha256d(b"a"), 0, 5 * COIN, ED),
        Utxo(sha256d(b"b"), 7, 3 * COIN, SECP),
    ]
    return spend(coins, [(6 * COIN, SECP.lock), (COIN, ED.lock)], locktime=12)


def sample_block() -> Block:
    cb = make_coinbase(3, [TxOut(50 * COIN, ED.lock)], extra=b"tag")
    return make_block(sha256d(b"parent"), [cb, sample_tx()], 1_800_000_000, 0x207FFFFF)


def decode_fails(decode, data, code: RejectCode = RejectCode.DECODE_MALFORMED) -> DecodeError:
    with pytest.raises(DecodeError) as exc:
        decode(data)
    assert exc.value.code is code, exc.value
    assert exc.value.message
    return exc.value


# --- round trips --------------------------------------------------------------------


def test_tx_round_trip() -> None:
    tx = sample_tx()
    raw = encode_tx(tx)
    assert raw == pack(tx.to_obj())
    back = decode_tx(raw)
    assert back == tx
    assert encode_tx(back) == raw
    assert back.txid == tx.txid and back.wtxid == tx.wtxid
    # a fresh object (no cached bytes) encodes the same
    assert replace(back).serialize() == raw


def test_block_round_trip() -> None:
    block = sample_block()
    raw = encode_block(block)
    assert raw == pack([block.header.serialize(), [tx.to_obj() for tx in block.txs]])
    back = decode_block(raw)
    assert back == block
    assert back.hash == block.hash
    assert encode_block(back) == raw
    assert Block(back.header, tuple(replace(t) for t in back.txs)).serialize() == raw
    assert decode_block(decode_block(raw).serialize()) == block


def test_header_round_trip() -> None:
    header = sample_block().header
    raw = header.serialize()
    assert len(raw) == 80
    assert decode_header(raw) == header


def test_extreme_values_round_trip() -> None:
    tx = Tx(
        2**32 - 1,
        (TxIn(b"\xff" * 32, 2**32 - 1, bytes(3600), bytes(3600)), TxIn(ZERO_HASH, 0, b"", b"")),
        (TxOut(2**64 - 1, bytes(21)), TxOut(0, b"\xff" * 21), TxOut(1, b"\x03" * 33)),
        2**32 - 1,
    )
    assert decode_tx(encode_tx(tx)) == tx
    empty = Tx(0, (), (), 0)
    assert decode_tx(encode_tx(empty)) == empty
    header = BlockHeader(2**32 - 1, b"\xff" * 32, ZERO_HASH, 2**32 - 1, 2**32 - 1, 2**32 - 1)
    block = Block(header, tuple([tx] * 20))  # array16 for the tx list
    assert decode_block(encode_block(block)) == block
    assert decode_block(encode_block(Block(header, ()))) == Block(header, ())


# --- canonical form -----------------------------------------------------------------


def test_int_in_a_wider_type_is_rejected() -> None:
    raw = encode_tx(sample_tx())
    assert raw[:2] == b"\x94\x01"
    wide = b"\x94\xce\x00\x00\x00\x01" + raw[2:]  # version 1 as uint32
    assert msgpack.unpackb(wide) == msgpack.unpackb(raw)
    decode_fails(decode_tx, wide, RejectCode.DECODE_NONCANONICAL)
    for prefix in (b"\xcc\x01", b"\xcd\x00\x01", b"\xcf" + (1).to_bytes(8, "big")):
        decode_fails(decode_tx, b"\x94" + prefix + raw[2:], RejectCode.DECODE_NONCANONICAL)


def test_other_non_minimal_encodings_are_rejected() -> None:
    tx = sample_tx()
    raw = encode_tx(tx)
    # txid as bin16 instead of bin8
    txid = tx.inputs[0].prev_txid
    bin8 = b"\xc4\x20" + txid
    assert raw.count(bin8) == 1
    decode_fails(
        decode_tx, raw.replace(bin8, b"\xc5\x00\x20" + txid), RejectCode.DECODE_NONCANONICAL
    )
    # the inputs as array16 instead of fixarray
    assert raw[2] == 0x92
    decode_fails(decode_tx, raw[:2] + b"\xdc\x00\x02" + raw[3:], RejectCode.DECODE_NONCANONICAL)
    block_raw = encode_block(sample_block())
    assert block_raw[:3] == b"\x92\xc4\x50"
    decode_fails(
        decode_block,
        b"\x92\xc5\x00\x50" + block_raw[3:],
        RejectCode.DECODE_NONCANONICAL,
    )
    assert block_raw[83] == 0x92
    decode_fails(
        decode_block,
        block_raw[:83] + b"\xdd\x00\x00\x00\x02" + block_raw[84:],
        RejectCode.DECODE_NONCANONICAL,
    )
    # a tx inside a block with a wide int
    inner = encode_tx(tx)
    assert block_raw.endswith(inner)
    wide_inner = b"\x94\xce\x00\x00\x00\x01" + inner[2:]
    decode_fails(
        decode_block,
        block_raw[: -len(inner)] + wide_inner,
        RejectCode.DECODE_NONCANONICAL,
    )


def test_map_instead_of_array() -> None:
    obj = sample_tx().to_obj()
    err = decode_fails(decode_tx, pack(dict(enumerate(obj))))
    assert "map" in str(err)
    obj[1][0] = dict(enumerate(obj[1][0]))
    decode_fails(decode_tx, pack(obj))
    block = sample_block()
    decode_fails(decode_block, pack({"header": block.header.serialize(), "txs": []}))


def test_trailing_bytes() -> None:
    raw = encode_tx(sample_tx())
    for extra in (b"\x00", b"\xc0", raw):
        err = decode_fails(decode_tx, raw + extra)
        assert "trailing" in str(err)
    decode_fails(decode_block, encode_block(sample_block()) + b"\x00")


def test_wrong_arity() -> None:
    obj = sample_tx().to_obj()
    decode_fails(decode_tx, pack(obj[:3]))
    decode_fails(decode_tx, pack([*obj, 0]))
    for bad_in in (obj[1][0][:3], [*obj[1][0], b""]):
        decode_fails(decode_tx, pack([obj[0], [bad_in], obj[2], obj[3]]))
    for bad_out in (obj[2][0][:1], [*obj[2][0], 0]):
        decode_fails(decode_tx, pack([obj[0], obj[1], [bad_out], obj[3]]))
    header = sample_block().header.serialize()
    decode_fails(decode_block, pack([header]))
    decode_fails(decode_block, pack([header, [], 0]))
    decode_fails(decode_tx, pack([]))
    decode_fails(decode_block, pack([]))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ((0,), "1"),  # str instead of int
        ((0,), True),  # bool instead of int
        ((0,), 1.0),  # float
        ((3,), -1),  # negative
        ((0,), None),  # nil
        ((0,), 2**32),  # out of range
        ((1, 0, 0), "ab" * 16),  # str instead of bin
        ((1, 0, 2), "pubkey"),
        ((1, 0, 3), None),
        ((1, 0, 1), -1),
        ((1, 0, 1), False),
        ((1, 0, 0), b"\x00" * 31),  # txid of the wrong size
        ((1, 0, 2), b"\x00" * 3601),  # pubkey above the limit (a policy's 3,600 bytes)
        ((1, 0, 3), b"\x00" * 3601),  # sig above the limit (a satisfaction's)
        ((2, 0, 1), b"\x03" * 21),  # a policy lock is 33 bytes
        ((2, 0, 1), b"\x01" * 33),  # only a policy lock is 33 bytes
        ((2, 0, 0), -1),
        ((2, 0, 0), 0.5),
        ((2, 0, 1), "lock"),
        ((2, 0, 1), b"\x00" * 20),
        ((1,), None),
        ((2,), b""),
        ((1, 0), b""),
    ],
)
def test_wrong_types(path: tuple[int, ...], value: object) -> None:
    obj = sample_tx().to_obj()
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    decode_fails(decode_tx, pack(obj))


def test_wrong_types_in_block() -> None:
    block = sample_block()
    header = block.header.serialize()
    txs = [tx.to_obj() for tx in block.txs]
    for obj in (
        [header.hex(), txs],  # str header
        [list(header), txs],
        [header, None],
        [header, {}],
        [header, [None]],
        [header, [1]],
        [None, txs],
    ):
        decode_fails(decode_block, pack(obj))


def test_length_prefix_larger_than_the_data() -> None:
    decode_fails(decode_tx, b"\xc6\x80\x00\x00\x00abc")  # bin32 of 2**31 bytes, 3 present
    decode_fails(decode_tx, b"\xdd\xff\xff\xff\xff\x00\x00")  # array32 of 2**32-1
    decode_fails(decode_block, b"\xdd\xff\xff\xff\xff\x00\x00")
    decode_fails(decode_block, b"\x92\xc6\x80\x00\x00\x00abc")
    decode_fails(decode_block, b"\x92\xc4\x50" + bytes(80) + b"\xdd\xff\xff\xff\xff")
    # a tx whose input list claims more entries than there are bytes
    raw = encode_tx(sample_tx())
    decode_fails(decode_tx, raw[:2] + b"\xdc\xff\xff" + raw[3:])


def test_truncated_data() -> None:
    raw = encode_tx(sample_tx())
    for n in range(len(raw)):
        decode_fails(decode_tx, raw[:n])
    block_raw = encode_block(sample_block())
    for n in range(len(block_raw)):
        decode_fails(decode_block, block_raw[:n])


def test_header_not_80_bytes() -> None:
    header = sample_block().header.serialize()
    for bad in (header[:79], header + b"\x00", b"", bytes(160)):
        decode_fails(decode_header, bad)
        decode_fails(decode_block, pack([bad, []]))
    with pytest.raises(ValueError):
        BlockHeader.deserialize(header[:79])


def test_not_bytes() -> None:
    raw = encode_tx(sample_tx())
    decode_fails(decode_tx, raw.hex())
    decode_fails(decode_block, None)
    decode_fails(decode_header, sample_block().header.serialize().hex())


def test_not_even_msgpack() -> None:
    for data in (b"", b"\xc1", b"\x94\xc1\x90\x90\x00", b"\xd9\x02\xff\xfe", b"\xc7\x01\x05x"):
        decode_fails(decode_tx, data)
        decode_fails(decode_block, data)
    deep = b"\x91" * 100_000 + b"\x00"
    decode_fails(decode_tx, deep)
    decode_fails(decode_block, deep)


# --- bounds -------------------------------------------------------------------------


def test_oversized_input_is_refused_before_decoding() -> None:
    for decode, limit in ((decode_tx, MAX_TX_BYTES), (decode_block, MAX_BLOCK_BYTES)):
        # not even valid MessagePack: the size is what is reported
        decode_fails(decode, b"\xc1" * (limit + 1), RejectCode.DECODE_OVERSIZE)
    raw = encode_tx(sample_tx())
    assert decode_tx(raw, max_size=len(raw)) == sample_tx()
    decode_fails(lambda d: decode_tx(d, max_size=len(raw) - 1), raw, RejectCode.DECODE_OVERSIZE)
    block_raw = encode_block(sample_block())
    assert decode_block(block_raw, max_size=len(block_raw)) == sample_block()
    decode_fails(
        lambda d: decode_block(d, max_size=len(block_raw) - 1),
        block_raw,
        RejectCode.DECODE_OVERSIZE,
    )


HOSTILE = [
    b"\xdd\xff\xff\xff\xff" + bytes(5),  # array32 of 2**32-1 (4 G entries)
    b"\xc6\xff\xff\xff\xff" + bytes(5),  # bin32 of 4 GB
    b"\xdb\xff\xff\xff\xff" + bytes(5),  # str32 of 4 GB
    b"\xdf\xff\xff\xff\xff" + bytes(5),  # map32 of 4 G pairs
    b"\xc9\xff\xff\xff\xff\x01" + bytes(4),  # ext32 of 4 GB
    b"\x94\x01\xdd\xff\xff\xff\xff" + bytes(3),  # a tx claiming 4 G inputs
    b"\x92\xc6\xff\xff\xff\xff" + bytes(4),  # a block claiming a 4 GB header
]


@pytest.mark.parametrize("payload", HOSTILE)
@pytest.mark.parametrize("decode", [decode_tx, decode_block])
def test_hostile_length_claims_allocate_little(decode, payload: bytes) -> None:
    assert len(payload) == 10
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError):
            decode(payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


# --- coins, undo, hashes --------------------------------------------------------------


def test_coin_round_trip() -> None:
    for coin in (
        Coin(0, ED.lock, 0, False),
        Coin(50 * COIN, SECP.lock, 123_456, True),
        Coin(MAX_MONEY, bytes(21), 2**32 - 1, False),
    ):
        raw = encode_coin(coin)
        assert decode_coin(raw) == coin
        assert encode_coin(decode_coin(raw)) == raw


def test_undo_round_trip() -> None:
    coins = (
        Coin(1, ED.lock, 5, True),
        Coin(2 * COIN, SECP.lock, 6, False),
        Coin(3, ED.lock, 7, False),
    )
    for undo in ((), coins[:1], coins, coins * 10):
        raw = encode_undo(undo)
        assert decode_undo(raw) == undo
        assert encode_undo(decode_undo(raw)) == raw


WRONG_COIN_FIELDS = [
    ["1", b"\x01" * 21, 5, True],  # str value
    [1, "lock", 5, True],  # str lock
    [1, b"\x01" * 21, None, True],  # nil height
    [1, b"\x01" * 21, 5, 1],  # int instead of bool
    [1.5, b"\x01" * 21, 5, False],  # float value
]


@pytest.mark.parametrize("fields", WRONG_COIN_FIELDS)
def test_coin_rejects_wrong_field_types(fields: list) -> None:
    decode_fails(decode_coin, pack(fields))


@pytest.mark.parametrize("fields", WRONG_COIN_FIELDS)
def test_undo_rejects_wrong_field_types(fields: list) -> None:
    # Undo coins go back into the coin set on a reorg: they get the same checks as a coin.
    good = [1, ED.lock, 5, True]
    decode_fails(decode_undo, pack([good, fields]))


def test_coin_and_undo_reject_wrong_shapes() -> None:
    decode_fails(decode_coin, pack([1, b"\x01" * 21, 5]))
    decode_fails(decode_coin, pack({"value": 1}))
    decode_fails(decode_coin, encode_coin(Coin(1, ED.lock, 5, True)) + b"\x00")
    decode_fails(decode_undo, pack([[1, b"\x01" * 21, 5]]))
    decode_fails(decode_undo, pack({}))
    decode_fails(decode_undo, encode_undo(()) + b"\x00")


def test_txid_excludes_signatures() -> None:
    tx = sample_tx()
    other_sig = replace(tx.inputs[0], sig=bytes(64))
    twin = replace(tx, inputs=(other_sig, *tx.inputs[1:]))
    assert twin.txid == tx.txid
    assert twin.wtxid != tx.wtxid
    unsigned = Tx(tx.version, tuple(replace(i, sig=b"") for i in tx.inputs), tx.outputs, 12)
    assert tx.txid == sha256d(encode_tx(unsigned)) == unsigned.txid == unsigned.wtxid
    assert tx.wtxid == sha256d(encode_tx(tx))
    # but the public keys, outputs and locktime are covered
    assert replace(tx, locktime=13).txid != tx.txid
    assert replace(tx, outputs=tx.outputs[:1]).txid != tx.txid
    other_key = replace(tx.inputs[0], pubkey=key(9).pubkey)
    assert replace(tx, inputs=(other_key, *tx.inputs[1:])).txid != tx.txid


def test_coinbase_txid_commits_to_the_height() -> None:
    outs = [TxOut(50 * COIN, ED.lock)]
    assert make_coinbase(1, outs).txid != make_coinbase(2, outs).txid
    assert make_coinbase(1, outs).txid == make_coinbase(1, outs, extra=b"x").txid


def test_hash_to_hex_is_reversed_hex() -> None:
    h = bytes(range(32))
    assert hash_to_hex(h) == "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
    assert hex_to_hash(hash_to_hex(h)) == h
    tx = sample_tx()
    assert tx.txid_hex == tx.txid[::-1].hex()
    block = sample_block()
    assert block.hash_hex == sha256d(block.header.serialize())[::-1].hex()
    # proof of work reads the hash as a little-endian number: the displayed hex is that
    # number in big-endian, so a block meeting a low target shows leading zeros
    assert int(block.hash_hex, 16) == int.from_bytes(block.hash, "little")
    for bad in ("00" * 31, "zz" * 32, 5):
        with pytest.raises(ValueError):
            hex_to_hash(bad)


def test_header_layout() -> None:
    header = BlockHeader(1, sha256d(b"p"), sha256d(b"m"), 0x01020304, 0x207FFFFF, 0xAABBCCDD)
    raw = header.serialize()
    assert raw[:4] == b"\x01\x00\x00\x00"
    assert raw[4:36] == sha256d(b"p")
    assert raw[36:68] == sha256d(b"m")
    assert raw[68:72] == b"\x04\x03\x02\x01"
    assert raw[72:76] == b"\xff\xff\x7f\x20"
    assert raw[76:80] == b"\xdd\xcc\xbb\xaa"


def test_hex_to_hash_accepts_exactly_64_hex_digits() -> None:
    assert hex_to_hash("ab" + "00" * 31) == bytes(31) + b"\xab"
    for bad in ("00 " * 16 + "0" * 16, "g" * 64, "0" * 63, "0" * 65):
        with pytest.raises(ValueError):
            hex_to_hash(bad)
