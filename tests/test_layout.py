"""The package's shape: folders by role, imports that go one way with no cycle (imports inside functions included).

The two flows: frame -> ``reader`` -> digits and numbers, classified by ``runtime``; ``training`` -> .keras ->
``export`` -> bench (``measure``) and firmware. The reader and the runtime run on a device without TensorFlow, so
they never import training or export.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edgedigits", "firmware_export")
SUBPACKAGES = ("runtime", "reader", "training", "export", "measure", "device")
DEVICE_SIDE = ("edgedigits.reader", "edgedigits.runtime")
TRAINING_SIDE = ("edgedigits.training", "edgedigits.export")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _imports(source: str, modules: dict) -> set[str]:
    """The project modules a source imports anywhere in its body; ``from package import module`` names the module."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path.read_text(), modules) - {name} for name, path in modules.items()}


def _within(module: str, roots) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


def test_imports_inside_functions_are_seen():
    modules = {"edgedigits.training.train": None, "edgedigits.runtime": None}
    source = "def f():\n    from edgedigits.training import train\n    import edgedigits.runtime\n"
    assert _imports(source, modules) == {"edgedigits.training.train", "edgedigits.runtime"}


def test_no_import_cycle(graph):
    done, path = set(), []

    def visit(module):
        assert module not in path, " -> ".join([*path[path.index(module):], module])
        if module in done or module not in graph:
            return
        path.append(module)
        for dep in sorted(graph[module]):
            visit(dep)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_reader_and_runtime_never_import_training_or_export(graph):
    wrong = {m: sorted(d for d in deps if _within(d, TRAINING_SIDE))
             for m, deps in graph.items() if _within(m, DEVICE_SIDE)}
    assert not {m: d for m, d in wrong.items() if d}


def test_runtime_never_imports_the_reader(graph):
    wrong = {m: sorted(d for d in deps if _within(d, ("edgedigits.reader",)))
             for m, deps in graph.items() if _within(m, ("edgedigits.runtime",))}
    assert not {m: d for m, d in wrong.items() if d}


def test_edgedigits_never_imports_firmware_export(graph):
    assert not {m: d for m, d in graph.items() if m.startswith("edgedigits") and any(
        x.startswith("firmware_export") for x in d)}
    assert any(d.startswith("edgedigits") for m, deps in graph.items() if m.startswith("firmware_export") for d in deps)


def test_the_top_holds_few_modules_and_each_subpackage_says_what_it_is_for():
    top = sorted(p.name for p in (ROOT / "edgedigits").glob("*.py"))
    assert len(top) <= 10, top
    for init in (ROOT / "edgedigits").rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()), clean=False)
        assert doc and doc.splitlines()[0].strip(), f"{init.relative_to(ROOT)} has no one-line docstring"
    assert all((ROOT / "edgedigits" / sub / "__init__.py").is_file() for sub in SUBPACKAGES)
