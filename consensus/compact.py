"""Compact "bits": a 256-bit target in 32 bits, exactly as Bitcoin Core encodes it."""

from __future__ import annotations


def decode_compact(bits: int) -> tuple[int, bool, bool]:
    """(target, negative, overflow) exactly as Bitcoin Core's ``arith_uint256::SetCompact``."""
    size = bits >> 24
    word = bits & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)
        target = word
    else:
        target = word << (8 * (size - 3))
    negative = word != 0 and (bits & 0x00800000) != 0
    overflow = word != 0 and (
        size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32)
    )
    return target, negative, overflow


def target_to_bits(target: int) -> int:
    """Bitcoin Core's ``arith_uint256::GetCompact`` for a non-negative target."""
    if target < 0:
        raise ValueError("target must not be negative")
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        compact = target << (8 * (3 - size))
    else:
        compact = target >> (8 * (size - 3))
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    return compact | (size << 24)


def bits_to_target(bits: int) -> int:
    """The target encoded by ``bits``; ValueError if it is negative, overflows or is zero."""
    target, negative, overflow = decode_compact(bits)
    if negative or overflow or target == 0:
        raise ValueError(f"bits {bits:#010x} do not encode a valid target")
    return target
