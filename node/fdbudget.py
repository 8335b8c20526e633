"""The node's file descriptors, shared out at start-up as Bitcoin Core does (it computes
its connection limits from the descriptor limit and logs them).

Without a budget the listeners took descriptors until accept() failed, and LevelDB (1,000
open tables by default) could not open a file either. The soft limit is first raised to
the hard one; then a fixed reserve (log, wallets, worker pipes, outbound peers), a share
for LevelDB's open tables, and the rest split between the P2P and RPC listeners, each of
which closes connections above its share (``p2p.listener``).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

RESERVED = 128  # debug.log, wallets, worker pipes, listening sockets, outbound peers
MIN_LISTENER = 32  # below this a listener cannot serve a local network and its tools
MAX_DATABASE = 1000  # LevelDB's own default for open table files


@dataclass(frozen=True, slots=True)
class FdBudget:
    limit: int
    database: int  # LevelDB max_open_files
    p2p: int  # connections the P2P listener keeps open at once
    rpc: int  # connections the RPC listener keeps open at once

    def describe(self) -> str:
        return (
            f"file descriptors: {self.limit} available; at most {self.database} for the "
            f"database, {self.p2p} P2P and {self.rpc} RPC connections"
        )


class TooFewDescriptors(Exception):
    pass


def raise_limit() -> int:
    """Raise the soft descriptor limit to the hard one (Core's RaiseFileDescriptorLimit);
    the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def plan(limit: int) -> FdBudget:
    """Share ``limit`` descriptors out; TooFewDescriptors when they cannot run a node."""
    spare = limit - RESERVED
    database = min(MAX_DATABASE, spare // 4)
    listeners = spare - database
    if listeners < 2 * MIN_LISTENER:
        raise TooFewDescriptors(
            f"only {limit} file descriptors are available; obol needs at least "
            f"{RESERVED + 3 * MIN_LISTENER}: raise the limit (ulimit -n)"
        )
    return FdBudget(limit, database, listeners // 2, listeners - listeners // 2)
