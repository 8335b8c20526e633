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


def imported_modules(
    path: Path, module: tuple[str, ...], runtime_only: bool = False
) -> set[tuple[int, str]]:
    """(line, dotted name) of every import of ours in the module at ``path``, whose dotted
    name is ``module`` (relative imports resolve against it). ``from a import b`` gives
    ``a.b`` when b is a module of ours, else ``a``. ``runtime_only`` leaves out the imports
    under ``if TYPE_CHECKING:``, which never run."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                typing_only |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = module[: max(len(module) - node.level, 0)] if node.level else ()
            parent = ".".join((*base, node.module) if node.module else base)
            names = []
            for alias in node.names:
                child = f"{parent}.{alias.name}" if parent else alias.name
                names.append(child if not parent or _is_module(child) else parent)
        else:
            continue
        found |= {(node.lineno, n) for n in names if n.split(".")[0] in OURS}
    return found


def _is_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_packages(path: Path, module: tuple[str, ...]) -> set[tuple[int, str]]:
    """(line, top-level package of ours) for every import in the module at ``path``."""
    return {(line, name.split(".")[0]) for line, name in imported_modules(path, module)}


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


def test_rpc_and_wallets_reach_the_node_only_through_their_protocols() -> None:
    """RPC methods are written against NodeServices, wallets against WalletHost: neither
    imports the concrete Node, not even for type checking."""
    wrong = [
        f"{path.relative_to(REPO)}:{line} imports {target}"
        for room in ("node/rpc", "node/wallets")
        for path, name in modules(room)
        for line, target in imported_modules(path, name)
        if target == "node.node"
    ]
    assert wrong == []


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while (w := stack.pop()) != v:
                part.append(w)
            if part:
                cycles.append(sorted([v, *part]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles() -> None:
    """No module of ours imports one that imports it back, at any depth, even inside a
    function (the old cli <-> localnet <-> wallet_cli): the rooms stay layered."""
    graph = {
        ".".join(name): {target for _, target in imported_modules(path, name, runtime_only=True)}
        for package in sorted(OURS)
        for path, name in modules(package)
    }
    graph = {m: {t for t in deps if t != m} for m, deps in graph.items()}
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]


MAX_FUNCTION_LINES = 80


def long_functions(path: Path) -> list[str]:
    """``name:line (N lines)`` of each function in ``path`` longer than the house limit,
    nested functions and methods included, decorators and docstring counted."""
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{node.name}:{node.lineno} ({length} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES
    ]


def test_no_shipped_function_is_over_80_lines() -> None:
    """A function the next person can read in one screen: longer ones are split into
    steps with names (Node.start's phases, the RPC method table, build_rows' parts)."""
    found = [
        f"{path.relative_to(REPO)}: {entry}"
        for package in sorted(OURS)
        for path, _ in modules(package)
        for entry in long_functions(path)
    ]
    assert found == []


def test_the_length_check_sees_a_long_method(tmp_path: Path) -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = tmp_path / "m.py"
    source.write_text(
        f"class A:\n    async def f(self):\n{body}\n\n    def g(self):\n        pass\n"
    )
    assert long_functions(source) == [f"f:2 ({MAX_FUNCTION_LINES + 1} lines)"]
