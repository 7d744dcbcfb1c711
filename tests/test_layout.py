"""The layout keeps its promises: no import circles, and services never reach up a layer."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("volunteer_hub", "scheduling")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module this one imports, anywhere in it (functions included)."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, base] if base else here)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
    # A module importing its own package (``from volunteer_hub import create_app`` inside
    # volunteer_hub.cli) is not a circle between two ideas.
    return {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


@pytest.mark.parametrize("package", ["volunteer_hub", "scheduling"])
def test_no_module_imports_one_that_imports_it_back(package):
    graph = {m: {t for t in ts if t.startswith(package)} for m, ts in _graph().items()}
    graph = {m: ts for m, ts in graph.items() if m.startswith(package)}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")


def test_services_never_import_the_web_layer_the_worker_the_cli_or_the_app():
    upward = (
        "volunteer_hub.web",
        "volunteer_hub.worker",
        "volunteer_hub.cli",
        "volunteer_hub.demo",
    )
    found = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module.startswith("volunteer_hub.services")
        for target in targets
        if target == "volunteer_hub" or target.startswith(upward)
    )
    assert found == []


def test_scheduling_stays_a_library():
    outside = ("flask", "sqlalchemy", "flask_sqlalchemy", "twilio", "apscheduler", "volunteer_hub")
    found = []
    for path in (ROOT / "scheduling").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in outside]
    assert found == []


def test_every_package_ships_in_the_wheel():
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for package in PACKAGES
        for path in (ROOT / package).rglob("__init__.py")
    }
    assert on_disk - listed == set()
