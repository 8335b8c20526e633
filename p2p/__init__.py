"""obol's peer-to-peer layer: WebSockets, handshake, headers-first sync, relay.

It imports ``consensus`` and nothing else of ours; the node hands it what it needs in a
``config.PeerManagerConfig`` and calls ``PeerManager.on_chain_update`` and ``relay_txs``
when its chain or mempool changes.

Modules:

- ``messages``: the wire. One binary WebSocket frame per message, MessagePack
  ``[magic: bin4, command: str, payload: array]``, at most max block size + 4 KiB.
  Commands: version, verack, ping, pong, getaddr, addr, inv, getdata, notfound, tx,
  block, getheaders, headers.
- ``peer``: one connection (handshake within 10 s, pings, bounded send queue, close reason).
- ``manager``: listening, dialing, bans, addresses, message dispatch, the RPC-facing API.
- ``sync``: headers-first download from several peers, block announcements.
- ``relay``: tx announcements in batches, tx requests, orphans' parents.
- ``banlist``, ``addrbook``, ``identity``: bans, gossiped addresses, the node key.

Files in ``<datadir>/<network>``: ``nodekey`` (the Ed25519 seed behind the node id, mode
0600), ``banlist.json``, ``peers.json`` (address book), ``anchors.json`` (outbound peers
to redial after a restart).

Bans: a misbehaving peer (invalid header, block or tx, unrequested data, malformed or
oversized message) reaching 100 points is disconnected and banned for 24 hours: by IP, or,
for a peer on a loopback address, by its node id, since every node of a local network
shares 127.0.0.1 (see ``banlist``). Wrong network, self-connections, duplicates, stalls
and timeouts only disconnect.
"""
