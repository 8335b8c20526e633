"""The fuzz targets in the suite: every committed corpus input (seeds, inputs that reached
new code, and any crash found, kept as a regression) replays cleanly, and each target
survives a short coverage-guided run (longer runs: ./scripts/fuzz TARGET SECONDS)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_corpus_replays_cleanly(name: str) -> None:
    inputs = sorted((CORPUS / name).iterdir())
    assert inputs, f"no corpus for {name}"
    for path in inputs:
        TARGETS[name](path.read_bytes())


@pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None, reason="atheris is not installed here"
)
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_short_guided_run_finds_no_crash(name: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.run",
            name,
            "-runs=2000",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
            str(tmp_path),  # new inputs go here, not into the committed corpus
            str(CORPUS / name),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
