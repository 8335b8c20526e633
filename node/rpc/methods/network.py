"""Network RPCs with Bitcoin Core's names, arguments, fields and error codes.

getpeerinfo adds two fields Core does not have: ``node_id`` (the peer's proved Ed25519 node
id, hex) and ``banscore`` (its misbehaviour score; Core dropped the field in v22).
getnetworkinfo adds ``node_id``, this node's own. Bans take an IP or subnet as in Core, or
``node:<hex node id>``: that is how peers on loopback are banned (see p2p/banlist.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p2p.banlist import Ban
from p2p.config import USER_AGENT, version_number
from p2p.manager import (
    AlreadyAdded,
    AlreadyBanned,
    NotAdded,
    NotBanned,
    PeerManager,
    network_name,
)
from p2p.messages import PROTOCOL_VERSION
from p2p.peer import Peer

from ..errors import (
    RPC_CLIENT_INVALID_IP_OR_SUBNET,
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_CLIENT_NODE_NOT_CONNECTED,
    RPC_CLIENT_P2P_DISABLED,
    RPC_INVALID_PARAMETER,
    RpcError,
)
from ..jsonfmt import Amount
from ..params import as_bool, as_int, as_str
from ..registry import MethodTable

if TYPE_CHECKING:
    from ..services import NodeServices

SERVICES = "0000000000000001"  # NODE_NETWORK: every obol node serves the whole chain
SERVICE_NAMES = ["NETWORK"]


rpc = MethodTable()


def p2p(node: NodeServices, /) -> PeerManager:
    if node.p2p is None:
        raise RpcError(
            RPC_CLIENT_P2P_DISABLED, "Error: Peer-to-peer functionality missing or disabled"
        )
    return node.p2p


def peer_json(node: NodeServices, /, peer: Peer) -> dict[str, Any]:
    manager = p2p(node)
    version = peer.version
    assert version is not None
    blocks = manager.sync.peer_state(peer.id)
    txs = manager.relay.peer_state(peer.id)
    addrs = manager.addr_stats(peer.id)
    inflight = []
    if blocks is not None:
        for block_hash in blocks.in_flight:
            entry = node.chain.index.get(block_hash)
            if entry is not None:
                inflight.append(entry.height)
    best = blocks.best_known if blocks is not None else None
    info: dict[str, Any] = {
        "id": peer.id,
        "addr": peer.addr,
        "addrbind": peer.addrbind,
        "network": network_name(peer.host),
        "services": SERVICES,
        "servicesnames": SERVICE_NAMES,
        "relaytxes": True,
        "lastsend": peer.last_send,
        "lastrecv": peer.last_recv,
        "last_transaction": txs.last_tx_time if txs is not None else 0,
        "last_block": blocks.last_block_time if blocks is not None else 0,
        "bytessent": peer.bytes_sent,
        "bytesrecv": peer.bytes_recv,
        "conntime": peer.conntime,
        "timeoffset": version.time - peer.conntime,
    }
    if peer.ping_time is not None:
        info["pingtime"] = round(peer.ping_time, 6)
    if peer.min_ping is not None:
        info["minping"] = round(peer.min_ping, 6)
    wait = peer.ping_wait
    if wait is not None:
        info["pingwait"] = round(wait, 6)
    info.update(
        {
            "version": version.protocol_version,
            "subver": version.user_agent,
            "inbound": peer.inbound,
            "bip152_hb_to": False,
            "bip152_hb_from": False,
            "startingheight": version.best_height,
            "presynced_headers": -1,
            "synced_headers": best.height if best is not None else -1,
            "synced_blocks": blocks.common_height if blocks is not None else -1,
            "inflight": sorted(inflight),
            "addr_relay_enabled": True,
            "addr_processed": addrs.processed if addrs is not None else 0,
            "addr_rate_limited": addrs.rate_limited if addrs is not None else 0,
            "permissions": [],
            "minfeefilter": Amount(0),
            "bytessent_per_msg": dict(sorted(peer.sent_per_msg.items())),
            "bytesrecv_per_msg": dict(sorted(peer.recv_per_msg.items())),
            "connection_type": peer.connection_type,
            "banscore": peer.misbehavior,
            "node_id": peer.node_id.hex() if peer.node_id is not None else "",
        }
    )
    return info


@rpc.method(category="network")
def getconnectioncount(node: NodeServices, /) -> int:
    """getconnectioncount

    The number of connected peers (past the handshake)."""
    return len(p2p(node).connected_peers())


@rpc.method(category="network")
def getpeerinfo(node: NodeServices, /) -> list[dict[str, Any]]:
    """getpeerinfo

    One object per connected peer, with Bitcoin Core's fields."""
    return [peer_json(node, p) for p in p2p(node).connected_peers()]


@rpc.method(category="network")
def addnode(services: NodeServices, /, node: Any, command: Any) -> None:
    """addnode "node" "command"

    Keep a peer connected ("add"), stop doing so ("remove"), or dial it once ("onetry").
    The node is host:port, [ipv6]:port, or a host on the network's default port."""
    target = as_str(node)
    cmd = as_str(command)
    if cmd not in ("add", "remove", "onetry"):
        raise RpcError(RPC_INVALID_PARAMETER, f"Invalid command {cmd!r}: add, remove or onetry")
    try:
        p2p(services).add_node(target, cmd)
    except AlreadyAdded as exc:
        raise RpcError(RPC_CLIENT_NODE_ALREADY_ADDED, str(exc)) from exc
    except NotAdded as exc:
        raise RpcError(RPC_CLIENT_NODE_NOT_ADDED, str(exc)) from exc
    except ValueError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, f"Invalid node address: {exc}") from exc


@rpc.method(category="network")
def getaddednodeinfo(services: NodeServices, /, node: Any = None) -> list[dict[str, Any]]:
    """getaddednodeinfo ( "node" )

    The nodes added with addnode add or --connect, and whether each is connected."""
    wanted = None if node is None else as_str(node)
    out = []
    for target, peer in p2p(services).added_nodes():
        if wanted is not None and target != wanted:
            continue
        addresses = []
        if peer is not None:
            addresses.append({"address": peer.addr, "connected": "outbound"})
        out.append({"addednode": target, "connected": peer is not None, "addresses": addresses})
    if wanted is not None and not out:
        raise RpcError(RPC_CLIENT_NODE_NOT_ADDED, "Error: Node has not been added.")
    return out


@rpc.method(category="network")
def disconnectnode(node: NodeServices, /, address: Any = None, nodeid: Any = None) -> None:
    """disconnectnode ( "address" nodeid )

    Disconnect the peer with this address (as getpeerinfo's addr) or this id."""
    has_address = address not in (None, "")
    if has_address == (nodeid is not None):
        raise RpcError(RPC_INVALID_PARAMETER, "Only one of address and nodeid should be provided.")
    if has_address:
        found = p2p(node).disconnect_node(address=as_str(address))
    else:
        found = p2p(node).disconnect_node(peer_id=as_int(nodeid, "nodeid"))
    if not found:
        raise RpcError(RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes")


@rpc.method(category="network")
def getnetworkinfo(node: NodeServices, /) -> dict[str, Any]:
    """getnetworkinfo

    Version, protocol, connections and relay fee of this node."""
    manager = p2p(node)
    peers = manager.connected_peers()
    inbound = sum(p.inbound for p in peers)
    local = []
    if manager.listen_port:
        local.append({"address": manager.config.bind, "port": manager.listen_port, "score": 1})
    return {
        "version": version_number(),
        "subversion": USER_AGENT,
        "protocolversion": PROTOCOL_VERSION,
        "localservices": SERVICES,
        "localservicesnames": SERVICE_NAMES,
        "localrelay": True,
        "timeoffset": 0,
        "networkactive": manager.network_active,
        "connections": len(peers),
        "connections_in": inbound,
        "connections_out": len(peers) - inbound,
        "networks": [
            {
                "name": name,
                "limited": False,
                "reachable": True,
                "proxy": "",
                "proxy_randomize_credentials": False,
            }
            for name in ("ipv4", "ipv6")
        ],
        "relayfee": Amount(node.policy.min_relay_fee_rate * 1000),
        "incrementalfee": Amount(node.policy.incremental_relay_fee_rate * 1000),
        "localaddresses": local,
        "warnings": "",
        "node_id": manager.node_id.hex(),
    }


@rpc.method(category="network")
def setnetworkactive(node: NodeServices, /, state: Any) -> bool:
    """setnetworkactive state

    Disable (false) or enable (true) all peer-to-peer activity."""
    active = as_bool(state)
    p2p(node).set_network_active(active)
    return active


@rpc.method(category="network")
def setban(
    node: NodeServices, /, subnet: Any, command: Any, bantime: Any = 0, absolute: Any = False
) -> None:
    """setban "subnet" "command" ( bantime absolute )

    Ban ("add") or unban ("remove") an IP or subnet (like 10.0.0.0/24), or a node id
    as node:<hex>. bantime is seconds (0: 24 hours), or a UNIX time if absolute."""
    text = as_str(subnet)
    cmd = as_str(command)
    if cmd not in ("add", "remove"):
        raise RpcError(RPC_INVALID_PARAMETER, f"Invalid command {cmd!r}: add or remove")
    try:
        if cmd == "add":
            seconds = as_int(bantime, "bantime", 0)
            p2p(node).set_ban(text, seconds or None, as_bool(absolute))
        else:
            p2p(node).unban(text)
    except ValueError as exc:
        raise RpcError(RPC_CLIENT_INVALID_IP_OR_SUBNET, "Error: Invalid IP/Subnet") from exc
    except (AlreadyBanned, NotBanned) as exc:
        raise RpcError(RPC_CLIENT_INVALID_IP_OR_SUBNET, str(exc)) from exc


def ban_json(ban: Ban, now: int) -> dict[str, Any]:
    return {
        "address": ban.subject,
        "ban_created": ban.created,
        "banned_until": ban.until,
        "ban_duration": ban.until - ban.created,
        "time_remaining": max(0, ban.until - now),
    }


@rpc.method(category="network")
def listbanned(node: NodeServices, /) -> list[dict[str, Any]]:
    """listbanned

    Every banned IP, subnet and node id, with when the ban ends."""
    now = node.clock.now()
    return [ban_json(b, now) for b in p2p(node).bans.entries()]


@rpc.method(category="network")
def clearbanned(node: NodeServices, /) -> None:
    """clearbanned

    Lift every ban."""
    p2p(node).bans.clear()


@rpc.method(category="network")
def getnodeaddresses(
    node: NodeServices, /, count: Any = 1, network: Any = None
) -> list[dict[str, Any]]:
    """getnodeaddresses ( count "network" )

    Up to count addresses (0: all) from the address book peers gossip into."""
    n = as_int(count, "count", 0)
    book = p2p(node).addrbook
    wanted = None if network is None else as_str(network)
    out = []
    for a in book.sample(n or len(book)):
        kind = "ipv6" if ":" in a.host else "ipv4"
        if wanted is None or wanted == kind:
            out.append(
                {
                    "time": a.time,
                    "services": 1,
                    "address": a.host,
                    "port": a.port,
                    "network": kind,
                }
            )
    return out
