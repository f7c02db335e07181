"""The version matrix: every Django, Python and DRF the package supports, each on SQLite.

    make matrix                                   # every cell (installs nox first)
    .venv/bin/nox -l                              # the cells
    .venv/bin/nox -s "tests(python='3.13', django='6.1', drf='oldest')"  # one cell

Each cell is a virtual environment of its own (under ``.nox/``, reused) with
one Django and one djangorestframework, the app installed in it, and the test
suite run on SQLite (unless ``MATRIX_SQLITE=no``); then, when ``DATABASE_URL``
is set (PostgreSQL or MariaDB/MySQL), on that database too. The browser test
(``tests/e2e``) and the custom-user pass run once, in ``make test``. Pythons
are looked up on ``PATH`` (``make matrix`` adds pyenv's). Arguments after
``--`` go to pytest.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True  # a missing Python fails, never skips

DJANGO = {
    "5.2": "Django>=5.2,<6.0",
    "6.0": "Django>=6.0,<6.1",
    "6.1": "Django>=6.1,<6.2",
}
# The oldest djangorestframework each Django works with (the oldest pyproject.toml allows,
# 3.15, where it does: 3.15 to 3.17 fail on Django 6.1, which removed what they import),
# and the newest there is.
DRF_OLDEST = {"5.2": "==3.15.*", "6.0": "==3.15.*", "6.1": "==3.18.0"}
# Django 6.x needs Python 3.12 or newer. Every cell is tagged "other-versions" but the
# one `make test` runs in .venv (Python 3.11, Django 5.2, the newest DRF): CI runs those on
# SQLite, and the "newest-django" one on PostgreSQL and MariaDB too (MATRIX_SQLITE=no).
CELLS = [
    nox.param("3.11", "5.2", "oldest", tags=["other-versions"]),
    nox.param("3.11", "5.2", "newest"),
    nox.param("3.12", "6.0", "oldest", tags=["other-versions"]),
    nox.param("3.13", "6.0", "newest", tags=["other-versions"]),
    nox.param("3.12", "6.1", "newest", tags=["other-versions", "newest-django"]),
    nox.param("3.13", "6.1", "oldest", tags=["other-versions"]),
]

PYTEST = ("python", "-m", "pytest", "-p", "no:cacheprovider", "--ignore=tests/e2e")


@nox.session
@nox.parametrize(("python", "django", "drf"), CELLS)
def tests(session: nox.Session, django: str, drf: str) -> None:
    """One cell: the suite on SQLite, then on ``DATABASE_URL``'s database when it is set."""
    database_url = os.environ.get("DATABASE_URL", "")
    drivers = ["mysqlclient"] if database_url.startswith(("mysql", "mariadb")) else []
    # One resolution: the app's own requirements, held to this cell's versions.
    rest_framework = "djangorestframework" + (DRF_OLDEST[django] if drf == "oldest" else "")
    session.install(
        "-e", ".", "-r", "tests/requirements.txt", DJANGO[django], rest_framework, *drivers
    )
    session.run("python", "-c", _VERSIONS)
    # Each cell its own test databases (SQLite's is a file in tests/), so that cells
    # started from several shells at once do not share one.
    cell = f"test_ll_{session.python}_{django}_{drf}".replace(".", "")
    if os.environ.get("MATRIX_SQLITE") != "no":  # CI's database runs skip it: done already
        session.run(
            *PYTEST,
            "-m",
            "not server_db and not postgres and not e2e",
            *session.posargs,
            env={"DATABASE_URL": None, "TEST_DATABASE_NAME": cell},
        )
    if database_url:
        session.run(*PYTEST, "-m", "not e2e", *session.posargs, env={"TEST_DATABASE_NAME": cell})


_VERSIONS = (
    "import sys, django, rest_framework; "
    "print('Python', sys.version.split()[0], '| Django', django.__version__, "
    "'| djangorestframework', rest_framework.VERSION)"
)
