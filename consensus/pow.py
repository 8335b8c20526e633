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


ASERT_ANCHOR_HEIGHT = 1


def next_bits(
    params: NetworkParams, parent_height: int, parent_time: int, anchor_time: int | None
) -> int:
    """The bits the block after (``parent_height``, ``parent_time``) must carry.

    regtest: always the limit. devnet: aserti3-2d anchored at block 1 of the branch, whose
    time is ``anchor_time`` (None while the parent is genesis). Block 1 itself is mined at
    the limit. The anchor is block 1, not genesis, because genesis is fixed in the past: a
    devnet started today would be years behind a schedule counted from genesis and stay
    at the easiest target forever. Block 1 is taken to be on schedule (its virtual parent
    time is one spacing before it), so the target settles to one block per spacing.
    """
    if params.retarget == "none" or parent_height < ASERT_ANCHOR_HEIGHT:
        return params.pow_limit_bits
    if anchor_time is None:
        raise ValueError("devnet needs the time of block 1 for the next bits")
    anchor_parent_time = anchor_time - params.target_spacing
    return asert_next_bits(
        params.pow_limit_bits,
        parent_time - anchor_parent_time,
        parent_height - ASERT_ANCHOR_HEIGHT,
        spacing=params.target_spacing,
        half_life=params.asert_half_life,
        pow_limit_bits=params.pow_limit_bits,
    )
