"""Shared fixtures: the fake LiveLike service, and PostgreSQL-only tests.

Tests marked ``postgres`` need PostgreSQL. Without ``DATABASE_URL`` they are
skipped with a visible reason, except under ``CI=true``, where a missing
PostgreSQL is an error: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.db import connection

from livelike_profiles.fake import FakeLiveLike


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.hookimpl(trylast=True)  # after -m "not postgres" deselected what it deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_pg = [item for item in items if item.get_closest_marker("postgres")]
    if not needs_pg or _on_postgres():
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(
            f"{len(needs_pg)} tests need PostgreSQL and CI=true forbids skipping them: "
            "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in needs_pg:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def fresh_throttle_history() -> Iterator[None]:
    """An empty cache for every test: DRF keeps its throttle history there."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fake_livelike(settings) -> Iterator[FakeLiveLike]:
    """A fake LiveLike service on a free port, with ``settings.LIVELIKE`` pointing at it.

    The site is in ``"stored"`` mode without a client secret, the baseline most
    tests describe; tests of minted tokens set ``CLIENT_SECRET`` (``fake.settings()``
    gives the fake's).
    """
    with FakeLiveLike(client_id="test-client", admin_token="test-admin-token") as fake:
        settings.LIVELIKE = fake.settings(TIMEOUT=2.0, CLIENT_SECRET="")
        yield fake
