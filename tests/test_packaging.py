"""The package's metadata claims what the version matrix (noxfile.py) tests: no more, no less."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def matrix_cells() -> list[tuple[str, str, str]]:
    """The (python, django, drf) of every ``nox.param`` in noxfile.py, read without nox."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    return [
        tuple(ast.literal_eval(arg) for arg in node.args)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "param"
    ]


def metadata() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def classified(prefix: str) -> set[str]:
    """The versions (``X.Y``) the classifiers starting with ``prefix`` name."""
    versions = (c.removeprefix(prefix) for c in metadata()["classifiers"] if c.startswith(prefix))
    return {version for version in versions if re.fullmatch(r"\d+\.\d+", version)}


def test_the_matrix_reads_as_cells():
    cells = matrix_cells()
    assert len(cells) >= 6
    assert all(len(cell) == 3 for cell in cells)


def test_python_classifiers_are_the_pythons_the_matrix_runs():
    pythons = {python for python, _, _ in matrix_cells()}
    assert classified("Programming Language :: Python :: ") == pythons


def test_requires_python_starts_at_the_oldest_python_tested():
    oldest = min(
        (python for python, _, _ in matrix_cells()), key=lambda v: tuple(map(int, v.split(".")))
    )
    assert metadata()["requires-python"] == f">={oldest}"


def test_django_classifiers_are_the_djangos_the_matrix_runs():
    djangos = {django for _, django, _ in matrix_cells()}
    assert classified("Framework :: Django :: ") == djangos


def test_each_django_runs_with_the_oldest_and_newest_drf():
    cells = matrix_cells()
    for django in {django for _, django, _ in cells}:
        assert {drf for _, d, drf in cells if d == django} == {"oldest", "newest"}, django


def test_the_oldest_drf_allowed_is_one_the_matrix_runs():
    source = (ROOT / "noxfile.py").read_text()
    (allowed,) = [
        dep for dep in metadata()["dependencies"] if dep.startswith("djangorestframework")
    ]
    floor = allowed.removeprefix("djangorestframework>=")
    assert f'"=={floor}.*"' in source
