"""The block index: one entry per header seen, with its height, work and status.

Entries link to their parent and to a skip pointer further back, so that finding an
ancestor (forks, locators, download planning) takes logarithmic steps.
"""

from __future__ import annotations

from consensus.primitives import BlockHeader

from .storage import IndexRecord

# Block status flags, persisted in the index record.
HAVE_DATA = 1
VALID_CHAIN = 2  # was connected to the active chain once: fully valid
FAILED = 4  # this block broke a rule
FAILED_CHILD = 8  # an ancestor broke a rule
FAILED_MASK = FAILED | FAILED_CHILD


def _skip_height(height: int) -> int:
    """Where a block's skip pointer leads (Bitcoin Core's GetSkipHeight): any lower height
    would do; this choice reaches any ancestor in O(log n) steps."""
    if height < 2:
        return 0
    if height & 1:
        n = height - 1
        n &= n - 1
        return (n & (n - 1)) + 1
    return height & (height - 1)


class BlockIndex:
    """What the node knows of one header. Mutable status and first child; everything else
    fixed."""

    __slots__ = (
        "chainwork",
        "first_child",
        "hash",
        "header",
        "height",
        "ntx",
        "parent",
        "seq",
        "skip",
        "status",
    )

    def __init__(
        self,
        header: BlockHeader,
        height: int,
        chainwork: int,
        status: int,
        ntx: int,
        parent: BlockIndex | None,
        seq: int,
    ) -> None:
        self.header = header
        self.hash = header.hash
        self.height = height
        self.chainwork = chainwork
        self.status = status
        self.ntx = ntx
        self.parent = parent
        self.seq = seq
        # Set by the chain manager, which keeps a block's other children (forks) itself:
        # a list per block would cost ~120 bytes on every one of them.
        self.first_child: BlockIndex | None = None
        # A pointer further back than the parent, so that ``ancestor`` (block download
        # planning, forks, locators) takes logarithmic steps, not one per block.
        self.skip = parent.ancestor(_skip_height(height)) if parent is not None else None

    @property
    def failed(self) -> bool:
        return bool(self.status & FAILED_MASK)

    @property
    def have_data(self) -> bool:
        return bool(self.status & HAVE_DATA)

    def ancestor(self, height: int) -> BlockIndex | None:
        """The block at ``height`` on this block's chain: itself if ``height`` is not
        lower, None if it is negative. Core's GetAncestor: follow the skip pointer unless
        the parent's skip pointer is the better way there."""
        if height < 0:
            return None
        node = self
        while node.height > height:
            skip = node.skip
            skip_height = _skip_height(node.height)
            skip_prev = _skip_height(node.height - 1)
            if skip is not None and (
                skip_height == height
                or (
                    skip_height > height
                    and not (skip_prev < skip_height - 2 and skip_prev >= height)
                )
            ):
                node = skip
            else:
                assert node.parent is not None, "a block above genesis has a parent"
                node = node.parent
        return node

    def record(self) -> IndexRecord:
        return IndexRecord(
            self.header.serialize(), self.height, self.chainwork, self.status, self.ntx
        )
