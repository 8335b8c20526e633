"""One ``Peer`` over a real in-process WebSocket (port 0): the handshake and its proof,
timeouts, ping, the send buffer limit and a clean close with a reason."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

import aiohttp
import pytest
from aiohttp import web

from consensus.params import REGTEST
from p2p.config import P2PSettings
from p2p.identity import NodeKey
from p2p.messages import (
    INV_TX,
    PROTOCOL_VERSION,
    GetAddr,
    GetData,
    InvItem,
    Message,
    Ping,
    Pong,
    Verack,
    Version,
    decode_frame,
    encode_frame,
)
from p2p.peer import Peer, PeerClosed

MAGIC = REGTEST.magic
FAST = P2PSettings(handshake_timeout=2.0, ping_interval=0.1, ping_timeout=0.5, close_timeout=0.5)


@dataclass
class Handler:
    """A stand-in peer manager that records what the peer reports."""

    key: NodeKey = field(default_factory=NodeKey.generate)
    messages: list[Message] = field(default_factory=list)
    handshakes: list[Peer] = field(default_factory=list)
    misbehaving: list[tuple[int, str]] = field(default_factory=list)

    def our_version(self, peer: Peer, nonce: int) -> Version:
        return Version(
            PROTOCOL_VERSION, "regtest", self.key.node_id, nonce, 0, bytes(32), "/t/", 0, 1
        )

    def on_version(self, peer: Peer, msg: Version) -> None:
        if msg.node_id == self.key.node_id:
            raise PeerClosed("connected to self")

    def on_handshake(self, peer: Peer) -> None:
        self.handshakes.append(peer)

    def expects(self, peer: Peer, kind: type[Message]) -> bool:
        return False

    async def on_message(self, peer: Peer, msg: Message) -> None:
        self.messages.append(msg)

    def on_misbehaving(self, peer: Peer, score: int, reason: str) -> None:
        self.misbehaving.append((score, reason))
        peer.disconnect(f"misbehaving: {reason}")


@dataclass
class Server:
    url: str
    handler: Handler
    reasons: asyncio.Queue[str]
    peers: list[Peer]


def make_peer(ws, handler: Handler, inbound: bool, settings: P2PSettings) -> Peer:
    return Peer(
        ws,
        handler,
        peer_id=1,
        inbound=inbound,
        host="127.0.0.1",
        port=1,
        addrbind="127.0.0.1:2",
        connection_type="inbound" if inbound else "manual",
        magic=MAGIC,
        network="regtest",
        node_key=handler.key,
        settings=settings,
    )


@contextlib.asynccontextmanager
async def serve(settings: P2PSettings = FAST) -> AsyncIterator[Server]:
    handler = Handler()
    reasons: asyncio.Queue[str] = asyncio.Queue()
    peers: list[Peer] = []

    async def accept(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=settings.max_frame_size, timeout=0.5)
        await ws.prepare(request)
        peer = make_peer(ws, handler, True, settings)
        peers.append(peer)
        await reasons.put(await peer.run())
        return ws

    app = web.Application()
    app.router.add_get("/p2p", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Server(f"ws://127.0.0.1:{port}/p2p", handler, reasons, peers)
    finally:
        for peer in peers:
            peer.disconnect("test over")
        await runner.cleanup()


async def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_handshake_messages_and_a_clean_close() -> None:
    async with serve() as server, aiohttp.ClientSession() as session:
        client = Handler()
        ws = await session.ws_connect(server.url)
        peer = make_peer(ws, client, False, FAST)
        task = asyncio.create_task(peer.run())
        await wait_for(lambda: bool(client.handshakes and server.handler.handshakes))
        inbound = server.handler.handshakes[0]
        assert peer.node_id == server.handler.key.node_id
        assert inbound.node_id == client.key.node_id
        assert inbound.version is not None and inbound.version.nonce == peer.local_nonce

        peer.send_nowait(GetAddr())
        await wait_for(lambda: server.handler.messages == [GetAddr()])
        await wait_for(lambda: peer.ping_time is not None and inbound.ping_time is not None)
        assert peer.sent_per_msg["getaddr"] > 0 and inbound.recv_per_msg["getaddr"] > 0

        peer.disconnect("done here")
        assert await task == "done here"
        assert await asyncio.wait_for(server.reasons.get(), 3) == "closed by the peer"


async def test_no_handshake_in_time() -> None:
    async with serve(replace(FAST, handshake_timeout=0.3)) as server:
        async with aiohttp.ClientSession() as session, session.ws_connect(server.url):
            reason = await asyncio.wait_for(server.reasons.get(), 3)
        assert reason == "no handshake within 0.3 s"


async def _raw_handshake(ws, key: NodeKey, prove_with: NodeKey | None = None) -> None:
    nonce = secrets.randbits(64)
    version = Version(PROTOCOL_VERSION, "regtest", key.node_id, nonce, 0, bytes(32), "/raw/", 0, 1)
    await ws.send_bytes(encode_frame(MAGIC, version))
    theirs = decode_frame((await ws.receive()).data, MAGIC)
    assert isinstance(theirs, Version)
    await ws.send_bytes(encode_frame(MAGIC, Verack((prove_with or key).prove(MAGIC, theirs.nonce))))


async def test_a_verack_must_prove_the_node_id() -> None:
    async with serve() as server, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        await _raw_handshake(ws, NodeKey.generate(), prove_with=NodeKey.generate())
        reason = await asyncio.wait_for(server.reasons.get(), 3)
        assert reason == "verack does not prove the node id of the version"
        assert server.handler.handshakes == []


async def test_unanswered_pings_time_out() -> None:
    async with serve() as server, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        await _raw_handshake(ws, NodeKey.generate())
        reason = await asyncio.wait_for(server.reasons.get(), 3)
        assert reason == "ping timeout: no pong within 0.5 s"
        await ws.close()


async def test_answered_pings_keep_the_connection() -> None:
    async with serve() as server, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        await _raw_handshake(ws, NodeKey.generate())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.2  # more than two ping timeouts
        while loop.time() < deadline:
            msg = await ws.receive(timeout=2)
            decoded = decode_frame(msg.data, MAGIC)
            if isinstance(decoded, Ping):
                await ws.send_bytes(encode_frame(MAGIC, Pong(decoded.nonce)))
        assert server.reasons.empty()
        assert server.peers[0].min_ping is not None
        await ws.close()


async def test_a_peer_that_does_not_read_is_dropped() -> None:
    settings = replace(FAST, send_buffer_soft=1000, send_buffer_hard=4000, ping_interval=60.0)
    async with serve(settings) as server, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        await _raw_handshake(ws, NodeKey.generate())
        await wait_for(lambda: bool(server.handler.handshakes))
        peer = server.handler.handshakes[0]
        items = tuple(InvItem(INV_TX, secrets.token_bytes(32)) for _ in range(100))
        for _ in range(3):  # nothing awaited in between: the writer cannot drain the queue
            peer.send_nowait(GetData(items))
        assert peer.close_reason == "send buffer full: the peer is not reading"
        await ws.close()


async def test_junk_is_misbehaviour_and_a_wrong_magic_a_disconnect() -> None:
    async with serve() as server, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        await ws.send_bytes(b"\x93 junk")
        assert await asyncio.wait_for(server.reasons.get(), 3) == (
            "misbehaving: malformed frame: frame: not a [magic, command, payload] array"
        )
        ws = await session.ws_connect(server.url)
        await ws.send_bytes(encode_frame(b"xxxx", Ping(1)))
        assert await asyncio.wait_for(server.reasons.get(), 3) == "wrong network magic b'xxxx'"
        assert [score for score, _ in server.handler.misbehaving] == [100]


@pytest.mark.parametrize("network", ["devnet", "other"])
async def test_wrong_network_in_version(network: str) -> None:
    async with serve() as server, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        key = NodeKey.generate()
        version = Version(PROTOCOL_VERSION, network, key.node_id, 1, 0, bytes(32), "/x/", 0, 1)
        await ws.send_bytes(encode_frame(MAGIC, version))
        reason = await asyncio.wait_for(server.reasons.get(), 3)
        assert reason == f"wrong network: peer is on {network!r}"
