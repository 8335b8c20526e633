"""Fixtures for functional tests: ``start_nodes(n)`` starts n real node processes, stopped
afterwards; ``inprocess_node`` is a regtest node (no wallets) running in the test's own
event loop, for tests that drive it directly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from consensus.params import REGTEST
from node.config import NodeConfig
from node.node import Node

from .framework import TestNode


@pytest.fixture
async def inprocess_node(tmp_path: Path) -> AsyncIterator[Node]:
    config = NodeConfig(
        params=REGTEST, datadir=tmp_path / "data", rpc_port=0, p2p_port=0, wallet=False
    )
    node = Node(config)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


@pytest.fixture
def start_nodes(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., list[TestNode]]]:
    started: list[TestNode] = []

    def start(
        count: int = 1, extra_args: list[list[str]] | None = None, network: str = "regtest"
    ) -> list[TestNode]:
        new = []
        for i in range(count):
            args = extra_args[i] if extra_args else []
            node = TestNode(len(started), tmp_path, network, args)
            started.append(node)
            new.append(node)
        for node in new:
            node.start()
        return new

    yield start
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else False
    for node in started:
        if failed:
            print(f"\nnode{node.index} datadir kept at {node.datadir}\n{node.log_tail()}")
        try:
            node.stop()
        except Exception:
            node.kill()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
