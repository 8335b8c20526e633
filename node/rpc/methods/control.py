"""Control RPCs: stop, uptime, setmocktime, getmemoryinfo, logging-free basics."""

from __future__ import annotations

import resource
import time
from typing import TYPE_CHECKING, Any

from ..errors import RPC_METHOD_NOT_FOUND, RpcError
from ..params import as_int
from ..registry import MethodTable

if TYPE_CHECKING:
    from ..services import NodeServices


rpc = MethodTable()


@rpc.method(category="control")
def stop(node: NodeServices, /) -> str:
    """stop

    Shut the node down cleanly."""
    node.request_stop()
    return "obol server stopping"


@rpc.method(category="control")
def uptime(node: NodeServices, /) -> int:
    """uptime

    Seconds since the node started."""
    return int(time.monotonic() - node.started_at)


@rpc.method(category="control")
def getmemoryinfo(node: NodeServices, /) -> dict[str, Any]:
    """getmemoryinfo

    Peak resident memory of the node process, in bytes."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"locked": {"used": 0, "free": 0, "total": 0}, "peak_rss": peak_kb * 1024}


@rpc.method(category="hidden")
def setmocktime(node: NodeServices, /, timestamp: Any) -> None:
    """setmocktime timestamp

    regtest only: fix the node's clock at timestamp (0 returns to the real clock)."""
    if node.params.name != "regtest":
        raise RpcError(RPC_METHOD_NOT_FOUND, "setmocktime is for regression testing (regtest) only")
    node.clock.set_mocktime(as_int(timestamp, "timestamp", 0, 0xFFFFFFFF))
