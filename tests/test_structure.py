"""The package's shape: no module imports, directly or through others, one that imports it.

Every import counts, the ones inside functions too: that is where a cycle hides.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "livelike_profiles"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = (
                ".".join(base + [node.module])
                if node.level and node.module
                else (".".join(base) if node.level else node.module or "")
            )
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_no_import_cycle_in_the_package():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["livelike_profiles.provisioning"], "the graph must see imports"
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_signals_only_declare():
    source = (PACKAGE / "signals.py").read_text()
    tree = ast.parse(source)
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert functions == [], "receivers live in receivers.py"


# The query methods that write rows; a dict's .update() is told apart by its receiver.
_WRITES = {"update", "create", "save", "delete", "bulk_create", "bulk_update"}
_WRITES |= {"get_or_create", "update_or_create"}


def _row_writes(path: Path) -> list[str]:
    """Calls in ``path`` that write through a queryset or a model instance's ``save()``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in _WRITES:
            continue
        receiver = ast.unparse(node.func.value)
        if node.func.attr == "save" or any(
            part in receiver for part in ("objects", "_rows()", ".filter(", ".exclude(")
        ):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_every_row_write_is_a_named_method_of_the_model_queryset():
    """Writes live in the models' querysets, where their conditions can be read side by side."""
    allowed = {"livelike_profiles.querysets", "livelike_profiles.outbox", "livelike_profiles.fake"}
    writes = [
        write
        for name, path in _modules().items()
        if name not in allowed and not name.startswith("livelike_profiles.fake.")
        for write in _row_writes(path)
    ]
    assert writes == []


def test_the_write_finder_finds_one(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("rows.filter(pk=1).update(a=2)\nfields.update(a=2)\nrow.save()\n")
    assert len(_row_writes(module)) == 2


MAX_MODULE_LINES = 400


def test_every_module_of_the_package_reads_in_one_sitting():
    """No module over 400 lines: one job each (migrations are Django's, not ours to shape)."""
    long = {
        name: length
        for name, path in _modules().items()
        if (length := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
