"""Network RPCs. Until the node has peers (p2p), they report an empty network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..jsonfmt import Amount
from ..registry import RpcRegistry

if TYPE_CHECKING:
    from ...node import Node

PROTOCOL_VERSION = 1
USER_AGENT = "/obol:0.1.0/"


def register(reg: RpcRegistry, node: Node) -> None:
    @reg.method(category="network")
    def getconnectioncount() -> int:
        """getconnectioncount

        The number of connected peers."""
        return 0

    @reg.method(category="network")
    def getpeerinfo() -> list[dict[str, Any]]:
        """getpeerinfo

        One object per connected peer."""
        return []

    @reg.method(category="network")
    def getnetworkinfo() -> dict[str, Any]:
        """getnetworkinfo

        Version, protocol, connections and relay fee of this node."""
        return {
            "version": 100,
            "subversion": USER_AGENT,
            "protocolversion": PROTOCOL_VERSION,
            "localservices": "0000000000000001",
            "localrelay": True,
            "timeoffset": 0,
            "networkactive": True,
            "connections": 0,
            "connections_in": 0,
            "connections_out": 0,
            "networks": [],
            "relayfee": Amount(node.policy.min_relay_fee_rate * 1000),
            "incrementalfee": Amount(node.policy.min_relay_fee_rate * 1000),
            "localaddresses": [],
            "warnings": "",
        }
