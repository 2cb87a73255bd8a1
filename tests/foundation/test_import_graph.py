"""No import cycles in the nova_gate package (read with ``ast``, nothing is imported).

The rule: every import of a nova_gate module counts, wherever it stands — at module level, inside a
function (a "lazy" import only hides a cycle), under ``if TYPE_CHECKING:`` (a type that needs the
other module is a dependency on it) — and so does ``importlib.import_module("nova_gate....")`` with a
literal name. ``from nova_gate.x import y`` depends on ``nova_gate.x.y`` when that is a module, else on
``nova_gate.x``. Dynamic names (``import_module(f"...{name}")``, the sandbox's lazy registry) are
not edges: they name a plug-in, not a layer.

Two graphs: modules (no cycle at all), and packages (each package directory one node, each top-level
module its own): a backend package and the modules around it may not import each other both ways
(the fact types' home: a source and a rule meet in their backend package, not across two).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import nova_gate

PACKAGE = Path(nova_gate.__file__).resolve().parent

#: Package-level cycles known today, each for its owner to remove; the coordinator empties this list.
#: A listed cycle that no longer exists is simply not reported. None today.
KNOWN_PACKAGE_CYCLES: list[frozenset[str]] = []


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["nova_gate", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported nova_gate module, line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            if name == "nova_gate" or name.startswith("nova_gate."):
                target = _resolve(name)
                if target and target != module:
                    yield target, node.lineno


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}."""
    graph: dict[str, dict[str, int]] = {m: {} for m in MODULES}
    for module, path in MODULES.items():
        for target, line in _imports(module, path):
            graph[module].setdefault(target, line)
    return graph


def _package_of(module: str) -> str:
    path = MODULES[module]
    if path.name == "__init__.py" or path.parent == PACKAGE:
        return module  # a package's own __init__, or a top-level module
    return module.rpartition(".")[0]


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each as a list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(component: list[str], graph: dict[str, dict[str, int]], where: dict[tuple[str, str], str]) -> str:
    inside = set(component)
    edges = [f"{a} -> {b} ({where[(a, b)]})" for a in component for b in sorted(graph[a]) if b in inside]
    return " <-> ".join(component) + ":\n    " + "\n    ".join(edges)


def test_the_module_graph_has_no_cycle():
    graph = _graph()
    where = {(m, t): f"{MODULES[m].relative_to(PACKAGE.parent)}:{line}" for m in graph for t, line in graph[m].items()}
    cycles = _cycles(graph)
    assert not cycles, "import cycles in nova_gate:\n" + "\n".join(_describe(c, graph, where) for c in cycles)


def test_the_package_graph_has_no_cycle_but_the_listed_ones():
    modules = _graph()
    graph: dict[str, dict[str, int]] = {_package_of(m): {} for m in modules}
    where: dict[tuple[str, str], str] = {}
    for module, targets in modules.items():
        a = _package_of(module)
        for target, line in targets.items():
            b = _package_of(target)
            if a != b and b not in graph[a]:
                graph[a][b] = line
                where[(a, b)] = f"{MODULES[module].relative_to(PACKAGE.parent)}:{line} imports {target}"
    cycles = [c for c in _cycles(graph) if frozenset(c) not in KNOWN_PACKAGE_CYCLES]
    assert not cycles, "package import cycles in nova_gate:\n" + "\n".join(_describe(c, graph, where) for c in cycles)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from nova_gate.x import y\n", {"nova_gate.x"}),
        ("def f():\n    from nova_gate import b\n", {"nova_gate.b"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from nova_gate.b import T\n", {"nova_gate.b"}),
        ("import importlib\nimportlib.import_module('nova_gate.b')\n", {"nova_gate.b"}),
        ("from . import b\n", {"nova_gate.b"}),
    ],
)
def test_the_reader_sees_every_kind_of_import(tmp_path, source, expected, monkeypatch):
    fake = {"nova_gate": tmp_path / "__init__.py", "nova_gate.a": tmp_path / "a.py"}
    fake |= {"nova_gate.b": tmp_path / "b.py", "nova_gate.x": tmp_path / "x" / "__init__.py"}
    monkeypatch.setattr(__import__(__name__, fromlist=["MODULES"]), "MODULES", fake)
    fake["nova_gate.a"].write_text(source, encoding="utf-8")
    assert {t for t, _ in _imports("nova_gate.a", fake["nova_gate.a"])} == expected


def test_a_cycle_is_found_and_named():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": 1}, "b": {}}) == []
