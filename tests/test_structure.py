"""The package's shape: no import cycles, one writer of rows, no reaching into private state.

Every import run counts, the ones inside functions too: that is where a cycle
hides. Imports under ``if TYPE_CHECKING:`` do not: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

from livelike_profiles.models import LiveLikeErasure, LiveLikeProfile

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


def _is_type_checking(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_nodes(tree: ast.AST):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (their ``else`` included)."""
    for child in ast.iter_child_nodes(tree):
        if _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _run_nodes(other)
            continue
        yield child
        yield from _run_nodes(child)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _run_nodes(ast.parse(path.read_text())):
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
    assert graph["livelike_profiles.provisioning.dispatch"], "the graph must see imports"
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_for_the_type_checker_only_are_no_edge(tmp_path):
    (tmp_path / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
        "else:\n    from .c import C\n"
    )
    modules = {"p.a": tmp_path / "a.py", "p.b": tmp_path / "b.py", "p.c": tmp_path / "c.py"}
    assert _imports("p.a", tmp_path / "a.py", modules) == {"p.c"}


# -- no reaching into another module's or a model instance's private state -------------


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_aliases(name: str, path: Path, tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """The names ``path`` binds to modules of the package (``from . import client``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            aliases |= {
                alias.asname or alias.name
                for alias in node.names
                if f"{target}.{alias.name}" in modules
            }
    return aliases


def _reaches_into_private_names(name: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """Private names of the package's other modules that ``path`` imports or reads."""
    tree = ast.parse(path.read_text())
    aliases = _module_aliases(name, path, tree, modules)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            found += [f"from {node.module} import {a.name}" for a in node.names if _private(a.name)]
        elif (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return [f"{path.name}:{where}" for where in found]


def test_no_module_reads_another_modules_private_names():
    modules = _modules()
    found = [
        where
        for name, path in modules.items()
        for where in _reaches_into_private_names(name, path, modules)
    ]
    assert found == []


def test_the_private_name_finder_finds_both_ways(tmp_path):
    module = tmp_path / "a.py"
    module.write_text("from . import b\nfrom .b import _x\nb._y()\nb.z()\n")
    modules = {"p.a": module, "p.b": tmp_path / "b.py"}
    assert _reaches_into_private_names("p.a", module, modules) == [
        "a.py:from b import _x",
        "a.py:b._y",
    ]


# The model instances' stored values: only the field that stores them reads its own.
_FIELD_NAMES = {
    field.attname
    for model in (LiveLikeProfile, LiveLikeErasure)
    for field in model._meta.concrete_fields
}


def _reaches_into_instances(path: Path) -> list[str]:
    """``x._state``, and ``x.__dict__`` read by a model field's name, in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "_state":
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        keyed = None
        if isinstance(node, ast.Subscript):
            keyed = (node.value, node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            keyed = (node.func.value, node.args[0]) if node.func.attr == "get" else None
        if keyed is None:
            continue
        holder, key = keyed
        if (
            isinstance(holder, ast.Attribute)
            and holder.attr == "__dict__"
            and isinstance(key, ast.Constant)
            and key.value in _FIELD_NAMES
        ):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_only_user_state_reads_a_users_state_and_only_the_field_its_stored_value():
    """``_state`` and a model instance's ``__dict__`` are Django's: each read in one place."""
    allowed = {"livelike_profiles.provisioning.user_state", "livelike_profiles.fields"}
    found = [
        where
        for name, path in _modules().items()
        if name not in allowed
        for where in _reaches_into_instances(path)
    ]
    assert found == []


def test_the_instance_reach_finder_finds_each_way(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "user._state.adding\nrow.__dict__['access_token']\nrow.__dict__.get('status')\n"
        "request.__dict__['_memo']\n"
    )
    assert len(_reaches_into_instances(module)) == 3


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
        if receiver == "super()" or "session" in receiver:
            continue  # a model's own save(), or a session's: no row of ours written
        if node.func.attr == "save" or any(
            part in receiver for part in ("objects", "_rows()", ".filter(", ".exclude(")
        ):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_every_row_write_is_a_named_method_of_the_model_queryset():
    """Writes live in the models' querysets, where their conditions can be read side by side."""
    allowed = {
        "livelike_profiles.provisioning.querysets",
        "livelike_profiles.provisioning.row_updates",
        "livelike_profiles.erasure.outbox",
        "livelike_profiles.fake",
    }
    writes = [
        write
        for name, path in _modules().items()
        if name not in allowed and not name.startswith("livelike_profiles.fake.")
        for write in _row_writes(path)
    ]
    assert writes == []


def test_the_write_finder_finds_one(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "rows.filter(pk=1).update(a=2)\nfields.update(a=2)\nrow.save()\n"
        "request.session.save()\nsuper().save()\n"
    )
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
