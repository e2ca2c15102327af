"""The dependency rule, read from the source with ``ast``: a method module imports the core and
``methods/backbones`` but never another method; the core imports no method and no task."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = "backbones"  # the layer every method may import


def module_parts(path: Path) -> list[str]:
    """The installed module name of a source file: methods/ and tasks/ install under nasbench."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts if parts[0] == "nasbench" else ["nasbench", *parts]


def imported_modules(path: Path) -> set[str]:
    return imports_of(path.read_text(), module_parts(path))


def imports_of(source: str, module: list[str]) -> set[str]:
    """Absolute module names (and module.name for ``from`` imports) that ``source``, the module
    ``module``, imports; relative imports are resolved against its package."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = module[: len(module) - node.level] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names.update([target] + [f"{target}.{alias.name}" for alias in node.names])
    return names


def method_units() -> dict[str, list[Path]]:
    """method name -> its source files (``methods/<a>.py`` or everything under ``methods/<a>/``)."""
    units = {}
    for entry in sorted((ROOT / "methods").iterdir()):
        if entry.name.startswith(("_", ".")) or entry.name == SHARED:
            continue
        if entry.suffix == ".py":
            units[entry.stem] = [entry]
        elif entry.is_dir():
            units[entry.name] = sorted(entry.rglob("*.py"))
    return units


def foreign_methods(name: str, imports: set[str], methods: set[str]) -> set[str]:
    return {m for m in imports for other in methods - {name}
            if m == f"nasbench.methods.{other}" or m.startswith(f"nasbench.methods.{other}.")}


UNITS = method_units()


@pytest.mark.parametrize("method", sorted(UNITS))
def test_a_method_imports_no_other_method(method):
    found = {str(path.relative_to(ROOT)): foreign_methods(method, imported_modules(path), set(UNITS))
             for path in UNITS[method]}
    assert not {path: names for path, names in found.items() if names}


def test_backbones_import_no_method():
    methods = set(UNITS)
    for path in (ROOT / "methods" / SHARED).rglob("*.py"):
        assert not foreign_methods(SHARED, imported_modules(path), methods), path


def test_the_core_imports_no_method_and_no_task():
    for path in (ROOT / "nasbench").rglob("*.py"):
        bad = {m for m in imported_modules(path) if m.startswith(("nasbench.methods", "nasbench.tasks"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_checks_see_forbidden_imports():
    """The checks above can fail: planted cross-method and core imports are found, absolute and relative."""
    dash = ["nasbench", "methods", "dash", "planted"]
    planted = imports_of("from nasbench.methods.dnarch.network import DNArchCCNN", dash)
    found = foreign_methods("dash", planted, set(UNITS))
    assert found == {"nasbench.methods.dnarch.network", "nasbench.methods.dnarch.network.DNArchCCNN"}
    assert foreign_methods("dash", imports_of("from ..wrn import build_wrn", dash), set(UNITS)) == {
        "nasbench.methods.wrn", "nasbench.methods.wrn.build_wrn"}
    assert not foreign_methods("dash", imports_of("from ..backbones import wrn\nfrom . import ops", dash), set(UNITS))
    assert "nasbench.methods.wrn" in imports_of("from .methods import wrn", ["nasbench", "planted"])
