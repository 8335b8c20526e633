"""Signature schemes of the key-type registry against published vectors.

Ed25519: RFC 8032 section 7.1 "Test Vectors for Ed25519" (TEST 1, TEST 2, TEST 3, TEST 1024,
TEST SHA(abc)); SECRET KEY is the 32-byte seed, MESSAGE is signed as is.

secp256k1: the deterministic (RFC 6979, HMAC-SHA256) ECDSA vectors in wide use in the Bitcoin
ecosystem, first posted at https://bitcointalk.org/index.php?topic=285142 and reproduced by
many libraries' tests (e.g. python-bitcoinlib's Test_RFC6979, trezor-crypto), and the
``valid.ecdsa`` entries of bitcoinjs/bitcoinjs-lib test/fixtures/ecdsa.json. In every one of
them the message string is hashed ONCE with SHA-256 and that 32-byte digest is what is signed
(digest = sha256(message.encode())); our scheme signs its 32-byte ``msg`` directly as the
digest, so the tests pass that digest as ``msg``. The published signatures are low-S
normalized (s <= n/2), which is what our scheme must produce.
"""

from __future__ import annotations

import hashlib

import pytest

from consensus.errors import RejectCode, RuleError
from consensus.signatures import ED25519, REGISTRY, SECP256K1

# -- Ed25519, RFC 8032 section 7.1 --------------------------------------------------------

TEST_1024_MESSAGE = (
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
    "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
    "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
    "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
    "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
    "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
    "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
    "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
    "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
    "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
    "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
    "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
    "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
    "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
    "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
    "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
    "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
    "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
    "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
    "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
    "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
    "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0"
)

# (name, secret key, public key, message, signature), all hex.
RFC8032_VECTORS = [
    (
        "TEST 1",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "TEST 2",
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "TEST 3",
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "TEST 1024",
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        TEST_1024_MESSAGE,
        "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
        "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
    ),
    (
        "TEST SHA(abc)",
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
]
RFC8032_IDS = [v[0] for v in RFC8032_VECTORS]


def _flip_bit(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _assert_rejected(scheme, pubkey: bytes, sig: bytes, msg: bytes, code: RejectCode) -> None:
    with pytest.raises(RuleError) as info:
        scheme.verify(pubkey, sig, msg)
    assert info.value.code == code


def test_registry() -> None:
    assert REGISTRY[1] is ED25519
    assert REGISTRY[2] is SECP256K1
    assert (ED25519.key_type, ED25519.pubkey_len, ED25519.sig_len) == (1, 32, 64)
    assert (SECP256K1.key_type, SECP256K1.pubkey_len, SECP256K1.sig_len) == (2, 33, 64)


def test_sha_abc_message_is_sha512_of_abc() -> None:
    # The message of TEST SHA(abc) is SHA-512("abc"), as the RFC says.
    assert hashlib.sha512(b"abc").hexdigest() == RFC8032_VECTORS[4][3]
    assert len(bytes.fromhex(TEST_1024_MESSAGE)) == 1023


@pytest.mark.parametrize(("name", "sk", "pk", "msg", "sig"), RFC8032_VECTORS, ids=RFC8032_IDS)
def test_ed25519_rfc8032(name: str, sk: str, pk: str, msg: str, sig: str) -> None:
    secret, message = bytes.fromhex(sk), bytes.fromhex(msg)
    pubkey = ED25519.pubkey_from_secret(secret)
    assert pubkey.hex() == pk
    signature = ED25519.sign(secret, message)
    assert signature.hex() == sig
    assert ED25519.verify(bytes.fromhex(pk), bytes.fromhex(sig), message) is None


@pytest.mark.parametrize(("name", "sk", "pk", "msg", "sig"), RFC8032_VECTORS, ids=RFC8032_IDS)
@pytest.mark.parametrize("bit", [0, 7, 100, 255, 256, 300, 511])
def test_ed25519_flipped_signature_bit(
    name: str, sk: str, pk: str, msg: str, sig: str, bit: int
) -> None:
    bad = _flip_bit(bytes.fromhex(sig), bit)
    _assert_rejected(
        ED25519, bytes.fromhex(pk), bad, bytes.fromhex(msg), RejectCode.TX_BAD_SIGNATURE
    )


@pytest.mark.parametrize(("name", "sk", "pk", "msg", "sig"), RFC8032_VECTORS, ids=RFC8032_IDS)
def test_ed25519_flipped_message_bit(name: str, sk: str, pk: str, msg: str, sig: str) -> None:
    message = bytes.fromhex(msg)
    bad_msgs = (
        [b"\x00"]
        if not message
        else [_flip_bit(message, 0), _flip_bit(message, 8 * len(message) - 1)]
    )
    for bad in bad_msgs:
        _assert_rejected(
            ED25519, bytes.fromhex(pk), bytes.fromhex(sig), bad, RejectCode.TX_BAD_SIGNATURE
        )


@pytest.mark.parametrize(("name", "sk", "pk", "msg", "sig"), RFC8032_VECTORS, ids=RFC8032_IDS)
@pytest.mark.parametrize("bit", [0, 9, 128, 254, 255])
def test_ed25519_flipped_pubkey_bit(
    name: str, sk: str, pk: str, msg: str, sig: str, bit: int
) -> None:
    bad = _flip_bit(bytes.fromhex(pk), bit)
    _assert_rejected(
        ED25519, bad, bytes.fromhex(sig), bytes.fromhex(msg), RejectCode.TX_BAD_SIGNATURE
    )


def test_ed25519_wrong_sizes_rejected() -> None:
    _, _, pk, msg, sig = RFC8032_VECTORS[1]
    pubkey, signature, message = bytes.fromhex(pk), bytes.fromhex(sig), bytes.fromhex(msg)
    for bad_pk, bad_sig in [
        (pubkey[:31], signature),
        (pubkey + b"\x00", signature),
        (pubkey, signature[:63]),
        (pubkey, signature + b"\x00"),
        (b"", b""),
    ]:
        _assert_rejected(ED25519, bad_pk, bad_sig, message, RejectCode.TX_BAD_SIGNATURE)


def test_ed25519_signature_of_other_key_rejected() -> None:
    _, _, pk1, _, _ = RFC8032_VECTORS[0]
    _, _, _, msg2, sig2 = RFC8032_VECTORS[1]
    _assert_rejected(
        ED25519,
        bytes.fromhex(pk1),
        bytes.fromhex(sig2),
        bytes.fromhex(msg2),
        RejectCode.TX_BAD_SIGNATURE,
    )


# -- secp256k1 ----------------------------------------------------------------------------

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# The generator G in compressed form (SEC 2); the public key of secret 1.
G_COMPRESSED = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

# (secret exponent, message string, r || s hex). msg signed = sha256(message.encode()).
RFC6979_VECTORS = [
    (
        0x1,
        "Satoshi Nakamoto",
        "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
        "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5",
    ),
    (
        0x1,
        "All those moments will be lost in time, like tears in rain. Time to die...",
        "8600dbd41e348fe5c9465ab92d23e3db8b98b873beecd930736488696438cb6b"
        "547fe64427496db33bf66019dacbf0039c04199abb0122918601db38a72cfc21",
    ),
    (
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140,
        "Satoshi Nakamoto",
        "fd567d121db66e382991534ada77a6bd3106f0a1098c231e47993447cd6af2d0"
        "6b39cd0eb1bc8603e159ef5c20a5c8ad685a45b06ce9bebed3f153d10d93bed5",
    ),
    (
        0xF8B8AF8CE3C7CCA5E300D33939540C10D45CE001B8F252BFBC57BA0342904181,
        "Alan Turing",
        "7063ae83e7f62bbb171798131b4a0564b956930092b33b07b395615d9ec7e15c"
        "58dfcc1e00a35e1572f366ffe34ba0fc47db1e7189759b9fb233c5b05ab388ea",
    ),
    (
        0xE91671C46231F833A6406CCBEA0E3E392C76C167BAC1CB013F6F1013980455C2,
        "There is a computer disease that anybody who works with computers knows about. It's a"
        " very serious disease and it interferes completely with the work. The trouble with"
        " computers is that you 'play' with them!",
        "b552edd27580141f3b2a5463048cb7cd3e047b97c9f98076c32dbdf85a68718b"
        "279fa72dd19bfae05577e06c7c0c1900c371fcd5893f7e1d56a37d30174671f6",
    ),
    # bitcoinjs-lib test/fixtures/ecdsa.json, valid.ecdsa (DER there; r and s here).
    (
        0x1,
        "Everything should be made as simple as possible, but not simpler.",
        "33a69cd2065432a30f3d1ce4eb0d59b8ab58c74f27c41a7fdb5696ad4e6108c9"
        "6f807982866f785d3f6418d24163ddae117b7db4d5fdf0071de069fa54342262",
    ),
    (
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140,
        "Equations are more important to me, because politics is for the present, but an"
        " equation is something for eternity.",
        "54c4a33c6423d689378f160a7ff8b61330444abb58fb470f96ea16d99d4a2fed"
        "07082304410efa6b2943111b6a4e0aaa7b7db55a07e9861d1fb3cb1f421044a5",
    ),
    (
        0x69EC59EAA1F4F2E36B639716B7C30CA86D9A5375C7B38D8918BD9C0EBC80BA64,
        "Computer science is no more about computers than astronomy is about telescopes.",
        "7186363571d65e084e7f02b0b77c3ec44fb1b257dee26274c38c928986fea45d"
        "0de0b38e06807e46bda1f1e293f4f6323e854c86d58abdd00c46c16441085df6",
    ),
]
RFC6979_IDS = [f"{i}-{m[:16]}" for i, (_, m, _) in enumerate(RFC6979_VECTORS)]


def _secret(d: int) -> bytes:
    return d.to_bytes(32, "big")


def _digest(message: str) -> bytes:
    return hashlib.sha256(message.encode()).digest()


def test_secp256k1_pubkey_of_one_and_minus_one() -> None:
    assert SECP256K1.pubkey_from_secret(_secret(1)).hex() == G_COMPRESSED
    # -G has the same x and the other y parity.
    assert SECP256K1.pubkey_from_secret(_secret(SECP256K1_N - 1)).hex() == "03" + G_COMPRESSED[2:]


@pytest.mark.parametrize(("d", "message", "sig"), RFC6979_VECTORS, ids=RFC6979_IDS)
def test_secp256k1_rfc6979_vectors(d: int, message: str, sig: str) -> None:
    secret, msg = _secret(d), _digest(message)
    pubkey = SECP256K1.pubkey_from_secret(secret)
    assert len(pubkey) == 33
    assert pubkey[0] in (2, 3)
    signature = SECP256K1.sign(secret, msg)
    assert signature.hex() == sig
    assert int.from_bytes(signature[32:], "big") <= SECP256K1_N // 2
    assert SECP256K1.verify(pubkey, signature, msg) is None


@pytest.mark.parametrize(("d", "message", "sig"), RFC6979_VECTORS, ids=RFC6979_IDS)
def test_secp256k1_high_s_rejected(d: int, message: str, sig: str) -> None:
    secret, msg = _secret(d), _digest(message)
    pubkey = SECP256K1.pubkey_from_secret(secret)
    signature = bytes.fromhex(sig)
    s = int.from_bytes(signature[32:], "big")
    high = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big")
    # (r, n - s) is the same signature mathematically: only the low-S rule rejects it.
    _assert_rejected(SECP256K1, pubkey, high, msg, RejectCode.TX_HIGH_S)


@pytest.mark.parametrize(("d", "message", "sig"), RFC6979_VECTORS, ids=RFC6979_IDS)
def test_secp256k1_tampering_rejected(d: int, message: str, sig: str) -> None:
    secret, msg = _secret(d), _digest(message)
    pubkey = SECP256K1.pubkey_from_secret(secret)
    signature = bytes.fromhex(sig)
    code = RejectCode.TX_BAD_SIGNATURE
    _assert_rejected(SECP256K1, pubkey, signature, _flip_bit(msg, 0), code)
    _assert_rejected(SECP256K1, pubkey, signature, _digest(message + "."), code)
    _assert_rejected(SECP256K1, pubkey, _flip_bit(signature, 0), msg, code)  # r's top byte
    _assert_rejected(SECP256K1, pubkey, _flip_bit(signature, 256), msg, code)  # s's top byte
    other = SECP256K1.pubkey_from_secret(_secret(2 if d == 1 else 1))
    _assert_rejected(SECP256K1, other, signature, msg, code)


def test_secp256k1_round_trip_and_determinism() -> None:
    for d in (2, 3, 0xDEADBEEF, SECP256K1_N - 2):
        secret = _secret(d)
        pubkey = SECP256K1.pubkey_from_secret(secret)
        for i in range(4):
            msg = hashlib.sha256(b"obol" + bytes([i])).digest()
            signature = SECP256K1.sign(secret, msg)
            assert len(signature) == 64
            assert signature == SECP256K1.sign(secret, msg)
            assert int.from_bytes(signature[32:], "big") <= SECP256K1_N // 2
            SECP256K1.verify(pubkey, signature, msg)


def test_secp256k1_malformed_rejected() -> None:
    d, message, sig = RFC6979_VECTORS[0]
    msg, signature = _digest(message), bytes.fromhex(sig)
    pubkey = SECP256K1.pubkey_from_secret(_secret(d))
    code = RejectCode.TX_BAD_SIGNATURE
    _assert_rejected(SECP256K1, pubkey[:32], signature, msg, code)
    _assert_rejected(SECP256K1, b"\x04" + pubkey[1:], signature, msg, code)
    _assert_rejected(SECP256K1, pubkey, signature[:63], msg, code)
    _assert_rejected(SECP256K1, pubkey, signature + b"\x00", msg, code)
    _assert_rejected(SECP256K1, pubkey, bytes(32) + signature[32:], msg, code)  # r = 0
    _assert_rejected(SECP256K1, pubkey, signature[:32] + bytes(32), msg, code)  # s = 0
