"""localnet's process checks: a zombie is gone, and a node keeps its ports."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.cli.localnet import alive, node_ports


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_an_exited_unreaped_child_is_not_alive():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{proc.pid}/stat")
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)  # wait for the exit; nothing reaps it meanwhile
        assert not alive(proc.pid)
    finally:
        proc.wait()
    assert alive(proc.pid) is False


def test_a_node_keeps_its_ports_while_they_are_free(tmp_path):
    first = node_ports(tmp_path)
    assert node_ports(tmp_path) == first
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first[0]))
        taken.listen()
        rpc, p2p = node_ports(tmp_path)
    assert rpc != first[0] and p2p == first[1]
