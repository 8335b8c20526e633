"""The RPC methods, one module per Bitcoin Core category, each a table of top-level
functions over ``NodeServices``, registered in one call."""

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
    from ..services import NodeServices

MODULES = (
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
    wallet,
    walletextra,
    psbt,
    contracts,
    crowdfund,
)


def register_all(registry: RpcRegistry, services: NodeServices) -> None:
    for module in MODULES:
        module.rpc.install(registry, services)
