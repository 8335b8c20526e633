"""RFC 6962 Merkle Tree Hash against the Certificate Transparency project's published vectors.

Source: google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc
(``kSHA256EmptyTreeHash``, ``kInputs`` and ``kSHA256Roots``, used by the known-answer test
``MerkleTreeTest.RootTestVectors``). The roots there are for the first 1..8 leaves of the
reference tree; the empty tree hashes to SHA-256 of the empty string.

RFC 6962 section 2.1: MTH({}) = SHA-256(), MTH({d0}) = SHA-256(0x00 || d0), and for n > 1 with
k the largest power of two smaller than n,
MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
"""

from __future__ import annotations

import hashlib

import pytest

from consensus.merkle import merkle_root

EMPTY_TREE_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# kInputs: the eight leaves of the reference tree, as hex (the first leaf is empty).
LEAVES_HEX = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
LEAVES = [bytes.fromhex(h) for h in LEAVES_HEX]

# kSHA256Roots[i]: the root of the tree of the first i + 1 leaves.
ROOTS_HEX = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# (tree size, expected root): sizes 0..8.
VECTORS = [(0, EMPTY_TREE_HASH)] + [(i + 1, root) for i, root in enumerate(ROOTS_HEX)]


@pytest.mark.parametrize(("size", "root_hex"), VECTORS, ids=[f"size{n}" for n, _ in VECTORS])
def test_ct_reference_tree_roots(size: int, root_hex: str) -> None:
    root = merkle_root(LEAVES[:size])
    assert isinstance(root, bytes)
    assert root.hex() == root_hex


@pytest.mark.parametrize(("size", "root_hex"), VECTORS, ids=[f"size{n}" for n, _ in VECTORS])
def test_accepts_any_sequence_and_does_not_mutate(size: int, root_hex: str) -> None:
    leaves = tuple(LEAVES[:size])
    assert merkle_root(leaves).hex() == root_hex
    as_list = list(LEAVES[:size])
    merkle_root(as_list)
    assert as_list == LEAVES[:size]


def test_empty_tree_is_sha256_of_nothing() -> None:
    assert merkle_root([]) == hashlib.sha256(b"").digest()


def test_single_leaf_is_domain_separated() -> None:
    # The leaf hash is SHA-256(0x00 || leaf), never the bare hash of the leaf.
    leaf = LEAVES[1]
    assert merkle_root([leaf]) == hashlib.sha256(b"\x00" + leaf).digest()
    assert merkle_root([leaf]) != hashlib.sha256(leaf).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@pytest.mark.parametrize("n", range(2, 41))
def test_split_rule_is_consistent(n: int) -> None:
    # MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of 2 < n.
    leaves = [bytes([i, i ^ 0x5A]) * (i % 3) for i in range(n)]
    k = _largest_power_of_two_below(n)
    expected = hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()
    assert merkle_root(leaves) == expected


@pytest.mark.parametrize("size", [3, 5, 6, 7])
def test_duplicating_the_last_leaf_changes_the_root(size: int) -> None:
    # Bitcoin's odd-level duplication made [a, b, c] and [a, b, c, c] collide
    # (CVE-2012-2459); RFC 6962 has no such ambiguity.
    leaves = LEAVES[:size]
    assert merkle_root(leaves) != merkle_root([*leaves, leaves[-1]])


def test_leaf_order_matters() -> None:
    assert merkle_root(LEAVES[:2]) != merkle_root(LEAVES[1::-1])
