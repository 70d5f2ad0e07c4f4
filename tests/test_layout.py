"""The package's shape: imports go one way, with no cycle, even through imports inside functions."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    """Every module of ``package`` and the project modules it imports, anywhere in its body."""
    graph = {}
    for path in (ROOT / package).glob("*.py"):
        name = package if path.stem == "__init__" else f"{package}.{path.stem}"
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module in ("edgedigits", "firmware_export"):
                    found |= {f"{node.module}.{alias.name}" for alias in node.names}
                elif node.module.split(".")[0] in ("edgedigits", "firmware_export"):
                    found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.split(".")[0] in ("edgedigits", "firmware_export")}
        graph[name] = found - {name}
    return graph


def test_edgedigits_never_imports_firmware_export():
    graph = _imports("edgedigits")
    assert not {m: d for m, d in graph.items() if any(x.startswith("firmware_export") for x in d)}
    assert any(d.startswith("edgedigits") for deps in _imports("firmware_export").values() for d in deps)


def test_no_import_cycle():
    graph = _imports("edgedigits")
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
