"""No import cycle between the project's modules.

A cycle works only while each module happens to look the other's names up late (inside a
function, after both have loaded); a new top-level import, or a module loaded in another
order, turns it into an ImportError or a half-initialised module. So the graph is built
from every import, also one inside a function (a lazy import is still a dependency), with
relative imports resolved to the module they name. Imports under `if TYPE_CHECKING:` are
left out: they never run, and they are how a type annotation avoids a runtime cycle (the
script prints the graph with them too).

An edge goes to the most specific project module an import names: `from a.b import c` is
an edge to the module a.b.c if there is one, else to a.b (a name defined in a.b). Loading
a.b.c also runs a/__init__.py and a/b/__init__.py, but those implicit edges to parent
packages are left out: with them, every package whose __init__ re-exports a submodule
would count as a cycle.

Run this file as a script to print the graph's summary.
"""
from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "core", "clinics", "patients", "questionnaires", "selfcompletion",
        "reminders", "analysis")

Graph = dict[str, set[str]]


def module_name(relative: Path) -> str:
    """a/b/c.py -> a.b.c; a/b/__init__.py -> a.b."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT, apps: Iterable[str] = APPS) -> dict[str, Path]:
    """Every module of the apps, by dotted name (their tests and migrations included)."""
    modules = {}
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            modules[module_name(path.relative_to(root))] = path
    return modules


def _package_of(module: str, path: Path) -> str:
    """The package a relative import starts from: the module itself for an __init__.py."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve_from(node: ast.ImportFrom, module: str, path: Path) -> str:
    """The absolute module an ImportFrom names (`from ..x import y` in a.b.c -> a.x)."""
    if node.level == 0:
        return node.module or ""
    base = _package_of(module, path).split(".")
    base = base[:len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _most_specific(name: str, known: Mapping[str, Path]) -> str | None:
    """The longest prefix of the dotted name that is a project module, if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST, *, typing: bool) -> Iterable[ast.AST]:
    """Every node, like ast.walk; without `typing`, not the body of `if TYPE_CHECKING:`."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if not typing and _is_type_checking(node):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))


def imports_of(module: str, path: Path, known: Mapping[str, Path], *,
               typing: bool = False) -> set[str]:
    """The project modules this module imports, anywhere in it (`typing`: also those
    under `if TYPE_CHECKING:`)."""
    targets: set[str | None] = set()
    for node in _nodes(ast.parse(path.read_text(), filename=str(path)), typing=typing):
        if isinstance(node, ast.Import):
            targets.update(_most_specific(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(node, module, path)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in known else _most_specific(source, known))
    return {target for target in targets if target is not None and target != module}


def import_graph(root: Path = ROOT, apps: Iterable[str] = APPS, *,
                 typing: bool = False) -> Graph:
    """module -> the project modules it imports."""
    known = project_modules(root, apps)
    return {module: imports_of(module, path, known, typing=typing)
            for module, path in known.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted.

    Iterative, so a long import chain cannot reach Python's recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
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
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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
    return sorted(found)


def summary(graph: Graph) -> str:
    edges = sum(len(targets) for targets in graph.values())
    return f"{len(graph)} modules, {edges} import edges, {len(cycles(graph))} cycles"


def test_no_import_cycle_between_the_projects_modules():
    assert cycles(import_graph()) == []


def test_the_graph_sees_the_project():
    # A check that finds no module finds no cycle either.
    graph = import_graph()
    assert "analysis.runs.tasks" in graph
    assert "analysis.runs.services" in graph["analysis.runs.tasks"]


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_check_finds_a_planted_cycle_through_a_function_local_relative_import(tmp_path):
    _write(tmp_path, {
        "shop/__init__.py": "",
        "shop/pages/__init__.py": "",
        "shop/pages/orders.py": "from ..selectors import open_orders\n",
        "shop/selectors.py": "def open_orders():\n    from .pages import orders\n",
        "shop/models.py": "import shop.selectors\n",      # leads into the cycle, not part of it
    })
    graph = import_graph(tmp_path, ["shop"])
    assert cycles(graph) == [["shop.pages.orders", "shop.selectors"]]
    assert graph["shop.models"] == {"shop.selectors"}


def test_the_check_finds_a_cycle_of_three_through_from_package_imports(tmp_path):
    _write(tmp_path, {
        "a/__init__.py": "",
        "a/one.py": "from a import two\n",
        "a/two.py": "from a.three import name\n",
        "a/three.py": "from . import one\nname = 1\n",
    })
    assert cycles(import_graph(tmp_path, ["a"])) == [["a.one", "a.three", "a.two"]]


def test_a_package_re_exporting_its_submodule_is_no_cycle(tmp_path):
    _write(tmp_path, {
        "a/__init__.py": "from .b import thing\n",
        "a/b.py": "from a.c import other\nthing = other\n",
        "a/c.py": "other = 1\n",
    })
    graph = import_graph(tmp_path, ["a"])
    assert graph == {"a": {"a.b"}, "a.b": {"a.c"}, "a.c": set()}
    assert cycles(graph) == []


def test_imports_for_type_checking_only_are_no_cycle(tmp_path):
    _write(tmp_path, {
        "a/__init__.py": "",
        "a/models.py": "from .rules import check\n",
        "a/rules.py": ("from typing import TYPE_CHECKING\n"
                       "if TYPE_CHECKING:\n    from .models import Thing\n"
                       "else:\n    from a import other\n"),
        "a/other.py": "",
    })
    assert import_graph(tmp_path, ["a"])["a.rules"] == {"a.other"}
    assert cycles(import_graph(tmp_path, ["a"], typing=True)) == [["a.models", "a.rules"]]


if __name__ == "__main__":
    for typing in (False, True):
        graph = import_graph(typing=typing)
        label = "with TYPE_CHECKING imports" if typing else "run-time imports"
        sys.stdout.write(f"{label}: {summary(graph)}\n")
        for cycle in cycles(graph):
            sys.stdout.write("  cycle: " + " <-> ".join(cycle) + "\n")
