"""The RPC methods, one module per Bitcoin Core category, registered in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import RpcRegistry
from . import (
    blockchain,
    blockstats,
    contracts,
    control,
    mining,
    network,
    policies,
    psbt,
    rawbuild,
    rawtransactions,
    util,
    wallet,
    walletextra,
)

if TYPE_CHECKING:
    from ...node import Node


def register_all(registry: RpcRegistry, node: Node) -> None:
    modules = (
        blockchain,
        blockstats,
        rawtransactions,
        rawbuild,
        mining,
        network,
        control,
        util,
        policies,
    )
    for module in (*modules, wallet, walletextra, psbt, contracts):
        module.register(registry, node)
