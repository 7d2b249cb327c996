"""The apps are layered: core < clinics < patients < questionnaires < selfcompletion < reminders
< analysis < front (the pages composing several apps).

No module of an app imports an app above it, and neither does its tests: a low app's tests
build their data with its own services and the shared builders of tests/factories.py, and
a test that needs a higher app lives with that app (the root tests/ and front's tests,
above everything, may import anything). Every import counts, also one inside a function:
a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "clinics", "patients", "questionnaires", "selfcompletion", "reminders",
          "dataqueries", "analysis", "front")
RANK = {app: rank for rank, app in enumerate(LAYERS)}
# No exceptions: data changes reach analysis through core.signals, never by import.
ALLOWED_MODULES: set[str] = set()


def _is_test(path: Path) -> bool:
    return "tests" in path.parts or path.name.startswith("test_") or path.name == "conftest.py"


def _imported_modules(tree: ast.AST) -> set[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def upward_imports(root: Path = ROOT, *, tests: bool = False) -> list[tuple[str, str]]:
    """(module path, imported module) for every import of a higher layer: by the apps'
    modules, or with `tests` by their test modules."""
    found = []
    for app in LAYERS:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root)
            if _is_test(relative) != tests:
                continue
            for module in _imported_modules(ast.parse(path.read_text())):
                target = module.split(".")[0]
                if RANK.get(target, -1) > RANK[app]:
                    found.append((relative.as_posix(), module))
    return found


def test_no_app_imports_a_layer_above_it():
    upward = [(path, module) for path, module in upward_imports()
              if module not in ALLOWED_MODULES]
    assert upward == []


def test_no_tests_of_an_app_import_a_layer_above_it():
    assert upward_imports(tests=True) == []


def test_the_check_finds_an_upward_import(tmp_path):
    (tmp_path / "clinics").mkdir()
    (tmp_path / "clinics" / "views.py").write_text(
        "def page():\n    from patients.models import Patient\n")
    (tmp_path / "patients").mkdir()
    (tmp_path / "patients" / "models.py").write_text("from clinics.models import Clinic\n")
    assert upward_imports(tmp_path) == [("clinics/views.py", "patients.models")]


def test_the_check_finds_an_upward_import_by_a_test(tmp_path):
    (tmp_path / "clinics" / "tests").mkdir(parents=True)
    (tmp_path / "clinics" / "tests" / "test_views.py").write_text(
        "from tests.factories import make_user\nfrom questionnaires.models import Timepoint\n")
    (tmp_path / "clinics" / "views.py").write_text("from patients.models import Patient\n")
    (tmp_path / "front" / "tests").mkdir(parents=True)
    (tmp_path / "front" / "tests" / "test_pages.py").write_text(
        "from analysis.models import ModelRun\n")   # front is the top: it may
    assert upward_imports(tmp_path, tests=True) == [
        ("clinics/tests/test_views.py", "questionnaires.models")]
    assert upward_imports(tmp_path) == [("clinics/views.py", "patients.models")]
