"""The network RPCs, with Bitcoin Core's names, fields and error codes; one connection per
pair of nodes; no connection to oneself."""

from __future__ import annotations

from .framework import assert_raises_rpc_error, connect_nodes, node_id, peers_with, wait_until

PEERINFO_FIELDS = {
    "id",
    "addr",
    "addrbind",
    "network",
    "services",
    "servicesnames",
    "relaytxes",
    "lastsend",
    "lastrecv",
    "last_transaction",
    "last_block",
    "bytessent",
    "bytesrecv",
    "conntime",
    "timeoffset",
    "pingtime",
    "minping",
    "version",
    "subver",
    "inbound",
    "startingheight",
    "synced_headers",
    "synced_blocks",
    "inflight",
    "addr_processed",
    "addr_rate_limited",
    "permissions",
    "bytessent_per_msg",
    "bytesrecv_per_msg",
    "connection_type",
}


def test_network_rpcs(start_nodes):
    a, b, c = start_nodes(3, [["--no-wallet"]] * 3)
    a_id, b_id = node_id(a), node_id(b)

    # addnode add keeps b connected; the same node twice is -23, removing an unknown one -24
    a.rpc.addnode(b.p2p_address, "add")
    wait_until(lambda: peers_with(a, b_id))
    assert_raises_rpc_error(-23, None, a.rpc.addnode, b.p2p_address, "add")
    assert_raises_rpc_error(-24, None, a.rpc.addnode, "127.0.0.1:1", "remove")
    assert_raises_rpc_error(-8, None, a.rpc.addnode, b.p2p_address, "bogus")
    assert a.rpc.getaddednodeinfo()[0]["connected"] is True
    wait_until(lambda: "pingtime" in a.rpc.getpeerinfo()[0])
    (peer,) = a.rpc.getpeerinfo()
    assert peer.keys() >= PEERINFO_FIELDS
    assert peer["addr"] == b.p2p_address and peer["inbound"] is False
    assert peer["connection_type"] == "manual" and peer["node_id"] == b_id
    assert peer["network"] == "not_publicly_routable"
    assert peer["subver"] == "/obol:0.1.0/" and peer["version"] == 1
    assert peer["bytessent_per_msg"]["version"] > 0 and peer["bytesrecv_per_msg"]["verack"] > 0
    (back,) = b.rpc.getpeerinfo()
    assert back["inbound"] is True and back["connection_type"] == "inbound"
    assert back["node_id"] == a_id
    info = a.rpc.getnetworkinfo()
    assert (info["connections"], info["connections_in"], info["connections_out"]) == (1, 0, 1)
    assert info["networkactive"] is True and info["localaddresses"][0]["port"] == a.p2p_port
    assert b.rpc.getnetworkinfo()["connections_in"] == 1

    # An added node is redialed after a disconnect; a removed one is not.
    assert_raises_rpc_error(-29, None, a.rpc.disconnectnode, "127.0.0.1:1")
    assert_raises_rpc_error(-8, None, a.rpc.disconnectnode)
    a.rpc.disconnectnode(b.p2p_address)
    wait_until(lambda: any(p["id"] != peer["id"] for p in peers_with(a, b_id)))
    with a.assert_debug_log([f"no longer keeping a connection to {b.p2p_address}"]):
        a.rpc.addnode(b.p2p_address, "remove")
        a.rpc.disconnectnode("", peers_with(a, b_id)[0]["id"])
    assert a.rpc.getconnectioncount() == 0
    assert a.rpc.getaddednodeinfo() == []

    # No connection to oneself; one connection per pair, even when both dial.
    with a.assert_debug_log(["disconnected: connected to self"]):
        a.rpc.addnode(a.p2p_address, "onetry")
    connect_nodes(a, b)
    with a.assert_debug_log([f"duplicate connection to node {b_id[:16]}"]):
        connect_nodes(b, a)
    wait_until(lambda: len(a.rpc.getpeerinfo()) == 1 and len(b.rpc.getpeerinfo()) == 1)
    assert len(peers_with(a, b_id)) == 1 and len(peers_with(b, a_id)) == 1
    assert a.rpc.getconnectioncount() == 1

    # setnetworkactive
    assert a.rpc.setnetworkactive(False) is False
    wait_until(lambda: a.rpc.getconnectioncount() == 0 and b.rpc.getconnectioncount() == 0)
    assert a.rpc.getnetworkinfo()["networkactive"] is False
    with b.assert_debug_log([f"cannot connect to {a.p2p_address}"]):
        b.rpc.addnode(a.p2p_address, "onetry")
    assert a.rpc.getconnectioncount() == 0
    a.rpc.setnetworkactive(True)
    connect_nodes(a, b)

    # setban by node id drops the peer and refuses it; by IP refuses everyone from it
    a.rpc.setban(f"node:{b_id}", "add")
    wait_until(lambda: not peers_with(a, b_id))
    assert_raises_rpc_error(-30, None, a.rpc.setban, f"node:{b_id}", "add")
    with a.assert_debug_log(["disconnected: the node id is banned"]):
        b.rpc.addnode(a.p2p_address, "onetry")
    assert not peers_with(a, b_id)
    (ban,) = a.rpc.listbanned()
    assert ban["address"] == f"node:{b_id}"
    assert ban["ban_duration"] == 24 * 3600 and ban["time_remaining"] > 0
    connect_nodes(c, a)  # others are still welcome
    a.rpc.setban(f"node:{b_id}", "remove")
    assert_raises_rpc_error(-30, None, a.rpc.setban, f"node:{b_id}", "remove")
    assert_raises_rpc_error(-30, None, a.rpc.setban, "not an address", "add")
    a.rpc.setban("127.0.0.0/8", "add", 1000)
    wait_until(lambda: a.rpc.getconnectioncount() == 0)
    with a.assert_debug_log(["refused inbound connection from banned 127.0.0.1"]):
        b.rpc.addnode(a.p2p_address, "onetry")
    assert a.rpc.getconnectioncount() == 0
    (ban,) = a.rpc.listbanned()
    assert ban["address"] == "127.0.0.0/8" and ban["ban_duration"] == 1000
    a.rpc.clearbanned()
    assert a.rpc.listbanned() == []
    connect_nodes(b, a)

    # Bans survive a restart (banlist.json in the datadir).
    a.rpc.setban("10.1.2.3", "add", 2_000_000_000, True)
    a.restart()
    (ban,) = a.rpc.listbanned()
    assert ban["address"] == "10.1.2.3/32" and ban["banned_until"] == 2_000_000_000
