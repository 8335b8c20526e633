"""The RPC methods, one module per Bitcoin Core category, registered in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import RpcRegistry
from . import blockchain, control, mining, network, policies, rawtransactions, wallet

if TYPE_CHECKING:
    from ...node import Node


def register_all(registry: RpcRegistry, node: Node) -> None:
    for module in (blockchain, rawtransactions, mining, network, control, policies, wallet):
        module.register(registry, node)
