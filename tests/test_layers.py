"""The package's structure, checked from its source: import layers, no circles, small functions.

Modules sit on floors (``LAYERS``, lowest first). An import may go down or sideways; one that
goes up is a back-up arrow and must be one of ``BACK_UP``, each with the reason it stays. Imports
inside functions count (they are still dependencies); ``if TYPE_CHECKING:`` imports do not (no
code runs them).
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from radon.complexity import cc_visit
from radon.visitors import Class

SRC = Path(__file__).resolve().parent.parent / "src" / "reprotasks"

# Lowest first. A module takes the first floor with a matching pattern.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "core",
        (
            "reprotasks._version",
            "reprotasks.errors",
            "reprotasks._files",
            "reprotasks._cache",
            "reprotasks._run",
            "reprotasks._command",
            "reprotasks._journal",
            "reprotasks._guard",
            "reprotasks._archive",
            "reprotasks._distdir",
            "reprotasks._identity",
            "reprotasks._annotations",
            "reprotasks._options",
            "reprotasks.discover",
            "reprotasks.goreleaser",
        ),
    ),
    ("option tables", ("reprotasks.*.options",)),
    ("config", ("reprotasks.config", "reprotasks.schema")),
    ("python", ("reprotasks.python*",)),
    ("go", ("reprotasks.go*",)),
    ("audit", ("reprotasks.audit*",)),
    ("artifacts", ("reprotasks.artifacts*",)),
    ("image", ("reprotasks.image*",)),
    ("packages", ("reprotasks.packages*",)),
    ("signing", ("reprotasks.signing*",)),
    ("inputs", ("reprotasks.inputs*",)),
    ("promote", ("reprotasks.promote*",)),
    ("github", ("reprotasks.github*",)),
    ("scaffold", ("reprotasks.scaffold",)),
    ("step contract", ("reprotasks.step",)),
    ("steps", ("reprotasks.steps*",)),
    (
        "runner",
        (
            "reprotasks.registry",
            "reprotasks._pipeline",
            "reprotasks._report",
            "reprotasks._frontend",
            "reprotasks._app",
        ),
    ),
    (
        "adapters",
        (
            "reprotasks.cli",
            "reprotasks._docs",
            "reprotasks.nox",
            "reprotasks.nox_sessions",
            "reprotasks.invoke",
            "reprotasks.__main__",
            "reprotasks",
        ),
    ),
)

# (importer, imported) -> why this import goes up a floor and stays.
BACK_UP: dict[tuple[str, str], str] = {}

MAX_BACK_UP = 4


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def layer_of(module: str) -> int:
    for index, (_name, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, pattern) for pattern in patterns):
            return index
    raise AssertionError(f"{module} is on no floor of LAYERS: add it to the floor it belongs to")


def _runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement except those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The reprotasks modules an import statement loads (a name imported from a package counts as
    its submodule when there is one; ``from reprotasks import __version__`` is ``_version``)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names = []
        for alias in node.names:
            full = f"{base}.{alias.name}"
            names.append(full if full in MODULES else base)
    for name in names:
        if name == "reprotasks" and isinstance(node, ast.ImportFrom) and node.names[0].name == "__version__":
            yield "reprotasks._version"
        elif name in MODULES and name != module:
            yield name


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {target for node in _runtime_imports(tree) for target in _targets(module, node)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
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
                    found.append(sorted(component))
    return found


def back_up_arrows(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    }


def test_every_module_is_on_a_floor() -> None:
    for module in MODULES:
        layer_of(module)


def test_no_import_circles() -> None:
    assert _cycles(import_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_imports_go_down_except_the_listed_back_up_arrows() -> None:
    arrows = back_up_arrows(import_graph())
    new = sorted(arrows - BACK_UP.keys())
    assert not new, "imports that go up a floor (move the code, or pass the dependency in): " + ", ".join(
        f"{a} -> {b}" for a, b in new
    )
    gone = sorted(BACK_UP.keys() - arrows)
    assert not gone, f"listed back-up arrows that no longer exist (remove them from BACK_UP): {gone}"
    assert len(BACK_UP) <= MAX_BACK_UP


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from reprotasks.artifacts import layout\n", {"reprotasks.artifacts.layout"}),
        ("from reprotasks import __version__\n", {"reprotasks._version"}),
        ("if TYPE_CHECKING:\n    from reprotasks.cli import main\n", set()),
        ("def f():\n    from reprotasks.cli import main\n", {"reprotasks.cli"}),
        ("from . import layout\n", {"reprotasks.artifacts.layout"}),
    ],
)
def test_the_graph_reads_imports_as_python_does(source: str, expected: set[str]) -> None:
    tree = ast.parse(source)
    module = "reprotasks.artifacts.checksum"
    assert {target for node in _runtime_imports(tree) for target in _targets(module, node)} == expected


# No function may reach this cyclomatic complexity (radon's measure: `radon cc -n D src`).
MAX_COMPLEXITY = 21


def _functions(blocks: list[Any]) -> Iterator[Any]:
    """Functions and methods (cc_visit lists methods beside their class), and their closures."""
    for block in blocks:
        if not isinstance(block, Class):
            yield block
            yield from _functions(block.closures)


def test_no_function_is_too_complex() -> None:
    found = [
        f"{_module_name(path)}.{block.fullname} ({block.complexity})"
        for path in MODULES.values()
        for block in _functions(cc_visit(path.read_text(encoding="utf-8")))
        if block.complexity >= MAX_COMPLEXITY
    ]
    assert not found, f"functions of cyclomatic complexity >= {MAX_COMPLEXITY} (split them): {', '.join(found)}"


def test_the_complexity_check_sees_a_complex_method_and_closure() -> None:
    branches = "".join(f"        if x == {n}:\n            return {n}\n" for n in range(MAX_COMPLEXITY))
    source = f"class C:\n    def m(self, x):\n{branches}        return -1\n"
    source += "def f():\n    def g(x):\n" + branches.replace("        ", "    " * 2) + "    return g\n"
    assert sorted(block.complexity for block in _functions(cc_visit(source))) == [1, 22, 22]
