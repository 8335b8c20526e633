"""Pinned genesis blocks, and the purity of ``consensus/``: no I/O, no clock, no upward
imports (the layout README.md describes)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import consensus
from consensus.builder import genesis_block
from consensus.coins import CoinViewCache, MemoryCoinView
from consensus.params import DEVNET, NETWORKS, REGTEST, NetworkParams
from consensus.validation import check_block, connect_block

GENESIS_HASHES = {
    "regtest": "6b09ec36f55cda7fe6defa58eb50dafd1e2797108a25af14e6f41b8cb7af101d",
    "devnet": "0000b80d146fed062e2698322e273e8c6c8ed3908161e1629318c64942f28dda",
}

CONSENSUS_DIR = Path(consensus.__file__).parent
REPO = CONSENSUS_DIR.parent
SOURCES = sorted(CONSENSUS_DIR.rglob("*.py"))
MODULES = sorted(
    "consensus" if p.name == "__init__.py" else f"consensus.{p.stem}"
    for p in SOURCES
    if p.parent == CONSENSUS_DIR
)

# Our other packages, I/O, clocks, randomness, concurrency, processes.
FORBIDDEN = {
    "node",
    "p2p",
    "wallet",
    "scripts",
    "asyncio",
    "socket",
    "socketserver",
    "ssl",
    "select",
    "selectors",
    "plyvel",
    "aiohttp",
    "time",
    "datetime",
    "calendar",
    "os",
    "subprocess",
    "threading",
    "multiprocessing",
    "concurrent",
    "random",
    "secrets",
    "urllib",
    "http",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "sqlite3",
    "dbm",
    "shelve",
    "pickle",
    "logging",
    "importlib",
    "signal",
    "requests",
}
FORBIDDEN_CALLS = {"open", "input", "print", "__import__", "eval", "exec"}


@pytest.mark.parametrize("params", [REGTEST, DEVNET], ids=lambda p: p.name)
def test_genesis_hash_is_pinned(params: NetworkParams) -> None:
    genesis = genesis_block(params)
    assert genesis.hash_hex == GENESIS_HASHES[params.name]
    assert genesis.header.prev_hash == bytes(32)
    assert genesis.header.bits == params.pow_limit_bits
    assert genesis.header.time == params.genesis_time
    check_block(genesis, params)


def test_every_network_has_a_pinned_genesis() -> None:
    assert set(NETWORKS) == set(GENESIS_HASHES)


def test_genesis_coinbase_connects_at_height_zero() -> None:
    for params in (REGTEST, DEVNET):
        genesis = genesis_block(params)
        cache = CoinViewCache(MemoryCoinView())
        assert connect_block(genesis, cache, 0, 0, params) == ()


def test_the_networks_do_not_share_a_genesis() -> None:
    assert genesis_block(REGTEST).hash != genesis_block(DEVNET).hash


def test_sources_found() -> None:
    names = {p.name for p in SOURCES}
    assert {"__init__.py", "validation.py", "encoding.py", "params.py"} <= names


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.append((node.lineno, node.module))
            elif node.level > 1:
                found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_forbidden_imports_or_calls(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = []
    for lineno, name in _imports(tree):
        top = name.split(".")[0]
        if name.startswith("..") or top in FORBIDDEN:  # "..x" would leave the package
            bad.append(f"line {lineno}: import {name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in FORBIDDEN_CALLS:
                bad.append(f"line {node.lineno}: call to {name}()")
    assert not bad, f"{path.name}: {bad}"


def test_checker_catches_violations() -> None:
    tree = ast.parse("import os\nfrom time import time\nfrom ..node import x\nopen('f')\n")
    assert [n for _, n in _imports(tree)] == ["os", "time", "..node"]
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert calls == ["open"]


def _loaded_by_importing(modules: list[str], preload: list[str]) -> list[str]:
    code = (
        "import sys\n"
        f"for m in {preload!r}: __import__(m)\n"
        "before = set(sys.modules)\n"
        f"for m in {modules!r}: __import__(m)\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return ast.literal_eval(out.strip())


def test_importing_consensus_loads_no_io_or_upper_layers() -> None:
    loaded = _loaded_by_importing(MODULES, preload=[])
    assert set(MODULES) <= set(loaded)
    upper = {"node", "p2p", "wallet", "asyncio", "plyvel", "aiohttp"}
    assert sorted(m for m in loaded if m.split(".")[0] in upper) == []


def test_consensus_itself_loads_nothing_forbidden() -> None:
    # The third-party libraries consensus builds on load what they load (gmpy2 pulls in
    # importlib.metadata, which imports socket); what consensus adds on top must be clean.
    third_party = ["msgpack", "nacl.bindings", "nacl.exceptions", "coincurve"]
    loaded = _loaded_by_importing(MODULES, preload=third_party)
    assert sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN) == []
    assert set(MODULES) <= set(loaded)
