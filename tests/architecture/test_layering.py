"""The package's layout is its architecture: the flow runs one way.

faces (ui, cli) → the API (lab, run, gate) → runner, release → evals,
analysis → store, providers → core. A module may import its own part and
the parts below it, never one above, lazily or not (a function-level or
``TYPE_CHECKING`` import is a dependency too), and no modules import each
other in a circle. ``Lab.ui()`` opening the widget app is the one
written-down exception to the first rule, ``Run`` reading through its
``Lab`` the one to the second. The tests folder mirrors the package.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "promptlab"

PARTS = {
    "core": 0,
    "errors": 0,
    "store": 1,
    "providers": 1,
    "testing": 1,
    "evals": 2,
    "analysis": 2,
    "runner": 3,
    "release": 3,
    "production": 3,
    "privacy": 2,
    "retrieval": 2,
    "lab": 4,
    "lab_release": 4,
    "lab_monitor": 4,
    "lab_upkeep": 4,
    "lab_datasets": 4,
    "lab_privacy": 4,
    "lab_retrieval": 4,
    "run": 4,
    "gate": 4,
    "__init__": 4,
    "ui": 5,
    "cli": 5,
    "__main__": 5,
}
"""Each part's tier; a module may import its own tier or a lower one."""

SIBLINGS_APART = [
    ("store", "providers"),
    ("evals", "analysis"),
    ("runner", "release"),
    ("runner", "production"),
    ("release", "production"),
]
"""Parts of one tier that must not import each other either (they'd tie into a circle)."""

EXCEPTIONS = {("promptlab/lab.py", "promptlab.ui"), ("promptlab/__init__.py", "promptlab.ui")}
"""``lab.ui()`` and ``pl.ui`` (both in the public contract) open the widget app, lazily."""


CIRCLES_ALLOWED = {("promptlab/run.py", "promptlab.lab")}
"""A ``Run`` is a view of its Lab's history (``Lab.sweep`` returns one; ``run.df``
reads through the Lab): the one pair of modules that refer to each other."""


def part_of(module: str) -> str:
    """``promptlab.runner.cells`` → ``runner``; ``promptlab`` → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``promptlab/runner/cells.py`` → ``promptlab.runner.cells``."""
    relative = path.relative_to(root.parent).with_suffix("")
    return ".".join(part for part in relative.parts if part != "__init__")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every promptlab module ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("promptlab")]
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("promptlab") and not node.level
        ):
            if node.module == "promptlab":  # from promptlab import evals: each name may be a part
                found += [(node.lineno, f"promptlab.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def upward_imports(root: Path = PACKAGE) -> list[str]:
    """Every import that runs against the flow, as ``file:line: a imports b``."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        where = str(path.relative_to(root.parent))
        source = part_of(module_name(path, root))
        for line, target_module in imported_modules(path):
            target = part_of(target_module)
            if target not in PARTS or (where, target_module) in EXCEPTIONS:
                continue
            upward = PARTS[target] > PARTS[source]
            apart = (source, target) in SIBLINGS_APART or (target, source) in SIBLINGS_APART
            if upward or apart:
                why = "above it" if upward else "beside it, and kept apart"
                problems.append(f"{where}:{line}: {source} imports {target_module} ({target} is {why})")
    return problems


def module_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Which promptlab modules each module imports (``from a import b`` counts as
    importing ``a.b`` when that is a module), leaving out the allowed exceptions."""
    modules = {module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        where = str(path.relative_to(root.parent))
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                }
        allowed = EXCEPTIONS | CIRCLES_ALLOWED
        graph[name] = {t for t in targets if t in modules and t != name and (where, t) not in allowed}
    return graph


def import_circle(root: Path = PACKAGE) -> list[str]:
    """One circle of module imports, or ``[]`` when there is none."""
    try:
        graphlib.TopologicalSorter(module_graph(root)).prepare()
    except graphlib.CycleError as circle:
        return list(circle.args[1])
    return []


def test_every_module_belongs_to_a_known_part() -> None:
    unknown = sorted({part_of(module_name(p)) for p in PACKAGE.rglob("*.py")} - PARTS.keys())
    assert unknown == [], f"add these to PARTS (and to the README's Layout): {unknown}"


def test_no_module_imports_against_the_flow() -> None:
    problems = upward_imports()
    assert problems == [], "imports against the flow:\n" + "\n".join(problems)


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert import_circle() == [], "modules that import each other (lazily or not): " + " → ".join(import_circle())


def test_the_check_catches_a_circle(tmp_path: Path) -> None:
    package = tmp_path / "promptlab"
    (package / "providers").mkdir(parents=True)
    (package / "providers" / "__init__.py").write_text("def f():\n    from promptlab.providers import fake\n")
    (package / "providers" / "fake.py").write_text("from promptlab.providers import f\n")
    assert sorted(set(import_circle(package))) == ["promptlab.providers", "promptlab.providers.fake"]


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    package = tmp_path / "promptlab"
    (package / "core").mkdir(parents=True)
    (package / "core" / "model.py").write_text(
        "def f():\n    from promptlab.lab import Lab  # lazily\n    return Lab\n"
    )
    (package / "store").mkdir()
    (package / "store" / "x.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from promptlab.providers import fake\n"
    )
    assert upward_imports(package) == [
        "promptlab/core/model.py:2: core imports promptlab.lab (lab is above it)",
        "promptlab/store/x.py:3: store imports promptlab.providers (providers is beside it, and kept apart)",
    ]


@pytest.mark.parametrize("module", ["promptlab.core.model", "promptlab.ui.app"])
def test_part_of(module: str) -> None:
    assert part_of(module) in PARTS


def test_tests_mirror_the_package() -> None:
    """A test folder per part (``tests/runner/`` tests ``promptlab/runner/``), plus
    ``api`` for the top-level modules and the folders that cut across parts."""
    across = {"api", "architecture", "e2e", "security", "support"}
    tests = PACKAGE.parent / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    parts = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - parts - across == set(), "test folders that match no part"
    assert parts - folders - {"testing"} == set(), "parts without a test folder"
    assert not list(tests.glob("test_*.py")), "tests go in the folder of the part they test"
