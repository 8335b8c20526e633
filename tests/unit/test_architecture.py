"""The direction of imports README.md's architecture shows: consensus/ imports none of
ours; wallet/ and p2p/ import only consensus/ (and themselves); node/ composes them all.
Every import counts, at the top of a module or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = {"consensus", "wallet", "p2p", "node"}
ALLOWED = {
    "consensus": {"consensus"},
    "wallet": {"consensus", "wallet"},
    "p2p": {"consensus", "p2p"},
    "node": OURS,
}


def imported_packages(path: Path, module: tuple[str, ...]) -> set[tuple[int, str]]:
    """(line, top-level package of ours) for every import in the module at ``path``, whose
    dotted name is ``module`` (relative imports resolve against it)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = module[: max(len(module) - node.level, 0)] if node.level else ()
            heads = [node.module] if node.module else [alias.name for alias in node.names]
            names = [".".join((*base, head)) for head in heads]
        else:
            continue
        found |= {(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in OURS}
    return found


def modules(package: str) -> list[tuple[Path, tuple[str, ...]]]:
    """Each module of ``package`` with its dotted name (a package's __init__ is the
    package itself, so its relative imports resolve one level higher than a module's)."""
    out = []
    for path in sorted((REPO / package).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        out.append((path, (*parts[:-1], "__init__") if parts[-1] == "__init__" else parts))
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_layers(package: str) -> None:
    assert modules(package)
    wrong = [
        f"{path.relative_to(REPO)}:{line} imports {target}"
        for path, name in modules(package)
        for line, target in imported_packages(path, name)
        if target not in ALLOWED[package]
    ]
    assert wrong == []


def test_the_checker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import os\nfrom . import x\ndef f():\n    from node.cli import main\n"
        "from ..p2p import peer\nfrom .. import node\nimport msgpack\n"
    )
    found = imported_packages(source, ("wallet", "psbt"))
    assert found == {(2, "wallet"), (4, "node"), (5, "p2p"), (6, "node")}
