"""Properties of wallet.hd over arbitrary seeds, paths and indexes."""

from __future__ import annotations

from ecdsa import SECP256k1, SigningKey
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.hd import (
    CURVE_ED25519,
    CURVE_SECP256K1,
    CURVES,
    HARDENED,
    account_path,
    derive_child,
    derive_path,
    master_key,
)

seeds = st.binary(min_size=16, max_size=64)
curves = st.sampled_from(CURVES)
plain_indexes = st.integers(min_value=0, max_value=HARDENED - 1)
hardened_indexes = st.integers(min_value=HARDENED, max_value=2**32 - 1)


@st.composite
def paths(draw: st.DrawFn, curve: str) -> str:
    """A path valid for ``curve``: Ed25519 only takes hardened segments."""
    segments = []
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        index = draw(plain_indexes)
        hardened = curve == CURVE_ED25519 or draw(st.booleans())
        suffix = draw(st.sampled_from(["'", "h", "H"])) if hardened else ""
        segments.append(f"{index}{suffix}")
    return "/".join(["m", *segments])


@given(seeds, curves, st.data())
def test_derive_path_is_deterministic(seed: bytes, curve: str, data: st.DataObject):
    path = data.draw(paths(curve))
    a, b = derive_path(seed, path, curve), derive_path(seed, path, curve)
    assert a == b
    assert a.public_key == b.public_key
    assert a.depth == path.count("/")


@given(seeds, curves, hardened_indexes, hardened_indexes)
def test_hardened_children_differ_per_index(seed: bytes, curve: str, i: int, j: int):
    parent = master_key(seed, curve)
    a, b = derive_child(parent, i), derive_child(parent, j)
    if i == j:
        assert a == b
    else:
        assert a.private_key != b.private_key
        assert a.chain_code != b.chain_code
        assert a.public_key != b.public_key


@given(seeds, plain_indexes, plain_indexes)
def test_normal_secp256k1_children_differ_per_index(seed: bytes, i: int, j: int):
    parent = master_key(seed, CURVE_SECP256K1)
    if i != j:
        assert derive_child(parent, i).private_key != derive_child(parent, j).private_key


@given(seeds, st.integers(0, 1000), st.integers(0, 1000))
def test_hardened_and_normal_children_differ(seed: bytes, i: int, j: int):
    parent = master_key(seed, CURVE_SECP256K1)
    assert derive_child(parent, i).private_key != derive_child(parent, HARDENED + j).private_key


@settings(max_examples=50)
@given(seeds, st.integers(0, 1), plain_indexes)
def test_secp256k1_pubkey_is_point_multiplication(seed: bytes, change: int, index: int):
    key = derive_path(seed, account_path(2, change, index), CURVE_SECP256K1)
    secret = int.from_bytes(key.private_key)
    assert 0 < secret < SECP256k1.order
    # python-ecdsa's own key object: an independent route from scalar to compressed point.
    expected = SigningKey.from_secret_exponent(secret, curve=SECP256k1).get_verifying_key()
    assert key.public_key == expected.to_string("compressed")
    point = SECP256k1.generator * secret
    assert key.public_key == bytes([2 + (point.y() & 1)]) + point.x().to_bytes(32)


@given(seeds)
def test_curves_give_independent_trees(seed: bytes):
    assert (
        master_key(seed, CURVE_ED25519).private_key != master_key(seed, CURVE_SECP256K1).private_key
    )
