"""A hand-driven P2P client for functional tests (like Bitcoin Core's ``P2PInterface``).

``RawPeer`` speaks obol's wire format over a real WebSocket with its own node key, so a
test can do what no honest node does: send garbage, the wrong magic, oversized frames,
invalid headers and blocks, or nothing at all.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import aiohttp

from consensus.builder import make_block, make_coinbase
from consensus.params import REGTEST
from consensus.pow import bits_to_target
from consensus.primitives import Block, BlockHeader, Tx, TxOut
from p2p.identity import NodeKey, verify_proof
from p2p.messages import (
    PROTOCOL_VERSION,
    Message,
    Ping,
    Pong,
    Verack,
    Version,
    decode_frame,
    encode_frame,
)
from tests.chain_helpers import key

CLIENT_MAX_FRAME = 8 * 1024 * 1024


class PeerGone(Exception):
    """The node closed the connection."""


class RawPeer:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        address: str,
        *,
        magic: bytes = REGTEST.magic,
        network: str = "regtest",
        node_key: NodeKey | None = None,
    ) -> None:
        self.session = session
        self.url = f"ws://{address}/p2p"
        self.magic = magic
        self.network = network
        self.key = node_key or NodeKey.generate()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.nonce = secrets.randbits(64)
        self.peer_version: Version | None = None

    @property
    def node_id_hex(self) -> str:
        return self.key.node_id.hex()

    async def connect(self) -> RawPeer:
        self.ws = await self.session.ws_connect(
            self.url, max_msg_size=CLIENT_MAX_FRAME, compress=0, autoping=True
        )
        return self

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()

    async def send(self, msg: Message) -> None:
        await self.send_raw(encode_frame(self.magic, msg))

    async def send_raw(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send_bytes(data)

    async def recv(self, timeout: float = 15.0) -> Message | None:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        if msg.type is not aiohttp.WSMsgType.BINARY:
            raise PeerGone(f"{msg.type.name}: {msg.data!r}")
        return decode_frame(msg.data, self.magic)

    async def expect(self, kind: type[Message], timeout: float = 15.0) -> Message:
        """The next ``kind`` message; pings are answered, anything else is skipped."""
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv(max(0.1, deadline - time.monotonic()))
            if isinstance(msg, kind):
                return msg
            if isinstance(msg, Ping):
                await self.send(Pong(msg.nonce))

    async def closed(self, timeout: float = 15.0) -> bool:
        """Whether the node closes the connection within ``timeout`` (messages skipped)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                await self.recv(max(0.1, deadline - time.monotonic()))
        except PeerGone:
            await self.close()
            return True
        except TimeoutError:
            return False
        return False

    def version(self) -> Version:
        return Version(
            PROTOCOL_VERSION,
            self.network,
            self.key.node_id,
            self.nonce,
            0,
            bytes(32),
            "/raw-test-peer/",
            0,
            int(time.time()),
        )

    async def handshake(self) -> Version:
        await self.send(self.version())
        theirs = await self.expect(Version)
        assert isinstance(theirs, Version)
        self.peer_version = theirs
        await self.send(Verack(self.key.prove(self.magic, theirs.nonce)))
        ack = await self.expect(Verack)
        assert isinstance(ack, Verack)
        assert verify_proof(self.magic, self.nonce, theirs.node_id, ack.signature)
        return theirs


def next_block(tip_hash: str, tip_height: int, tip_time: int, txs: tuple[Tx, ...] = ()) -> Block:
    """A valid-looking regtest block on a tip known by RPC (hex hash), paying a test key."""
    height = tip_height + 1
    coinbase = make_coinbase(height, [TxOut(50 * 10**8, key(7).lock)], extra=secrets.token_bytes(4))
    return make_block(
        bytes.fromhex(tip_hash)[::-1], [coinbase, *txs], tip_time + 1, REGTEST.pow_limit_bits
    )


def bad_pow_header(header: BlockHeader) -> BlockHeader:
    """``header`` with the first nonce whose hash misses the target."""
    target = bits_to_target(header.bits)
    for nonce in range(1 << 32):
        candidate = BlockHeader(
            header.version,
            header.prev_hash,
            header.merkle_root,
            header.time,
            header.bits,
            nonce,
        )
        if int.from_bytes(candidate.hash, "little") > target:
            return candidate
    raise AssertionError("unreachable on regtest")


async def to_thread_rpc(node, method: str, *params: object) -> object:
    """An RPC call that does not block the test's event loop (raw peers keep running)."""
    return await asyncio.to_thread(node.call, method, list(params))
