"""A fresh devnet node mining with one worker settles near its 10 s spacing within
minutes: the mean interval of blocks 60-80 after start, timed on a real node as they
arrive (the issue's target is 7-13 s; the bound here is relaxed for a loaded machine)."""

from __future__ import annotations

import time

import pytest

from consensus.address import encode_address
from consensus.params import DEVNET
from tests.chain_helpers import key

from .framework import wait_until


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_devnet_blocks_60_to_80_come_about_ten_seconds_apart(start_nodes):
    address = encode_address(key(19).lock, DEVNET)
    (node,) = start_nodes(1, [["--mine", address, "--mine-workers", "1"]], network="devnet")
    seen = {}
    for height in (60, 80):
        wait_until(lambda h=height: node.rpc.getblockcount() >= h, timeout=1200, interval=0.25)
        seen[height] = time.monotonic()
    mean = (seen[80] - seen[60]) / 20
    print(f"devnet: mean interval of blocks 60-80 {mean:.1f} s")
    assert 5 <= mean <= 16
