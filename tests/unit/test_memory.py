"""release_free_memory gives freed heap back on glibc (the node calls it after each
periodic sync of peers' blocks)."""

from __future__ import annotations

import platform

import pytest

from node.memory import release_free_memory


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_freed_memory_goes_back_to_the_system() -> None:
    # Many small blocks (below glibc's mmap threshold, so they come from the heap), the
    # last one kept: the heap cannot shrink from its top, only trimming gives pages back.
    blocks = [bytearray(4000) for _ in range(40_000)]
    keep = blocks[-1]
    del blocks
    before = _rss_kb()
    assert release_free_memory() is True
    assert before - _rss_kb() > 50_000  # of the ~160 MB freed
    assert len(keep) == 4000
