"""Chain parameters: one immutable ``NetworkParams`` per network, passed to whoever needs it."""

from __future__ import annotations

from dataclasses import dataclass

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN
LOCKTIME_THRESHOLD = 500_000_000
MEDIAN_TIME_SPAN = 11
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60


@dataclass(frozen=True, slots=True)
class NetworkParams:
    name: str
    magic: bytes
    hrp: str
    p2p_port: int
    rpc_port: int
    pow_limit_bits: int
    retarget: str  # "none": bits are always the limit; "asert": aserti3-2d
    target_spacing: int
    asert_half_life: int
    initial_subsidy: int
    halving_interval: int
    coinbase_maturity: int
    max_block_size: int
    max_block_sigchecks: int
    genesis_time: int
    genesis_nonce: int
    genesis_message: bytes

    def __post_init__(self) -> None:
        if len(self.magic) != 4:
            raise ValueError("magic is 4 bytes")
        if self.retarget not in ("none", "asert"):
            raise ValueError(f"unknown retarget rule {self.retarget!r}")


REGTEST = NetworkParams(
    name="regtest",
    magic=b"obrt",
    hrp="obrt",
    p2p_port=19444,
    rpc_port=19443,
    pow_limit_bits=0x207FFFFF,
    retarget="none",
    target_spacing=600,
    asert_half_life=0,
    initial_subsidy=50 * COIN,
    halving_interval=150,
    coinbase_maturity=100,
    max_block_size=1_000_000,
    max_block_sigchecks=20_000,
    genesis_time=1_764_547_200,
    genesis_nonce=0,
    genesis_message=b"obol regtest genesis",
)

DEVNET = NetworkParams(
    name="devnet",
    magic=b"obdv",
    hrp="obdv",
    p2p_port=19544,
    rpc_port=19543,
    pow_limit_bits=0x1F00FFFF,
    retarget="asert",
    target_spacing=10,
    # A devnet is mined by one laptop: block 1 at the limit (65,537 expected hashes, a
    # fraction of a second), then each block ahead of schedule tightens the target. With
    # a 45 s half-life the target climbs the ~180x to a 10 s block on this machine
    # (1.2 MH/s for one miner worker) in about a minute, the first 20 blocks (coins to
    # mature) come in ~12 s, and a machine 4x slower or faster settles as well: simulated
    # (200 runs each at 0.3, 1.2 and 4 MH/s), blocks 60-80 average 7-13 s in 96% of runs.
    # The former 600 s half-life gave 1 s blocks for 10 minutes and 10 s after ~30.
    asert_half_life=45,
    initial_subsidy=50 * COIN,
    halving_interval=210_000,
    coinbase_maturity=100,
    max_block_size=1_000_000,
    max_block_sigchecks=20_000,
    genesis_time=1_764_547_200,
    genesis_nonce=62743,
    genesis_message=b"obol devnet genesis",
)

NETWORKS: dict[str, NetworkParams] = {p.name: p for p in (REGTEST, DEVNET)}


def money_range(value: int) -> bool:
    return 0 <= value <= MAX_MONEY


def block_subsidy(height: int, params: NetworkParams) -> int:
    """50 OBOL, halved every ``halving_interval`` blocks; nothing after 64 halvings."""
    halvings = height // params.halving_interval
    if halvings >= 64:
        return 0
    return params.initial_subsidy >> halvings
