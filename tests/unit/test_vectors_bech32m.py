"""Bech32/Bech32m and segwit address vectors (BIP-173 / BIP-350), plus obol's addresses.

Sources:
- BIP-350 "Test vectors" section, bitcoin/bips bip-0350.mediawiki: valid Bech32m strings,
  invalid Bech32m strings with reasons, valid segwit addresses with their scriptPubKey, and
  invalid segwit addresses with reasons.
- sipa/bech32 ref/python/tests.py (the BIP-350 reference implementation's tests): the same
  lists plus VALID_BECH32 / INVALID_BECH32 (BIP-173 strings) and INVALID_ADDRESS_ENC, and the
  checks applied to them (one flipped data character must break the checksum; an invalid
  address must fail with hrp "bc" and with hrp "tb").

The decoder must follow the reference python semantics exactly: witness version 0 must use
Bech32 and 1..16 Bech32m, the program is 2..40 bytes, a v0 program is 20 or 32 bytes, the
8-to-5 padding is at most 4 zero bits, and mixed case is rejected.
"""

from __future__ import annotations

import pytest

from consensus.address import (
    AddressError,
    Encoding,
    bech32_decode,
    bech32_encode,
    decode_address,
    decode_segwit,
    encode_address,
    encode_segwit,
)
from consensus.params import DEVNET, REGTEST

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]

VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]

INVALID_BECH32 = [
    (" 1nwldj5", "HRP character out of range"),
    ("\x7f" + "1axkwrx", "HRP character out of range"),
    ("\x80" + "1eym55h", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "overall max length exceeded",
    ),
    ("pzry9x0s0muk", "No separator character"),
    ("1pzry9x0s0muk", "Empty HRP"),
    ("x1b4n0q5v", "Invalid data character"),
    ("li1dgmt3", "Too short checksum"),
    ("de1lg7wt" + "\xff", "Invalid character in checksum"),
    ("A1G7SGD8", "checksum calculated with uppercase form of HRP"),
    ("10a06t8", "empty HRP"),
    ("1qzzfhee", "empty HRP"),
]

INVALID_BECH32M = [
    (" 1xj0phk", "HRP character out of range"),
    ("\x7f" + "1g6xzxy", "HRP character out of range"),
    ("\x80" + "1vctc34", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        "overall max length exceeded",
    ),
    ("qyrz8wqd2c9m", "No separator character"),
    ("1qyrz8wqd2c9m", "Empty HRP"),
    ("y1b0jsk6g", "Invalid data character"),
    ("lt1igcx5c0", "Invalid data character"),
    ("in1muywd", "Too short checksum"),
    ("mm1crxm3i", "Invalid character in checksum"),
    ("au1s5cgom", "Invalid character in checksum"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty HRP"),
    ("1p2gdwpf", "empty HRP"),
]

VALID_ADDRESS = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]

INVALID_ADDRESS = [
    (
        "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
        "Invalid human-readable part",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    (
        "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    (
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "Invalid checksum (Bech32m instead of Bech32)"),
    (
        "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
        "Invalid checksum (Bech32m instead of Bech32)",
    ),
    (
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
        "Invalid character in checksum",
    ),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "Invalid witness version"),
    ("bc1pw5dgrnzv", "Invalid program length (1 byte)"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "Invalid program length (41 bytes)",
    ),
    (
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
        "Invalid program length for witness version 0 (per BIP141)",
    ),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "Mixed case"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
        "zero padding of more than 4 bits",
    ),
    (
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
        "Non-zero padding in 8-to-5 conversion",
    ),
    ("bc1gmk9yu", "Empty data section"),
]

# sipa/bech32 ref/python/tests.py INVALID_ADDRESS_ENC: (hrp, witness version, program length)
# combinations the reference encoder refuses. Only the program rules are asserted here; the
# reference also refuses the uppercase hrp "BC".
INVALID_ADDRESS_ENC = [
    ("bc", 0, 21),
    ("bc", 17, 32),
    ("bc", 1, 1),
    ("bc", 16, 41),
]


def _ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{i}-{reason}" for i, (_, reason) in enumerate(pairs)]


def _flip_first_data_char(text: str) -> str:
    # As the reference test does: flip the low bit of the character after the separator.
    pos = text.rfind("1")
    return text[: pos + 1] + chr(ord(text[pos + 1]) ^ 1) + text[pos + 2 :]


def _to_5bit(data: bytes) -> list[int]:
    """8-to-5 regrouping with zero padding (the reference convertbits(data, 8, 5))."""
    acc = bits = 0
    out: list[int] = []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def _script_pubkey(witver: int, program: bytes) -> bytes:
    return bytes([witver + 0x50 if witver else 0, len(program)]) + program


# -- checksums ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", VALID_BECH32M)
def test_valid_bech32m(text: str) -> None:
    hrp, data, spec = bech32_decode(text)
    assert spec is Encoding.BECH32M
    assert hrp == text.lower()[: text.rfind("1")]
    assert bech32_encode(hrp, data, Encoding.BECH32M) == text.lower()


@pytest.mark.parametrize("text", VALID_BECH32)
def test_valid_bech32(text: str) -> None:
    hrp, data, spec = bech32_decode(text)
    assert spec is Encoding.BECH32
    assert hrp == text.lower()[: text.rfind("1")]
    assert bech32_encode(hrp, data, Encoding.BECH32) == text.lower()


@pytest.mark.parametrize("text", VALID_BECH32M + VALID_BECH32)
def test_flipped_data_character_is_rejected(text: str) -> None:
    with pytest.raises(AddressError):
        bech32_decode(_flip_first_data_char(text))


@pytest.mark.parametrize("text", VALID_BECH32M)
def test_bech32m_string_is_not_bech32(text: str) -> None:
    # "No string can be simultaneously valid Bech32 and Bech32m" (BIP-350).
    hrp, data, _ = bech32_decode(text)
    assert bech32_encode(hrp, data, Encoding.BECH32) != text.lower()


@pytest.mark.parametrize(("text", "reason"), INVALID_BECH32M, ids=_ids(INVALID_BECH32M))
def test_invalid_bech32m(text: str, reason: str) -> None:
    # None of these is valid under either checksum, so the decoder must refuse outright.
    with pytest.raises(AddressError):
        bech32_decode(text)


@pytest.mark.parametrize(("text", "reason"), INVALID_BECH32, ids=_ids(INVALID_BECH32))
def test_invalid_bech32(text: str, reason: str) -> None:
    with pytest.raises(AddressError):
        bech32_decode(text)


def test_address_error_is_a_value_error() -> None:
    assert issubclass(AddressError, ValueError)


# -- segwit addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "script_hex"), VALID_ADDRESS, ids=[a for a, _ in VALID_ADDRESS]
)
def test_valid_segwit_address(address: str, script_hex: str) -> None:
    lowered = address.lower()
    hrp = lowered[: lowered.rfind("1")]
    witver, program = decode_segwit(hrp, address)
    assert isinstance(program, bytes)
    assert _script_pubkey(witver, program).hex() == script_hex
    assert encode_segwit(hrp, witver, program) == lowered


@pytest.mark.parametrize(
    ("address", "script_hex"), VALID_ADDRESS, ids=[a for a, _ in VALID_ADDRESS]
)
def test_valid_segwit_address_wrong_hrp(address: str, script_hex: str) -> None:
    lowered = address.lower()
    other = "tb" if lowered.startswith("bc1") else "bc"
    with pytest.raises(AddressError):
        decode_segwit(other, address)


@pytest.mark.parametrize(("address", "reason"), INVALID_ADDRESS, ids=_ids(INVALID_ADDRESS))
def test_invalid_segwit_address(address: str, reason: str) -> None:
    with pytest.raises(AddressError):
        decode_segwit("bc", address)
    with pytest.raises(AddressError):
        decode_segwit("tb", address)


@pytest.mark.parametrize(("hrp", "witver", "length"), INVALID_ADDRESS_ENC)
def test_invalid_segwit_encode(hrp: str, witver: int, length: int) -> None:
    with pytest.raises(ValueError):
        encode_segwit(hrp, witver, bytes(length))


# -- obol addresses -----------------------------------------------------------------------

LOCKS = [
    bytes([1]) + bytes(range(20)),
    bytes([2]) + bytes(range(100, 120)),
    bytes([1]) + b"\xff" * 20,
    bytes([2]) + b"\x00" * 20,
]


@pytest.mark.parametrize("params", [REGTEST, DEVNET], ids=["regtest", "devnet"])
@pytest.mark.parametrize("lock", LOCKS, ids=[lk.hex()[:8] for lk in LOCKS])
def test_obol_address_round_trip(params, lock: bytes) -> None:
    address = encode_address(lock, params)
    assert address == address.lower()
    assert address.startswith(params.hrp + "1")
    assert decode_address(address, params) == lock
    # The address is exactly the bech32m segwit encoding: version = key type, program = hash.
    assert address == encode_segwit(params.hrp, lock[0], lock[1:])
    assert decode_segwit(params.hrp, address) == (lock[0], lock[1:])
    assert bech32_decode(address)[2] is Encoding.BECH32M


def test_network_hrps() -> None:
    assert REGTEST.hrp == "obrt"
    assert DEVNET.hrp == "obdv"


@pytest.mark.parametrize("lock", LOCKS, ids=[lk.hex()[:8] for lk in LOCKS])
def test_obol_address_other_network_rejected(lock: bytes) -> None:
    with pytest.raises(AddressError):
        decode_address(encode_address(lock, REGTEST), DEVNET)
    with pytest.raises(AddressError):
        decode_address(encode_address(lock, DEVNET), REGTEST)


@pytest.mark.parametrize("lock", LOCKS, ids=[lk.hex()[:8] for lk in LOCKS])
def test_obol_address_bech32_not_m_rejected(lock: bytes) -> None:
    text = bech32_encode(REGTEST.hrp, [lock[0], *_to_5bit(lock[1:])], Encoding.BECH32)
    assert bech32_decode(text)[2] is Encoding.BECH32  # well-formed, just the wrong checksum
    with pytest.raises(AddressError):
        decode_address(text, REGTEST)


@pytest.mark.parametrize("key_type", [0, 3, 5, 16])
def test_obol_address_unknown_key_type_rejected(key_type: int) -> None:
    # A perfectly valid bech32m segwit address whose version is no obol key type.
    text = encode_segwit(REGTEST.hrp, key_type, bytes(range(20)))
    with pytest.raises(AddressError):
        decode_address(text, REGTEST)


@pytest.mark.parametrize("length", [2, 19, 21, 32, 40])
def test_obol_address_wrong_program_length_rejected(length: int) -> None:
    text = encode_segwit(REGTEST.hrp, 1, bytes(range(length)))
    with pytest.raises(AddressError):
        decode_address(text, REGTEST)


@pytest.mark.parametrize(
    "lock",
    [b"", bytes([1]) + bytes(19), bytes([1]) + bytes(21), bytes([5]) + bytes(20)],
    ids=["empty", "short", "long", "keytype5"],
)
def test_obol_encode_rejects_malformed_lock(lock: bytes) -> None:
    with pytest.raises(ValueError):
        encode_address(lock, REGTEST)


def test_obol_address_mixed_case_rejected() -> None:
    address = encode_address(LOCKS[0], REGTEST)
    pos = next(i for i in range(len(address) - 1, 4, -1) if address[i].isalpha())
    mixed = address[:pos] + address[pos].upper() + address[pos + 1 :]
    assert mixed != address
    with pytest.raises(AddressError):
        decode_address(mixed, REGTEST)


@pytest.mark.parametrize("offset", [0, 1, 7, 20, -7, -1])
def test_obol_address_one_character_typo_rejected(offset: int) -> None:
    address = encode_address(LOCKS[1], DEVNET)
    data_start = len(DEVNET.hrp) + 1
    pos = data_start + offset if offset >= 0 else len(address) + offset
    old = address[pos]
    new = CHARSET[(CHARSET.index(old) + 1) % 32]
    typo = address[:pos] + new + address[pos + 1 :]
    with pytest.raises(AddressError):
        decode_address(typo, DEVNET)


@pytest.mark.parametrize("text", ["", "obrt1", "not an address", "obrt1qqqqqqqq"])
def test_obol_address_garbage_rejected(text: str) -> None:
    with pytest.raises(AddressError):
        decode_address(text, REGTEST)
