"""The relay's memory of confirmed and rejected txids, seen through what it asks peers
for: a txid it remembers is never requested; one it forgot is."""

from __future__ import annotations

from types import SimpleNamespace

from consensus.errors import RejectCode, RuleError
from p2p.config import P2PSettings
from p2p.messages import GetData
from p2p.relay import TxRelay

TXID = bytes(range(32))


class FakePeer:
    def __init__(self, peer_id: int) -> None:
        self.id = peer_id
        self.closing = False
        self.sent: list[object] = []

    def send_nowait(self, msg: object) -> None:
        self.sent.append(msg)


async def missing_inputs(tx: object) -> None:
    raise RuleError(RejectCode.TX_MISSING_OR_SPENT, "its inputs are not in the chain")


def relay_and_peer() -> tuple[TxRelay, FakePeer]:
    config = SimpleNamespace(
        settings=P2PSettings(),
        have_tx=lambda txid: False,
        mempool_txids=lambda: (),
        mempool_tx=lambda txid: None,
        submit_tx=missing_inputs,
        policy_error=ValueError,
        clock=lambda: 0,
    )
    peer = FakePeer(1)
    relay = TxRelay(config, {peer.id: peer}, lambda *args: None)
    relay.add_peer(peer)
    return relay, peer


def change(connected=(), disconnected=()) -> SimpleNamespace:
    return SimpleNamespace(connected=connected, disconnected=disconnected, invalid=())


def requested(peer: FakePeer) -> list[bytes]:
    return [item.hash for msg in peer.sent if isinstance(msg, GetData) for item in msg.items]


async def test_confirmed_txids_are_not_fetched_until_a_block_is_disconnected():
    relay, peer = relay_and_peer()
    block = SimpleNamespace(txs=(SimpleNamespace(txid=TXID),))
    relay.on_chain_update(change(connected=(block,)))
    relay.on_tx_inv(peer, [TXID])
    assert requested(peer) == []
    relay.on_chain_update(change(disconnected=(block,)))  # back to unconfirmed
    relay.on_tx_inv(peer, [TXID])
    assert requested(peer) == [TXID]


async def test_rejected_txids_are_not_fetched_again_until_the_tip_moves():
    relay, peer = relay_and_peer()
    relay.on_tx_inv(peer, [TXID])
    assert requested(peer) == [TXID]
    await relay.on_tx(peer, SimpleNamespace(tx=SimpleNamespace(txid=TXID, txid_hex="t")))
    relay.on_tx_inv(peer, [TXID])
    assert requested(peer) == [TXID]
    relay.on_chain_update(change(connected=(SimpleNamespace(txs=()),)))
    relay.on_tx_inv(peer, [TXID])
    assert requested(peer) == [TXID, TXID]
