"""What the peer layer needs from the node, passed in (p2p never imports node/).

``PeerManagerConfig`` carries callables and a read-only view of the chain; ``P2PSettings``
the limits and timeouts (Bitcoin Core's values where Core has one). The protocols below are
satisfied structurally by node/'s ``Chain``, ``BlockIndex`` and ``BlockResult``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Protocol

from consensus.errors import RuleError
from consensus.params import NetworkParams
from consensus.primitives import Block, BlockHeader, Tx

from .messages import MAX_FRAME_SIZE


def _version() -> str:
    """obol's version, from the installed package's metadata (pyproject.toml says it)."""
    try:
        return package_version("obol")
    except PackageNotFoundError:  # a source tree run without installing
        return "0.0.0+unknown"


VERSION = _version()
USER_AGENT = f"/obol:{VERSION}/"


def version_number(version: str = VERSION) -> int:
    """Core's integer form of a version: 10000 x major + 100 x minor + patch."""
    major, minor, patch = ([int(p) for p in version.split("+")[0].split(".")] + [0, 0])[:3]
    return 10_000 * major + 100 * minor + patch


class IndexEntry(Protocol):
    """One header the node knows (node/chain/index.py ``BlockIndex``)."""

    hash: bytes
    header: BlockHeader
    height: int
    chainwork: int
    parent: IndexEntry | None

    @property
    def have_data(self) -> bool: ...

    @property
    def failed(self) -> bool: ...

    def ancestor(self, height: int) -> IndexEntry | None: ...


class ChainView(Protocol):
    """The chain manager. Dict lookups in ``index`` and ``tip`` are safe from the event
    loop; anything that walks the active chain or writes runs on the chain thread."""

    @property
    def index(self) -> Mapping[bytes, IndexEntry]: ...

    @property
    def tip(self) -> IndexEntry: ...

    @property
    def height(self) -> int: ...

    def at_height(self, height: int) -> IndexEntry | None: ...

    def contains(self, entry: Any) -> bool: ...

    def find_fork(self, entry: Any) -> IndexEntry: ...

    def locator(self, entry: Any = None) -> list[bytes]: ...

    def accept_header(self, header: BlockHeader) -> IndexEntry: ...

    def get_block(self, block_hash: bytes) -> Block | None: ...

    def get_block_raw(self, block_hash: bytes) -> bytes | None: ...


class ChainChange(Protocol):
    """node/chain/manager.py ``ChainUpdate``: blocks connected, disconnected and found invalid."""

    connected: tuple[Block, ...]
    disconnected: tuple[Block, ...]
    invalid: tuple[tuple[bytes, RuleError], ...]


class BlockVerdict(Protocol):
    """node/chain/manager.py ``BlockResult``."""

    status: str  # "accepted", "duplicate", "orphan", "invalid", "inconclusive"
    error: RuleError | None

    @property
    def update(self) -> ChainChange: ...


@dataclass(frozen=True, slots=True)
class P2PSettings:
    """Limits and timeouts. Defaults are Core's, adapted; tests may shorten the timers."""

    max_inbound: int = 117  # Core's 125 connections less its 8 outbound slots
    # Open connections to the listener, handshaken or not (the node sizes it from its
    # descriptor budget), and how long one may take to send its upgrade request's header.
    max_connections: int = 256
    header_timeout: float = 10.0
    handshake_timeout: float = 10.0
    ping_interval: float = 30.0
    ping_timeout: float = 90.0
    connect_timeout: float = 5.0
    close_timeout: float = 2.0
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0
    anchor_attempts: int = 4
    max_frame_size: int = MAX_FRAME_SIZE
    send_buffer_soft: int = 4 * 1024 * 1024  # replies wait above this (the peer reads slowly)
    send_buffer_hard: int = 16 * 1024 * 1024  # above this the peer is dropped
    thread_decode_size: int = 64 * 1024  # bigger payloads are decoded off the event loop
    max_blocks_in_flight: int = 16  # per peer, Core's MAX_BLOCKS_IN_TRANSIT_PER_PEER
    block_download_window: int = 1024  # Core's BLOCK_DOWNLOAD_WINDOW
    block_stall_timeout: float = 10.0  # a peer with requests out and no block for this long
    max_blocks_to_announce: int = 8  # Core's MAX_BLOCKS_TO_ANNOUNCE; more: just the tip
    max_unconnecting_headers: int = 10  # Core's MAX_NUM_UNCONNECTING_HEADERS_MSGS
    # Headers of a branch with no more work than our tip, stored per peer and in all: such
    # a branch costs an attacker nothing at a low target, yet each header is kept on disk.
    max_low_work_headers_per_peer: int = 4_000
    max_low_work_headers: int = 20_000
    # Distinct node ids taken from one inbound host per window: a loopback peer is banned
    # by node id (every localnet node is 127.0.0.1), and a new key must not undo a ban.
    max_new_node_ids_per_host: int = 64
    node_id_window: float = 3600.0
    tx_trickle_interval: float = 0.1
    max_inv_per_flush: int = 5000
    max_txs_in_flight: int = 100  # per peer, Core's MAX_PEER_TX_REQUEST_IN_FLIGHT
    tx_request_timeout: float = 60.0  # Core's GETDATA_TX_INTERVAL
    ban_seconds: int = 24 * 60 * 60
    ban_threshold: int = 100
    tick_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class PeerManagerConfig:
    """Everything the peer manager is given by the node (CONVENTIONS 8)."""

    params: NetworkParams
    datadir: Path  # <datadir>/<network>: banlist.json, peers.json, anchors.json, nodekey
    chain: ChainView
    # Runs a function on the node's chain thread (the only thread that touches the chain).
    run_chain: Callable[..., Awaitable[Any]]
    submit_block: Callable[[Block], Awaitable[BlockVerdict]]
    # Accepts a tx from a peer (orphans kept); raises RuleError or ``policy_error``, whose
    # ``missing_parents`` names the parents an orphan waits for.
    submit_tx: Callable[[Tx], Awaitable[object]]
    policy_error: type[Exception]
    mempool_tx: Callable[[bytes], Tx | None]
    have_tx: Callable[[bytes], bool]  # in the mempool or its orphan pool
    # The mempool's txids, parents first: announced to each new peer (as Core's BIP 35
    # mempool message would fetch them), so txs made during a partition cross after it.
    mempool_txids: Callable[[], Iterable[bytes]]
    clock: Callable[[], int]  # the node's (mockable) wall clock, seconds
    publish: Callable[[str, dict[str, Any]], None]  # node events
    bind: str = "127.0.0.1"
    port: int = 0
    listen: bool = True
    connect: tuple[str, ...] = ()
    user_agent: str = USER_AGENT
    settings: P2PSettings = field(default_factory=P2PSettings)
