"""The layout's arrows (DESIGN, Architecture): `webapp` → `models` ← `jobs`, demo data apart.

Each test fails when an arrow appears that the layout forbids, so a newcomer cannot add one
by accident: `models` imports neither `webapp`, `jobs` nor `demo`; `jobs` does not import
`webapp`; nothing in `webapp` imports the factory back; no import circle among CityDesk's
modules; the wheel's package list in pyproject.toml names every package on disk; and no
function in `models`, `webapp` and `jobs` is over 60 lines, no file over 600.
"""

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "webapp", "jobs", "demo")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Modules of ours that `path` imports, at module level or inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("models", {"webapp", "jobs", "demo"}),
        ("jobs", {"webapp", "demo"}),
        ("demo", {"webapp", "jobs"}),
    ],
)
def test_imports_point_one_way(importer, forbidden):
    """`models` imports neither webapp nor jobs; jobs does not import webapp (even lazily)."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if _top(module) == importer
        for target in _imports(path)
        if _top(target) in forbidden
    )
    assert wrong == []


def test_the_cli_wires_the_web_app_and_the_jobs():
    """Of the web app only the CLI (which starts the scheduler) imports `jobs`, and the admin
    page about the jobs, which reads their run records."""
    importers = {
        module
        for module, path in MODULES.items()
        if _top(module) == "webapp" and any(_top(t) == "jobs" for t in _imports(path))
    }
    assert importers <= {"webapp.cli", "webapp.ops.views"}
    assert "webapp.cli" in importers


def _names_from_the_factory(path: Path) -> set[str]:
    """Names `path` imports from the `webapp` package itself (its __init__, the factory), not
    from one of its submodules: `from webapp import create_app`, `import webapp`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name == "webapp"}
        elif isinstance(node, ast.ImportFrom) and node.module == "webapp" and node.level == 0:
            found |= {a.name for a in node.names if f"webapp.{a.name}" not in MODULES}
    return found


def test_nothing_in_webapp_imports_the_factory_back():
    """No module under `webapp/` takes a name from `webapp/__init__.py` (the application
    factory): what the factory and a module share lives in a module of its own. Only the CLI,
    which builds the app for the `citydesk` command, imports `create_app`."""
    wrong = sorted(
        f"{module} imports webapp.{name}"
        for module, path in MODULES.items()
        if _top(module) == "webapp" and module != "webapp"
        for name in _names_from_the_factory(path)
        if (module, name) != ("webapp.cli", "create_app")
    )
    assert wrong == []


def test_no_import_circle():
    """No two of our modules import each other, directly or round a longer circle (an import
    inside a function counts too: it only hides the circle)."""
    graph = {}
    for module, path in MODULES.items():
        targets = _imports(path) - {module}
        # A package's __init__ importing its own submodules (to offer their names) and a
        # submodule importing a name from its parent package are not circles of design.
        graph[module] = {
            t for t in targets if not t.startswith(module + ".") and not module.startswith(t + ".")
        }
    circles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                circles.append(" → ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_wheel_lists_every_package_on_disk():
    """pyproject.toml's package list (the wheel's contents) names every package we have."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"]) - set(config.get("package-dir", {}))
    on_disk = {
        _module_name(init.parent / "__init__.py")
        for package in PACKAGES
        for init in (ROOT / package).rglob("__init__.py")
    }
    assert listed == on_disk
    for shipped in config.get("package-dir", {}).values():
        assert (ROOT / shipped).is_dir()


MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 600


def test_no_function_over_60_lines_and_no_file_over_600():
    """Short enough to read at once: a longer function is split into named steps, a longer
    module into modules by what they hold (issue 25)."""
    too_long = []
    for package in ("models", "webapp", "jobs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            name = path.relative_to(ROOT)
            if len(source.splitlines()) > MAX_FILE_LINES:
                too_long.append(f"{name}: {len(source.splitlines())} lines")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
