"""The package's import graph has no cycle, between modules or between sub-packages, and the repository's layers
point one way: ``verl_score`` imports none of the repo-only packages, and ``benchmarks`` / ``testkit`` import
nothing from ``tests``.

What counts as an import (decided here, issue #26 "no cycle"): every ``import`` / ``from ... import`` statement
anywhere in a module -- at module level, inside a function, under ``if TYPE_CHECKING:`` -- and every
``importlib.import_module("literal")``. A function-level import is still a dependency: making it lazy hides a cycle
from the interpreter, not from a reader, and a lazy import that closes a cycle is the first one to break when
somebody hoists it. What cannot be seen, and is not an edge, is a module name held as data: the registries' ``builtins``
(``verl_score.registry``), modules imported on the first lookup of a name not registered yet. That is plug-in
discovery at lookup time, never at import time, and the plug-ins depend on the registry, not the reverse;
``tests/test_registry.py::test_registry_builtins_exist`` keeps those names true instead.

Read statically (``ast``), so nothing is imported and the test takes well under a second.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "verl_score"
#: repository-only packages the wheel does not ship; the package must not reach into them
REPO_ONLY = ("tests", "testkit", "benchmarks", "data_preprocess", "scripts")


@dataclass(frozen=True)
class Edge:
    source: str  # importing module
    target: str  # imported module (the deepest module that exists)
    line: int
    lazy: bool  # inside a function or class body, or not at the top of the module

    def __str__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target}{' (lazy)' if self.lazy else ''}"


def _modules(root: Path, top: str) -> dict[str, Path]:
    """Dotted name -> file for every module under ``root/top`` (a package's ``__init__`` is the package)."""
    out = {}
    for path in sorted((root / top).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, list[str], int, bool]]:
    """``(module, imported attribute names, line, lazy)`` per import in ``tree``, relative imports resolved."""
    found = []
    top_level = {id(n) for n in getattr(tree, "body", [])}

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_lazy = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append((alias.name, [], child.lineno, lazy or id(child) not in top_level))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    name = ".".join(base + ([child.module] if child.module else []))
                else:
                    name = child.module or ""
                found.append((name, [a.name for a in child.names], child.lineno, lazy or id(child) not in top_level))
            elif (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr == "import_module"
                and child.args
                and isinstance(child.args[0], ast.Constant)
                and isinstance(child.args[0].value, str)
            ):
                found.append((child.args[0].value, [], child.lineno, True))
            visit(child, child_lazy)

    visit(tree, False)
    return found


def import_edges(root: Path = REPO, top: str = PACKAGE) -> list[Edge]:
    """Every import of a module under ``top`` by a module under ``top``."""
    mods = _modules(root, top)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges = []
    for module, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for name, attrs, line, lazy in _imported_names(tree, module, path.name == "__init__.py"):
            if name != top and not name.startswith(top + "."):
                continue
            targets = {f"{name}.{a}" if f"{name}.{a}" in mods else resolve(name) for a in attrs} or {resolve(name)}
            edges += [Edge(module, t, line, lazy) for t in sorted(filter(None, targets)) if t != module]
    return edges


def foreign_imports(directory: str, forbidden: tuple[str, ...], root: Path = REPO) -> list[str]:
    """``file:line -> name`` for every import under ``directory`` of a module in one of ``forbidden``."""
    out = []
    for module, path in _modules(root, directory).items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for name, _attrs, line, _lazy in _imported_names(tree, module, path.name == "__init__.py"):
            if name.split(".")[0] in forbidden:
                out.append(f"{path.relative_to(root)}:{line} -> {name}")
    return out


def module_strings(directory: str, prefixes: tuple[str, ...], root: Path = REPO) -> list[str]:
    """``file:line -> text`` for every non-docstring string constant under ``directory`` that starts with one of
    ``prefixes``: how code names a module or file to run without importing it (``python -m tests.x``, a path)."""
    out = []
    for path in _modules(root, directory).values():
        tree = ast.parse(path.read_text(), filename=str(path))
        docstrings = {id(n.value) for n in ast.walk(tree)
                      if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and node.value.startswith(prefixes)):
                out.append(f"{path.relative_to(root)}:{node.lineno} -> {node.value!r}")
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _explain(components: list[list[str]], edges: list[Edge], key) -> str:
    lines = []
    for component in components:
        members = set(component)
        lines.append("cycle: " + " <-> ".join(component))
        lines += [f"    {e}" for e in edges if key(e.source) in members and key(e.target) in members
                  and key(e.source) != key(e.target)]
    return "\n".join(lines)


def _subpackage(module: str) -> str:
    """``verl_score.teacher.mps`` -> ``verl_score.teacher``; a top-level module is its own node."""
    return ".".join(module.split(".")[:2])


def _graph(edges: list[Edge], key) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if key(e.source) != key(e.target):
            graph[key(e.source)].add(key(e.target))
    return graph


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """The reader itself: module-level, function-level, relative, ``from pkg import module`` and literal
    ``importlib.import_module`` imports are all edges; a cycle made only of lazy imports is still a cycle."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import c\n")
    (pkg / "c.py").write_text("import importlib\ndef g():\n    importlib.import_module('pkg.a')\n")
    edges = import_edges(tmp_path, "pkg")
    assert {(e.source, e.target, e.lazy) for e in edges} == {
        ("pkg.a", "pkg.sub.b", False), ("pkg.sub.b", "pkg.c", True), ("pkg.c", "pkg.a", True)}
    assert cycles(_graph(edges, lambda m: m)) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


def test_no_module_import_cycle():
    edges = import_edges()
    found = cycles(_graph(edges, lambda m: m))
    assert not found, "import cycles between modules:\n" + _explain(found, edges, lambda m: m)


def test_no_subpackage_import_cycle():
    """Sub-packages form layers (``contracts`` below ``episodes`` and ``teacher``, ...): no two import each other,
    even through different modules (the ``episodes`` <-> ``teacher`` cycle of issue #26 was of this kind)."""
    edges = import_edges()
    found = cycles(_graph(edges, _subpackage))
    assert not found, "import cycles between sub-packages:\n" + _explain(found, edges, _subpackage)


def test_package_imports_no_repository_only_code():
    """The wheel ships ``verl_score`` alone: an import of tests / testkit / benchmarks / data_preprocess / scripts
    works in a checkout and fails after ``pip install``."""
    assert foreign_imports(PACKAGE, REPO_ONLY) == []


def test_benchmarks_and_testkit_import_nothing_from_tests():
    """Benchmarks measure on the same instruments the tests use; those live in ``testkit``, never in the suite."""
    assert foreign_imports("benchmarks", ("tests",)) == []
    assert foreign_imports("testkit", ("tests", "benchmarks")) == []
    # nor run or load a test module by name or path (a subprocess ``-m tests.x``, a file loaded by path)
    assert module_strings("benchmarks", ("tests.", "tests/")) == []
    assert module_strings("testkit", ("tests.", "tests/")) == []
