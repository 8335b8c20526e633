"""localnet's process checks: a zombie is gone, a process runs while any thread does, and a
node keeps its ports."""

from __future__ import annotations

import platform
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


# The main thread leaves with the exit system call (not exit_group, which Python's exit
# makes, ending every thread) while another thread sleeps on: the main thread is a zombie
# and the process still runs.
_SYS_EXIT = {"x86_64": 60, "aarch64": 93}.get(platform.machine())
LEADER_EXITS_FIRST = """
import ctypes, sys, threading, time
threading.Thread(target=time.sleep, args=(float(sys.argv[1]),)).start()
ctypes.CDLL(None).syscall(int(sys.argv[2]), 0)
"""


@pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or _SYS_EXIT is None, reason="needs Linux /proc"
)
def test_a_process_whose_main_thread_exited_runs_while_another_thread_does():
    proc = subprocess.Popen([sys.executable, "-c", LEADER_EXITS_FIRST, "2.0", str(_SYS_EXIT)])
    try:
        stat = Path(f"/proc/{proc.pid}/stat")
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)  # the main thread is gone; the sleeper is not
        assert alive(proc.pid) is True
        while len(list(Path(f"/proc/{proc.pid}/task").iterdir())) > 1:
            time.sleep(0.01)
        assert alive(proc.pid) is False
    finally:
        proc.wait()


def test_a_node_keeps_its_ports_while_they_are_free(tmp_path):
    first = node_ports(tmp_path)
    assert node_ports(tmp_path) == first
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first[0]))
        taken.listen()
        rpc, p2p = node_ports(tmp_path)
    assert rpc != first[0] and p2p == first[1]
