"""Bad peers against a real node: junk is dropped, and banned where Bitcoin Core would ban,
while the node keeps serving its honest peers and its state does not move."""

from __future__ import annotations

import asyncio
import os
import secrets

import aiohttp
import msgpack
import pytest

from consensus.encoding import decode_block
from consensus.params import DEVNET, REGTEST
from consensus.primitives import Block, Tx, TxIn, TxOut
from p2p.messages import (
    INV_BLOCK,
    INV_TX,
    MAX_FRAME_SIZE,
    MAX_HEADERS,
    BlockMsg,
    GetData,
    GetHeaders,
    Headers,
    Inv,
    InvItem,
    Ping,
    Pong,
)
from tests.chain_helpers import key, spend

from .framework import connect_nodes, disconnect_nodes, sync_blocks
from .p2p_helpers import RawPeer, bad_pow_header, next_block, to_thread_rpc
from .test_node_blockchain import MINER_ADDR, OTHER, coinbase_utxo


def _tip(node) -> tuple[str, int, int]:
    header = node.rpc.getblockheader(node.rpc.getbestblockhash())
    return header["hash"], header["height"], header["time"]


def _banned(node) -> set[str]:
    return {b["address"] for b in node.rpc.listbanned()}


async def _ping_rtts(peer: RawPeer, count: int, gap: float) -> list[float]:
    rtts = []
    loop = asyncio.get_running_loop()
    for n in range(count):
        started = loop.time()
        await peer.send(Ping(n))
        while True:
            msg = await peer.expect(Pong, timeout=10)
            if msg.nonce == n:
                break
        rtts.append(loop.time() - started)
        await asyncio.sleep(gap)
    return rtts


async def _flood(session: aiohttp.ClientSession, address: str, stop: asyncio.Event) -> None:
    """Reconnect and send junk (garbage, oversized frames) as fast as possible."""
    n = 0
    while not stop.is_set():
        n += 1
        peer = RawPeer(session, address)
        try:
            await peer.connect()
            junk = bytes(MAX_FRAME_SIZE + 1) if n % 5 == 0 else os.urandom(300)
            await peer.send_raw(junk)
            await peer.closed(timeout=2)
        except (aiohttp.ClientError, OSError, TimeoutError):
            await asyncio.sleep(0.01)
        finally:
            await peer.close()


async def _flood_after_handshake(session, address, stop: asyncio.Event) -> None:
    """A peer with a proven id that floods unknown commands, pings and inventory."""
    peer = await RawPeer(session, address).connect()
    try:
        await _flood_messages(peer, stop)
    finally:
        await peer.close()


async def _flood_messages(peer: RawPeer, stop: asyncio.Event) -> None:
    await peer.handshake()
    frames = [
        msgpack.packb([REGTEST.magic, "junk", [secrets.token_bytes(64)]], use_bin_type=True),
        msgpack.packb([REGTEST.magic, "ping", [1]], use_bin_type=True),
    ]
    while not stop.is_set():
        await peer.send_raw(frames[0])
        await peer.send_raw(frames[1])
        await peer.send(Inv(tuple(InvItem(INV_TX, secrets.token_bytes(32)) for _ in range(50))))
        await asyncio.sleep(0)


@pytest.mark.slow
async def test_bad_peers_are_dropped_and_banned_while_others_are_served(start_nodes):
    node, good = start_nodes(2, [["--no-wallet"], ["--no-wallet"]])
    connect_nodes(good, node)
    good.rpc.generatetoaddress(5, MINER_ADDR)
    sync_blocks([node, good])
    tip_hash, tip_height, tip_time = _tip(node)
    address = node.p2p_address
    loop = asyncio.get_running_loop()

    async with aiohttp.ClientSession() as session:
        # Connected but silent: dropped once the 10 s handshake deadline passes.
        silent = await RawPeer(session, address).connect()
        silent_since = loop.time()
        # Announces a block, then never sends it: dropped as a staller, 10 s after the
        # request, but not banned (a slow peer is not a malicious one).
        staller = await RawPeer(session, address).connect()
        await staller.handshake()
        announced = next_block(tip_hash, tip_height, tip_time)
        await staller.send(Headers((announced.header,)))
        request = await staller.expect(GetData)
        assert request.items == (InvItem(INV_BLOCK, announced.hash),)
        stalled_since = loop.time()

        # Before any handshake: garbage, a text frame, the wrong network, an oversized
        # frame. All dropped; none banned (a loopback peer without a proven id).
        garbage = await RawPeer(session, address).connect()
        await garbage.send_raw(b"\x00 this is not a message")
        text = await RawPeer(session, address).connect()
        assert text.ws is not None
        await text.ws.send_str("hello")
        devnet = await RawPeer(session, address, magic=DEVNET.magic).connect()
        await devnet.send(devnet.version())
        wrong_net = await RawPeer(session, address, network="devnet").connect()
        await wrong_net.send(wrong_net.version())
        big = await RawPeer(session, address).connect()
        await big.send_raw(bytes(MAX_FRAME_SIZE + 1))
        for peer in (garbage, text, devnet, wrong_net, big):
            assert await peer.closed(), peer
        assert await to_thread_rpc(node, "listbanned") == []

        # After a handshake each of these costs a ban of the peer's node id.
        banned = []

        async def bad_pow(peer: RawPeer) -> None:
            header = bad_pow_header(next_block(tip_hash, tip_height, tip_time).header)
            await peer.send(Headers((header,)))

        async def too_many_headers(peer: RawPeer) -> None:
            header = next_block(tip_hash, tip_height, tip_time).header.serialize()
            payload = [[header] * (MAX_HEADERS + 1)]
            await peer.send_raw(msgpack.packb([REGTEST.magic, "headers", payload]))

        async def unrequested_block(peer: RawPeer) -> None:
            await peer.send(BlockMsg(next_block(tip_hash, tip_height, tip_time)))

        async def invalid_block(peer: RawPeer) -> None:
            # The tx spends a coin that does not exist: a consensus failure of the block.
            ghost = Tx(
                1,
                (TxIn(secrets.token_bytes(32), 0, key(8).pubkey, bytes(64)),),
                (TxOut(10**8, OTHER.lock),),
                0,
            )
            block = next_block(tip_hash, tip_height, tip_time, (ghost,))
            await peer.send(Headers((block.header,)))
            request = await peer.expect(GetData)
            assert request.items == (InvItem(INV_BLOCK, block.hash),)
            await peer.send(BlockMsg(block))

        for misbehave in (bad_pow, too_many_headers, unrequested_block, invalid_block):
            peer = await RawPeer(session, address).connect()
            await peer.handshake()
            await misbehave(peer)
            assert await peer.closed(), misbehave.__name__
            banned.append(f"node:{peer.node_id_hex}")
        assert set(banned) <= _banned(node)
        for entry in node.rpc.listbanned():
            assert entry["ban_duration"] == 24 * 3600
            assert 0 < entry["time_remaining"] <= 24 * 3600
            assert entry["banned_until"] == entry["ban_created"] + entry["ban_duration"]

        # A banned node id is refused at its version.
        again = await RawPeer(session, address, node_key=peer.key).connect()
        await again.send(again.version())
        assert await again.closed()

        # A junk flood: a good peer's pings are still answered within 2 s.
        honest = await RawPeer(session, address).connect()
        await honest.handshake()
        stop = asyncio.Event()
        flooders = [
            asyncio.create_task(_flood(session, address, stop)),
            asyncio.create_task(_flood(session, address, stop)),
            asyncio.create_task(_flood_after_handshake(session, address, stop)),
        ]
        await asyncio.sleep(0.3)
        rtts = await _ping_rtts(honest, 25, 0.1)
        stop.set()
        await asyncio.gather(*flooders, return_exceptions=True)
        assert max(rtts) < 2.0, rtts

        # The honest raw peer is still served: headers on request.
        await honest.send(GetHeaders((), bytes(32)))
        reply = await honest.expect(Headers)
        assert len(reply.headers) == tip_height
        await honest.close()

        # The silent connection went at the handshake deadline, the staller at the stall
        # timeout, not before.
        assert await silent.closed(timeout=20)
        waited = loop.time() - silent_since
        assert 9.5 <= waited <= 16, waited
        assert await staller.closed(timeout=20)
        waited = loop.time() - stalled_since
        assert 9.5 <= waited <= 16, waited
        assert f"node:{staller.node_id_hex}" not in _banned(node)

    # Nothing of it reached the chain or the mempool; the honest node is still served.
    assert node.rpc.getbestblockhash() == tip_hash
    assert node.rpc.getrawmempool() == []
    assert good.rpc.getconnectioncount() == 1
    good.rpc.generatetoaddress(1, MINER_ADDR)
    sync_blocks([node, good])
    node.rpc.clearbanned()
    assert node.rpc.listbanned() == []


async def test_mutated_block_is_refused_but_the_real_one_is_accepted(start_nodes):
    node, miner = start_nodes(2, [["--no-wallet"], ["--no-wallet"]])
    connect_nodes(miner, node)
    miner.rpc.generatetoaddress(101, MINER_ADDR)
    sync_blocks([node, miner])
    disconnect_nodes(miner, node)

    tx = spend([coinbase_utxo(miner, 1)], [(10**8, OTHER.lock), (48 * 10**8, key(9).lock)])
    miner.rpc.sendrawtransaction(tx.serialize().hex())
    (block_hash,) = miner.rpc.generatetoaddress(1, MINER_ADDR)
    block = decode_block(bytes.fromhex(miner.rpc.getblock(block_hash, 0)))
    assert tx.txid_hex in miner.rpc.getblock(block_hash)["tx"]

    # Same header (so same hash and merkle root), but the spend's signature is broken: the
    # txid does not cover signatures, the merkle root (over wtxids) does.
    good_tx = block.txs[1]
    broken_in = good_tx.inputs[0]
    bad_sig = bytes([broken_in.sig[0] ^ 1]) + broken_in.sig[1:]
    broken = Tx(
        good_tx.version,
        (TxIn(broken_in.prev_txid, broken_in.prev_index, broken_in.pubkey, bad_sig),),
        good_tx.outputs,
        good_tx.locktime,
    )
    mutated = Block(block.header, (block.txs[0], broken))
    assert mutated.hash == block.hash and broken.txid == good_tx.txid
    assert broken.wtxid != good_tx.wtxid

    async with aiohttp.ClientSession() as session:
        peer = await RawPeer(session, node.p2p_address).connect()
        await peer.handshake()
        await peer.send(Headers((block.header,)))
        request = await peer.expect(GetData)
        assert request.items == (InvItem(INV_BLOCK, block.hash),)
        await peer.send(BlockMsg(mutated))
        assert await peer.closed()
    assert f"node:{peer.node_id_hex}" in _banned(node)
    assert node.rpc.getblockcount() == 101
    tips = {t["hash"]: t["status"] for t in node.rpc.getchaintips()}
    assert tips.get(block_hash) != "invalid"

    # The real block, from an honest peer, is accepted.
    connect_nodes(node, miner)
    sync_blocks([node, miner])
    assert node.rpc.getbestblockhash() == block_hash
    assert node.rpc.getrawtransaction(tx.txid_hex, True)["blockhash"] == block_hash
