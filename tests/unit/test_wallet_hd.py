"""Published test vectors for wallet.hd (SLIP-0010, BIP32) and wallet.mnemonic (BIP39).

Sources:
- SLIP-0010 "Test vectors" (satoshilabs/slips, slip-0010.md): vectors 1 and 2 for secp256k1
  and for ed25519, raw hex chain code / private key / public key at each path.
- BIP32 "Test vector 3" (bitcoin/bips, bip-0032.mediawiki): leading-zero retention, given as
  xprv/xpub strings, decoded here with a small base58check decoder.
- BIP39: trezor/python-mnemonic vectors.json (English, passphrase "TREZOR").
"""

from __future__ import annotations

import hashlib

import pytest

from node.rpc.errors import RPC_INVALID_PARAMETER, wallet_error_code
from wallet import hd
from wallet.errors import InvalidMnemonic, WalletError
from wallet.hd import (
    CURVE_ED25519,
    CURVE_SECP256K1,
    HARDENED,
    ExtendedKey,
    account_path,
    derive_child,
    derive_path,
    master_key,
    parse_path,
)
from wallet.mnemonic import (
    entropy_to_mnemonic,
    generate_mnemonic,
    mnemonic_to_seed,
    validate_mnemonic,
)

SEED_1 = "000102030405060708090a0b0c0d0e0f"
SEED_2 = (
    "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a2"
    "9f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542"
)

# (seed, path, chain code, private key, public key) exactly as SLIP-0010 lists them.
SLIP10_SECP256K1 = [
    (
        SEED_1,
        "m",
        "873dff81c02f525623fd1fe5167eac3a55a049de3d314bb42ee227ffed37d508",
        "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35",
        "0339a36013301597daef41fbe593a02cc513d0b55527ec2df1050e2e8ff49c85c2",
    ),
    (
        SEED_1,
        "m/0'",
        "47fdacbd0f1097043b78c63c20c34ef4ed9a111d980047ad16282c7ae6236141",
        "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea",
        "035a784662a4a20a65bf6aab9ae98a6c068a81c52e4b032c0fb5400c706cfccc56",
    ),
    (
        SEED_1,
        "m/0'/1",
        "2a7857631386ba23dacac34180dd1983734e444fdbf774041578e9b6adb37c19",
        "3c6cb8d0f6a264c91ea8b5030fadaa8e538b020f0a387421a12de9319dc93368",
        "03501e454bf00751f24b1b489aa925215d66af2234e3891c3b21a52bedb3cd711c",
    ),
    (
        SEED_1,
        "m/0'/1/2'",
        "04466b9cc8e161e966409ca52986c584f07e9dc81f735db683c3ff6ec7b1503f",
        "cbce0d719ecf7431d88e6a89fa1483e02e35092af60c042b1df2ff59fa424dca",
        "0357bfe1e341d01c69fe5654309956cbea516822fba8a601743a012a7896ee8dc2",
    ),
    (
        SEED_1,
        "m/0'/1/2'/2",
        "cfb71883f01676f587d023cc53a35bc7f88f724b1f8c2892ac1275ac822a3edd",
        "0f479245fb19a38a1954c5c7c0ebab2f9bdfd96a17563ef28a6a4b1a2a764ef4",
        "02e8445082a72f29b75ca48748a914df60622a609cacfce8ed0e35804560741d29",
    ),
    (
        SEED_1,
        "m/0'/1/2'/2/1000000000",
        "c783e67b921d2beb8f6b389cc646d7263b4145701dadd2161548a8b078e65e9e",
        "471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8",
        "022a471424da5e657499d1ff51cb43c47481a03b1e77f951fe64cec9f5a48f7011",
    ),
    (
        SEED_2,
        "m",
        "60499f801b896d83179a4374aeb7822aaeaceaa0db1f85ee3e904c4defbd9689",
        "4b03d6fc340455b363f51020ad3ecca4f0850280cf436c70c727923f6db46c3e",
        "03cbcaa9c98c877a26977d00825c956a238e8dddfbd322cce4f74b0b5bd6ace4a7",
    ),
    (
        SEED_2,
        "m/0",
        "f0909affaa7ee7abe5dd4e100598d4dc53cd709d5a5c2cac40e7412f232f7c9c",
        "abe74a98f6c7eabee0428f53798f0ab8aa1bd37873999041703c742f15ac7e1e",
        "02fc9e5af0ac8d9b3cecfe2a888e2117ba3d089d8585886c9c826b6b22a98d12ea",
    ),
    (
        SEED_2,
        "m/0/2147483647'",
        "be17a268474a6bb9c61e1d720cf6215e2a88c5406c4aee7b38547f585c9a37d9",
        "877c779ad9687164e9c2f4f0f4ff0340814392330693ce95a58fe18fd52e6e93",
        "03c01e7425647bdefa82b12d9bad5e3e6865bee0502694b94ca58b666abc0a5c3b",
    ),
    (
        SEED_2,
        "m/0/2147483647'/1",
        "f366f48f1ea9f2d1d3fe958c95ca84ea18e4c4ddb9366c336c927eb246fb38cb",
        "704addf544a06e5ee4bea37098463c23613da32020d604506da8c0518e1da4b7",
        "03a7d1d856deb74c508e05031f9895dab54626251b3806e16b4bd12e781a7df5b9",
    ),
    (
        SEED_2,
        "m/0/2147483647'/1/2147483646'",
        "637807030d55d01f9a0cb3a7839515d796bd07706386a6eddf06cc29a65a0e29",
        "f1c7c871a54a804afe328b4c83a1c33b8e5ff48f5087273f04efa83b247d6a2d",
        "02d2b36900396c9282fa14628566582f206a5dd0bcc8d5e892611806cafb0301f0",
    ),
    (
        SEED_2,
        "m/0/2147483647'/1/2147483646'/2",
        "9452b549be8cea3ecb7a84bec10dcfd94afe4d129ebfd3b3cb58eedf394ed271",
        "bb7d39bdb83ecf58f2fd82b6d918341cbef428661ef01ab97c28a4842125ac23",
        "024d902e1a2fc7a8755ab5b694c575fce742c48d9ff192e63df5193e4c7afe1f9c",
    ),
]

SLIP10_ED25519 = [
    (
        SEED_1,
        "m",
        "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb",
        "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7",
        "00a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed",
    ),
    (
        SEED_1,
        "m/0'",
        "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69",
        "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3",
        "008c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c",
    ),
    (
        SEED_1,
        "m/0'/1'",
        "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14",
        "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2",
        "001932a5270f335bed617d5b935c80aedb1a35bd9fc1e31acafd5372c30f5c1187",
    ),
    (
        SEED_1,
        "m/0'/1'/2'",
        "2e69929e00b5ab250f49c3fb1c12f252de4fed2c1db88387094a0f8c4c9ccd6c",
        "92a5b23c0b8a99e37d07df3fb9966917f5d06e02ddbd909c7e184371463e9fc9",
        "00ae98736566d30ed0e9d2f4486a64bc95740d89c7db33f52121f8ea8f76ff0fc1",
    ),
    (
        SEED_1,
        "m/0'/1'/2'/2'",
        "8f6d87f93d750e0efccda017d662a1b31a266e4a6f5993b15f5c1f07f74dd5cc",
        "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662",
        "008abae2d66361c879b900d204ad2cc4984fa2aa344dd7ddc46007329ac76c429c",
    ),
    (
        SEED_1,
        "m/0'/1'/2'/2'/1000000000'",
        "68789923a0cac2cd5a29172a475fe9e0fb14cd6adb5ad98a3fa70333e7afa230",
        "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793",
        "003c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a",
    ),
    (
        SEED_2,
        "m",
        "ef70a74db9c3a5af931b5fe73ed8e1a53464133654fd55e7a66f8570b8e33c3b",
        "171cb88b1b3c1db25add599712e36245d75bc65a1a5c9e18d76f9f2b1eab4012",
        "008fe9693f8fa62a4305a140b9764c5ee01e455963744fe18204b4fb948249308a",
    ),
    (
        SEED_2,
        "m/0'",
        "0b78a3226f915c082bf118f83618a618ab6dec793752624cbeb622acb562862d",
        "1559eb2bbec5790b0c65d8693e4d0875b1747f4970ae8b650486ed7470845635",
        "0086fab68dcb57aa196c77c5f264f215a112c22a912c10d123b0d03c3c28ef1037",
    ),
    (
        SEED_2,
        "m/0'/2147483647'",
        "138f0b2551bcafeca6ff2aa88ba8ed0ed8de070841f0c4ef0165df8181eaad7f",
        "ea4f5bfe8694d8bb74b7b59404632fd5968b774ed545e810de9c32a4fb4192f4",
        "005ba3b9ac6e90e83effcd25ac4e58a1365a9e35a3d3ae5eb07b9e4d90bcf7506d",
    ),
    (
        SEED_2,
        "m/0'/2147483647'/1'",
        "73bd9fff1cfbde33a1b846c27085f711c0fe2d66fd32e139d3ebc28e5a4a6b90",
        "3757c7577170179c7868353ada796c839135b3d30554bbb74a4b1e4a5a58505c",
        "002e66aa57069c86cc18249aecf5cb5a9cebbfd6fadeab056254763874a9352b45",
    ),
    (
        SEED_2,
        "m/0'/2147483647'/1'/2147483646'",
        "0902fe8a29f9140480a00ef244bd183e8a13288e4412d8389d140aac1794825a",
        "5837736c89570de861ebc173b1086da4f505d4adb387c6a1b1342d5e4ac9ec72",
        "00e33c0f7d81d843c572275f287498e8d408654fdf0d1e065b84e2e6f157aab09b",
    ),
    (
        SEED_2,
        "m/0'/2147483647'/1'/2147483646'/2'",
        "5d70af781f3a37b829f0d060924d5e960bdc02e85423494afc0b1a41bbe196d4",
        "551d333177df541ad876a60ea71f00447931c0a9da16f227c11ea080d7391b8d",
        "0047150c75db263559a70d5778bf36abbab30fb061ad69f69ece61a72b0cfa4fc0",
    ),
]

# BIP32 test vector 3: a master key and child whose private keys start with a zero byte.
BIP32_SEED_3 = (
    "4b381541583be4423346c643850da4b320e46a87ae3d2a4e6da11eba819cd4ac"
    "ba45d239319ac14f863b8d5ab5a0d0c64d2e8a1e7d1457df2e5a3c51c73235be"
)
BIP32_VECTOR_3 = [
    (
        "m",
        "xpub661MyMwAqRbcEZVB4dScxMAdx6d4nFc9nvyvH3v4gJL378CSRZiYmhRoP7mBy6gSPSCYk6SzXPTf3ND1cZAceL7SfJ1Z3GC8vBgp2epUt13",
        "xprv9s21ZrQH143K25QhxbucbDDuQ4naNntJRi4KUfWT7xo4EKsHt2QJDu7KXp1A3u7Bi1j8ph3EGsZ9Xvz9dGuVrtHHs7pXeTzjuxBrCmmhgC6",
    ),
    (
        "m/0'",
        "xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y",
        "xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L",
    ),
]

# trezor/python-mnemonic vectors.json (English; every seed uses the passphrase "TREZOR").
BIP39_VECTORS = [
    (
        "00000000000000000000000000000000",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
        "about",
        "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c9"
        "2f2cf141630c7a3c4ab7c81b2f001698e7463b04",
    ),
    (
        "ffffffffffffffffffffffffffffffff",
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
        "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6"
        "f15b11c61dee327651a14c34e18231052e48c069",
    ),
    (
        "9e885d952ad362caeb4efe34a8e91bd2",
        "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic",
        "274ddc525802f7c828d8ef7ddbcdc5304e87ac3535913611fbbfa986d0c9e5476c91689f9c8a54fd55bd3860"
        "6aa6a8595ad213d4c9c9f9aca3fb217069a41028",
    ),
    (
        "6610b25967cdcca9d59875f5cb50b0ea75433311869e930b",
        "gravity machine north sort system female filter attitude volume fold club stay feature "
        "office ecology stable narrow fog",
        "628c3827a8823298ee685db84f55caa34b5cc195a778e52d45f59bcf75aba68e4d7590e101dc414bc1bbd573"
        "7666fbbef35d1f1903953b66624f910feef245ac",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
        "abandon art",
        "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8"
        "d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8",
    ),
    (
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
        "zoo vote",
        "dd48c104698c30cfe2b6142103248622fb7bb0ff692eebb00089b32d22484e1613912f0a5b694407be899ffd"
        "31ed3992c456cdf60f5d4564b8ba3f05a69890ad",
    ),
    (
        "68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c",
        "hamster diagram private dutch cause delay private meat slide toddler razor book happy "
        "fancy gospel tennis maple dilemma loan word shrug inflict delay length",
        "64c87cde7e12ecf6704ab95bb1408bef047c22db4cc7491c4271d170a1b213d20b385bc1588d9c7b38f1b39d"
        "415665b8a9030c9ec653d75e65f847d8fc1fc440",
    ),
    (
        "f585c11aec520db57dd353c69554b21a89b20fb0650966fa0a9d6f74fd989d8f",
        "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing "
        "screen patrol group space point ten exist slush involve unfold",
        "01f5bced59dec48e362f2c45b5de68b9fd6c92c6634f44d6d40aab69056506f0e35524a518034ddc1192e1da"
        "cd32c1ed3eaa3c3b131c88ed8e7e54c49a5d0998",
    ),
]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58check_decode(text: str) -> bytes:
    """Just enough base58check to read BIP32's xprv/xpub test strings."""
    number = 0
    for char in text:
        number = number * 58 + _B58.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8)
    raw = b"\x00" * (len(text) - len(text.lstrip("1"))) + raw
    payload, checksum = raw[:-4], raw[-4:]
    assert hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum
    return payload


def _path_depth(path: str) -> int:
    return path.count("/")


@pytest.mark.parametrize(("seed", "path", "chain", "private", "public"), SLIP10_SECP256K1)
def test_slip10_secp256k1_vectors(seed: str, path: str, chain: str, private: str, public: str):
    key = derive_path(bytes.fromhex(seed), path, CURVE_SECP256K1)
    assert key.chain_code.hex() == chain
    assert key.private_key.hex() == private
    assert key.public_key.hex() == public
    assert key.depth == _path_depth(path)


@pytest.mark.parametrize(("seed", "path", "chain", "private", "public"), SLIP10_ED25519)
def test_slip10_ed25519_vectors(seed: str, path: str, chain: str, private: str, public: str):
    key = derive_path(bytes.fromhex(seed), path, CURVE_ED25519)
    assert key.chain_code.hex() == chain
    assert key.private_key.hex() == private
    # SLIP-0010 prints the 32-byte Ed25519 key behind a 0x00 byte; we return the raw 32 bytes.
    assert len(key.public_key) == 32
    assert "00" + key.public_key.hex() == public
    assert key.depth == _path_depth(path)


@pytest.mark.parametrize(("path", "xpub", "xprv"), BIP32_VECTOR_3)
def test_bip32_vector_3_keeps_leading_zeros(path: str, xpub: str, xprv: str):
    prv, pub = b58check_decode(xprv), b58check_decode(xpub)
    # version(4) depth(1) parent fingerprint(4) child number(4) chain code(32) key(33)
    key = derive_path(bytes.fromhex(BIP32_SEED_3), path, CURVE_SECP256K1)
    assert prv[4] == key.depth
    assert int.from_bytes(prv[9:13]) == key.index
    assert prv[13:45] == key.chain_code
    assert prv[45:78] == b"\x00" + key.private_key
    assert pub[45:78] == key.public_key


def test_master_key_bip32_vector_1_via_xprv():
    # Cross-checks the SLIP-0010 hex against BIP32's own serialized form for the same seed.
    xprv = (
        "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRN"
        "NU3TGtRBeJgk33yuGBxrMPHi"
    )
    raw = b58check_decode(xprv)
    key = master_key(bytes.fromhex(SEED_1), CURVE_SECP256K1)
    assert raw[13:45] == key.chain_code
    assert raw[46:78] == key.private_key


def test_child_indexes_and_depths():
    key = derive_path(bytes.fromhex(SEED_2), "m/0/2147483647'/1", CURVE_SECP256K1)
    assert (key.depth, key.index) == (3, 1)
    key = derive_path(bytes.fromhex(SEED_1), "m/0'/1'", CURVE_ED25519)
    assert (key.depth, key.index) == (2, HARDENED + 1)


def test_ed25519_rejects_normal_child():
    master = master_key(bytes.fromhex(SEED_1), CURVE_ED25519)
    with pytest.raises(ValueError, match="hardened"):
        derive_child(master, 0)
    with pytest.raises(ValueError, match="hardened"):
        derive_path(bytes.fromhex(SEED_1), "m/44'/1'/0'/0/0", CURVE_ED25519)


def test_path_spellings_agree():
    seed = bytes.fromhex(SEED_1)
    a = derive_path(seed, "m/44'/1'/0'/0'/5'", CURVE_ED25519)
    b = derive_path(seed, "m/44h/1h/0h/0H/5h", CURVE_ED25519)
    assert a == b
    assert parse_path("m") == ()
    assert parse_path("m/0/1'") == (0, HARDENED + 1)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "M/0",
        "m/",
        "m//1",
        "m/-1",
        "m/+1",
        "m/1''",
        "m/2147483648",
        "m/0x1",
        "m/ 1",
        "/0",
        "m/\u0661",
    ],
)
def test_bad_paths_rejected(path: str):
    with pytest.raises(ValueError):
        parse_path(path)


def test_bad_inputs_rejected():
    with pytest.raises(ValueError):
        master_key(b"\x01" * 15, CURVE_ED25519)  # BIP32 seeds are 128 to 512 bits
    with pytest.raises(ValueError):
        master_key(b"\x01" * 65, CURVE_SECP256K1)
    with pytest.raises(ValueError):
        master_key(b"\x01" * 32, "nist256p1")
    master = master_key(b"\x01" * 32, CURVE_SECP256K1)
    with pytest.raises(ValueError):
        derive_child(master, 1 << 32)
    with pytest.raises(ValueError):
        ExtendedKey(CURVE_SECP256K1, bytes(32), bytes(32), 0, 0)  # zero is not a valid key


def test_repr_hides_secrets():
    key = master_key(bytes.fromhex(SEED_1), CURVE_SECP256K1)
    assert key.private_key.hex() not in repr(key)
    assert key.chain_code.hex() not in repr(key)


def test_account_paths():
    assert account_path(1, 0, 5) == "m/44'/1'/0'/0'/5'"
    assert account_path(1, 1, 0) == "m/44'/1'/0'/1'/0'"
    assert account_path(2, 0, 7) == "m/84'/1'/0'/0/7"
    assert account_path(2, 1, 2147483647) == "m/84'/1'/0'/1/2147483647"
    # Deriving from a cached account key (what a wallet does) lands on the same address key.
    seed = bytes.fromhex(SEED_2)
    account = derive_path(seed, hd.ED25519_ACCOUNT_PATH, CURVE_ED25519)
    via_account = derive_child(derive_child(account, HARDENED + 0), HARDENED + 3)
    assert via_account == derive_path(seed, account_path(1, 0, 3), CURVE_ED25519)
    account = derive_path(seed, hd.SECP256K1_ACCOUNT_PATH, CURVE_SECP256K1)
    via_account = derive_child(derive_child(account, 0), 3)
    assert via_account == derive_path(seed, account_path(2, 0, 3), CURVE_SECP256K1)
    assert hd.CURVE_BY_KEY_TYPE == {1: CURVE_ED25519, 2: CURVE_SECP256K1}
    for bad in [(3, 0, 0), (1, 2, 0), (2, 0, -1), (2, 0, HARDENED)]:
        with pytest.raises(ValueError):
            account_path(*bad)


def _fake_hmac(bad_data_suffixes: set[bytes]):
    """An HMAC that returns I_L = n (invalid) for the chosen child numbers."""
    real = hd._hmac_sha512

    def fake(key: bytes, data: bytes) -> bytes:
        out = real(key, data)
        if data[-4:] in bad_data_suffixes:
            return hd._N.to_bytes(32) + out[32:]
        return out

    return fake


def test_invalid_secp256k1_child_skips_to_next_index(monkeypatch: pytest.MonkeyPatch):
    master = master_key(bytes.fromhex(SEED_1), CURVE_SECP256K1)
    expected = derive_child(master, 6)
    monkeypatch.setattr(hd, "_hmac_sha512", _fake_hmac({(5).to_bytes(4)}))
    child = derive_child(master, 5)
    assert child.index == 6
    assert child == expected


def test_invalid_secp256k1_child_never_crosses_into_hardened(monkeypatch: pytest.MonkeyPatch):
    master = master_key(bytes.fromhex(SEED_1), CURVE_SECP256K1)
    monkeypatch.setattr(hd, "_hmac_sha512", _fake_hmac({(HARDENED - 1).to_bytes(4)}))
    with pytest.raises(ValueError):
        derive_child(master, HARDENED - 1)


def test_invalid_secp256k1_master_key_rejected(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(hd, "_hmac_sha512", lambda key, data: bytes(64))
    with pytest.raises(ValueError, match="invalid secp256k1 master key"):
        master_key(bytes.fromhex(SEED_1), CURVE_SECP256K1)
    # Ed25519 accepts every 256-bit string, zero included (SLIP-0010).
    assert master_key(bytes.fromhex(SEED_1), CURVE_ED25519).private_key == bytes(32)


# ---- BIP39 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("entropy", "words", "seed"), BIP39_VECTORS)
def test_bip39_vectors(entropy: str, words: str, seed: str):
    assert entropy_to_mnemonic(bytes.fromhex(entropy)) == words
    assert validate_mnemonic(words) == words
    assert mnemonic_to_seed(words, "TREZOR").hex() == seed


def test_validate_normalizes_whitespace_and_case():
    words = BIP39_VECTORS[4][1]
    messy = "  " + words.upper().replace(" ", " \n\t ", 3) + "\n"
    assert validate_mnemonic(messy) == words
    assert mnemonic_to_seed(messy, "TREZOR").hex() == BIP39_VECTORS[4][2]


def test_generate_mnemonic_is_24_valid_random_words():
    a, b = generate_mnemonic(), generate_mnemonic()
    assert len(a.split()) == 24
    assert validate_mnemonic(a) == a
    assert a != b
    assert len(mnemonic_to_seed(a)) == 64


def test_passphrase_changes_seed():
    words = BIP39_VECTORS[0][1]
    assert mnemonic_to_seed(words) != mnemonic_to_seed(words, "TREZOR")


@pytest.mark.parametrize(
    ("words", "match"),
    [
        ("abandon " * 23, "has 23"),
        ("", "has 0"),
        ("abandon " * 11 + "abuot", "word 12 "),
        ("abandonn " + "abandon " * 10 + "zzz", "words 1, 12 of the recovery phrase are"),
        ("abandon " * 24, "checksum"),
        ("zoo " * 12, "checksum"),
    ],
)
def test_invalid_mnemonics(words: str, match: str):
    with pytest.raises(InvalidMnemonic, match=match) as info:
        validate_mnemonic(words)
    assert isinstance(info.value, WalletError)
    assert wallet_error_code(info.value) == RPC_INVALID_PARAMETER
    with pytest.raises(InvalidMnemonic):
        mnemonic_to_seed(words)


def test_invalid_word_not_echoed():
    with pytest.raises(InvalidMnemonic) as info:
        validate_mnemonic("abandon " * 11 + "secretword")
    assert "secretword" not in str(info.value)
