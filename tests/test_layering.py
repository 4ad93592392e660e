"""The import arrows, checked statically: `tessera/` imports none of `ml/`, `reverse_etl/`,
`orchestration/`; `ml/` and `reverse_etl/` import only `tessera/` (and themselves); nothing
imports `orchestration/`. A module named in a string (importlib, `__import__`, a list of
modules to load) counts as an import."""

from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest

from tessera.settings import PROJECT_ROOT

LAYERS = ("tessera", "ml", "reverse_etl", "orchestration")
ALLOWED: dict[str, set[str]] = {
    "tessera": {"tessera"},
    "ml": {"ml", "tessera"},
    "reverse_etl": {"reverse_etl", "tessera"},
    "orchestration": set(LAYERS),
}


def _modules(root: Path = PROJECT_ROOT) -> set[str]:
    """Every importable module and package of our layers, dotted."""
    names: set[str] = set()
    for layer in LAYERS:
        for path in (root / layer).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imported_layers(source: str, modules: set[str]) -> list[tuple[int, str]]:
    """(line, module) for each import of one of our modules: statements, import calls with a
    literal name, and any string naming one of our modules (entries of a module list)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and _is_import_call(node) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value))
        elif isinstance(node, ast.Constant) and node.value in modules and "." in node.value:
            found.append((node.lineno, node.value))
    return [(line, name) for line, name in found if name.split(".")[0] in LAYERS]


def _parse(source: str) -> ast.Module:
    """ast.parse with the garbage collector held off. On Python 3.11 (3.11.7 here), an
    ast.parse run inside another corrupts the outer one's depth count ("AST constructor
    recursion depth mismatch", see CPython gh-106905): a collection during the parse can finalise
    objects an earlier test left (Dagster's SQLite connections) whose logged error formats a
    traceback, and 3.11's traceback formatting calls ast.parse. This failed one CI run."""
    gc.disable()
    try:
        return ast.parse(source)
    finally:
        gc.enable()


def _is_import_call(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def violations(root: Path = PROJECT_ROOT) -> list[str]:
    gc.collect()  # what earlier tests left is finalised now, not during a parse
    modules = _modules(root)
    found = []
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            for line, module in imported_layers(path.read_text(), modules):
                target = module.split(".")[0]
                if target not in ALLOWED[layer]:
                    found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def test_import_arrows_point_one_way() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    "source",
    [
        "import ml.cli\n",
        "from reverse_etl.runner import run_sync\n",
        "def f():\n    from orchestration.demo import run_demo\n",
        "import importlib\nimportlib.import_module('reverse_etl.cli')\n",
        "LAYERS = ('tessera.identity.cli', 'ml.cli')\n",
        "__import__('ml')\n",
    ],
)
def test_the_check_catches_each_way_of_importing_a_layer(tmp_path: Path, source: str) -> None:
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "__init__.py").write_text("")
    (tmp_path / "ml" / "cli.py").write_text("")
    (tmp_path / "reverse_etl" / "cli.py").write_text("")
    (tmp_path / "reverse_etl" / "runner.py").write_text("")
    (tmp_path / "orchestration" / "demo.py").write_text("")
    (tmp_path / "tessera" / "core.py").write_text(source)
    assert [v.split(" imports ")[0] for v in violations(tmp_path)]
    assert all(v.startswith("tessera/core.py:") for v in violations(tmp_path))


def test_warehouse_relation_names_are_not_imports(tmp_path: Path) -> None:
    """`ml.person_scores` is a table in the warehouse's `ml` schema, not a module."""
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "__init__.py").write_text("")
    (tmp_path / "tessera" / "core.py").write_text("SCORES = 'ml.person_scores'\n")
    assert violations(tmp_path) == []
