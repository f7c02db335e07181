"""Shared fixtures: the fake LiveLike service's baseline, and tests needing a server database.

Tests marked ``server_db`` need a database with real concurrency: PostgreSQL or
MariaDB/MySQL (``DATABASE_URL``). Tests marked ``postgres`` need PostgreSQL
itself. Without their database they are skipped with a visible reason, except
under ``CI=true``, where a missing server database is an error: CI must never
pass by skipping them. (A ``postgres`` test in a MariaDB/MySQL pass is only
skipped: it runs in the PostgreSQL pass.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from pytest_django import Settings

SERVER_DATABASES = ("postgresql", "mysql")  # Django's vendor names; MariaDB's is "mysql"


@pytest.hookimpl(trylast=True)  # after -m "not server_db" deselected what it deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    vendor = connection.vendor
    needs_pg = [item for item in items if item.get_closest_marker("postgres")]
    needs_server = [item for item in items if item.get_closest_marker("server_db")]
    if vendor in SERVER_DATABASES:
        missing, skip = [], []
        if vendor != "postgresql":
            skip = needs_pg
    else:
        missing = skip = needs_pg + needs_server
    if missing and os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(
            f"{len(missing)} tests need a server database and CI=true forbids skipping them: "
            "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (or mysql://...), "
            'or deselect them with -m "not server_db and not postgres"'
        )
    for item in skip:
        reason = (
            "needs PostgreSQL: set DATABASE_URL=postgres://..."
            if item.get_closest_marker("postgres")
            else "needs PostgreSQL or MariaDB/MySQL: set DATABASE_URL=postgres://... or mysql://..."
        )
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def fresh_throttle_history() -> Iterator[None]:
    """An empty cache for every test: DRF keeps its throttle history there."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def livelike_fake_options() -> dict[str, Any]:
    """The fake ``livelike_fake`` starts (the app's pytest plugin) names the application as
    ``tests/settings.py`` does."""
    return {"client_id": "test-client", "admin_token": "test-admin-token"}


@pytest.fixture
def livelike_fake_settings() -> dict[str, Any]:
    """The baseline most tests describe: ``"stored"`` mode without a client secret.

    Tests of minted tokens set ``CLIENT_SECRET`` (``fake.settings()`` gives the fake's).
    """
    return {"TIMEOUT": 2.0, "CLIENT_SECRET": ""}


class LiveLikeSettings:
    """Keys of ``settings.LIVELIKE`` changed for one test: ``livelike_settings(TIMEOUT=0.3)``.

    A change holds until the test ends (pytest-django's ``settings`` undoes it) or,
    written ``with livelike_settings(...):``, until the block ends.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __call__(self, **changes: Any) -> AbstractContextManager[None]:
        """Merge ``changes`` into ``LIVELIKE``."""
        return self._replace({**self._settings.LIVELIKE, **changes})

    def without(self, *keys: str) -> AbstractContextManager[None]:
        """Remove ``keys`` from ``LIVELIKE``, as a site that never set them."""
        return self._replace({k: v for k, v in self._settings.LIVELIKE.items() if k not in keys})

    def _replace(self, livelike: dict[str, Any]) -> AbstractContextManager[None]:
        before = self._settings.LIVELIKE
        self._settings.LIVELIKE = livelike
        return self._put_back(before)

    @contextmanager
    def _put_back(self, before: dict[str, Any]) -> Iterator[None]:
        # Runs only under ``with``: a plain call leaves the undoing to the test's end.
        try:
            yield
        finally:
            self._settings.LIVELIKE = before


@pytest.fixture
def livelike_settings(settings: Settings) -> LiveLikeSettings:
    """Change keys of ``settings.LIVELIKE`` for this test (see ``LiveLikeSettings``)."""
    return LiveLikeSettings(settings)


@pytest.fixture
def atomic_requests() -> Iterator[None]:
    """Views run in a transaction (``ATOMIC_REQUESTS``), as many sites configure them.

    Every thread's connection shares this settings dict, so it applies to all.
    """
    before = connection.settings_dict.get("ATOMIC_REQUESTS", False)
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    yield
    connection.settings_dict["ATOMIC_REQUESTS"] = before
