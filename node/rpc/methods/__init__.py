"""The RPC methods, one module per Bitcoin Core category, registered in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import RpcRegistry
from . import (
    blockchain,
    blockstats,
    contracts,
    control,
    crowdfund,
    export,
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
        export,
    )
    for module in (*modules, wallet, walletextra, psbt, contracts, crowdfund):
        module.register(registry, node)
