"""README's escrow and loan walkthrough, run as written against `obol localnet`.

The two ``sh`` blocks of the "Contracts" section run in one bash session, with ``obol``
on the PATH and the network found through ``$OBOL_LOCALNET``. A step may run before the
tx of the previous one reached its node (or was mined, for a coin it spends): ``obol``
is wrapped to retry a failed command until a deadline. A failed command changes nothing
and prints nothing on stdout, so a retry is the step as written, run later.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .framework import ROOT
from .test_localnet import Localnet, wait_ready

RETRY = """
obol() {
    local deadline=$((SECONDS + 90))
    until command obol "$@"; do
        if (( SECONDS > deadline )); then return 1; fi
        sleep 0.5
    done
}
set -euo pipefail
"""


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Contracts: escrow and loans", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "the Contracts section has an escrow and a loan block"
    return "\n".join(blocks)


def test_readme_contract_walkthrough_runs_as_written(tmp_path):
    net = Localnet(tmp_path / "localnet", "regtest", "--block-interval", "1")
    try:
        wait_ready(net, 102)
        env = {
            **os.environ,
            "OBOL_LOCALNET": str(net.dir),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
        }
        done = subprocess.run(
            ["bash", "-c", RETRY + walkthrough()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert re.search(r"^escrow \S+: released$", out, re.M), out
        assert "signed by buyer and seller" in out
        assert re.search(r"^loan \S+: open$", out, re.M), out
        assert re.search(r"^loan \S+: repaid$", out, re.M), out
    finally:
        net.stop()
