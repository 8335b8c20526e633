"""Compact bits, targets, work, and the next-bits rule of each network."""

from __future__ import annotations

from .asert import asert_next_bits
from .compact import bits_to_target, decode_compact, target_to_bits
from .errors import RejectCode, RuleError
from .params import NetworkParams

__all__ = [
    "bits_to_target",
    "block_work",
    "check_proof_of_work",
    "decode_compact",
    "next_bits",
    "pow_limit",
    "target_to_bits",
]


def block_work(bits: int) -> int:
    """Expected hashes for a block at ``bits``: 2**256 // (target + 1) (Core: GetBlockProof)."""
    try:
        target = bits_to_target(bits)
    except ValueError:
        return 0
    return (1 << 256) // (target + 1)


def pow_limit(params: NetworkParams) -> int:
    return bits_to_target(params.pow_limit_bits)


def check_proof_of_work(block_hash: bytes, bits: int, params: NetworkParams) -> None:
    """The hash, read as a little-endian integer, must not exceed the target of ``bits``."""
    try:
        target = bits_to_target(bits)
    except ValueError as exc:
        raise RuleError(RejectCode.BLOCK_BAD_BITS, str(exc)) from exc
    if target > pow_limit(params):
        raise RuleError(RejectCode.BLOCK_BAD_BITS, "target above the proof-of-work limit")
    if int.from_bytes(block_hash, "little") > target:
        raise RuleError(RejectCode.BLOCK_BAD_POW, "proof of work does not meet the target")


def next_bits(params: NetworkParams, parent_height: int, parent_time: int) -> int:
    """The bits the block after (``parent_height``, ``parent_time``) must carry.

    regtest: always the limit. devnet: aserti3-2d anchored at genesis, whose (virtual)
    parent time is one target spacing before the genesis time.
    """
    if params.retarget == "none":
        return params.pow_limit_bits
    anchor_parent_time = params.genesis_time - params.target_spacing
    return asert_next_bits(
        params.pow_limit_bits,
        parent_time - anchor_parent_time,
        parent_height,
        spacing=params.target_spacing,
        half_life=params.asert_half_life,
        pow_limit_bits=params.pow_limit_bits,
    )
