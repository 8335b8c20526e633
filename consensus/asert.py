"""aserti3-2d: absolutely scheduled exponentially rising targets (Bitcoin Cash, 2020-11-15).

The target grows or shrinks by a factor of two for every ``half_life`` seconds the chain is
behind or ahead of the ideal schedule since an anchor block. 2**x for the fractional part
is the spec's cubic approximation in 16-bit fixed point, so the result is exact integers.
"""

from __future__ import annotations

from .compact import decode_compact, target_to_bits


def asert_next_bits(
    anchor_bits: int,
    time_diff: int,
    height_diff: int,
    *,
    spacing: int,
    half_life: int,
    pow_limit_bits: int,
) -> int:
    """Next bits, where ``time_diff`` = parent time - anchor's parent time and
    ``height_diff`` = parent height - anchor height."""
    anchor_target = decode_compact(anchor_bits)[0]
    limit = decode_compact(pow_limit_bits)[0]
    numerator = (time_diff - spacing * (height_diff + 1)) * 65536
    # C++ division truncates toward zero; Python's // floors. The spec follows C++.
    exponent = abs(numerator) // half_life
    if numerator < 0:
        exponent = -exponent
    shifts = exponent >> 16
    frac = exponent & 0xFFFF
    factor = 65536 + (
        (195766423245049 * frac + 971821376 * frac * frac + 5127 * frac * frac * frac + (1 << 47))
        >> 48
    )
    target = anchor_target * factor
    if shifts < 0:
        target >>= -shifts
    else:
        target <<= shifts
    target >>= 16
    if target == 0:
        return target_to_bits(1)
    if target > limit:
        return pow_limit_bits
    return target_to_bits(target)
