"""What every benchmark needs: Django set up with the test settings, and a throw-away database."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    """Set up Django with ``tests.settings`` (SQLite, or the database in DATABASE_URL)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()  # the test client's "testserver" host


@contextmanager
def throwaway_database(name: str) -> Iterator[None]:
    """Create a database of its own (never a test run's), migrate it, drop it afterwards."""
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        name = str(ROOT / "benchmarks" / f"{name}.sqlite3")
    else:
        name = f"bench_livelike_{name}"
    connection.settings_dict["TEST"]["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
