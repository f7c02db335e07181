"""A user who no longer exists: a clear answer, one INSERT tried at most, nothing written.

Such a user is an instance loaded before its account was deleted, or a stateless
token's user (simplejwt's ``TokenUser``) whose account is gone. Both token modes,
through every way in: ``ensure_profile``, the middleware, the API and the login
receiver. LiveLike is the fake, over real sockets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.http import HttpRequest
from rest_framework.test import APIClient

from livelike_profiles import receivers
from livelike_profiles.exceptions import UserGone
from livelike_profiles.middleware import aget_livelike_profile, get_livelike_profile
from livelike_profiles.models import LiveLikeErasure, LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import make_user
from tests.provisioning.test_ensure_profile import StatelessUser

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/livelike/profile/"


@pytest.fixture(params=["stored", "client-generated"])
def mode(request, livelike_fake, settings) -> str:
    """Each test in both token modes, against the fake."""
    settings.LIVELIKE = livelike_fake.settings(ACCESS_TOKENS=request.param, TIMEOUT=2.0)
    return request.param


@pytest.fixture
def gone_user():
    """A user instance loaded before its account was deleted."""
    user = make_user()
    type(user)._default_manager.filter(pk=user.pk).delete()
    return user


def expected_queries(mode: str) -> int:
    """What asking for a gone user's profile may cost: no retry, no loop.

    The row's SELECT, the INSERT refused, (stored mode) the claim's conditional UPDATE,
    the row's SELECT again, and the user's SELECT that tells why; on PostgreSQL and
    MariaDB/MySQL the stored mode's claim lock is taken and released.
    """
    if mode == "client-generated":
        return 4
    return 5 + (2 if connection.vendor in ("postgresql", "mysql") else 0)


class Statements(list):
    """The SQL statements run on this thread's connection, as sent (failed ones too).

    Not ``CaptureQueriesContext``: MariaDB/MySQL's driver cannot say what a failed
    statement was, and Django logs it as ``None``.
    """

    def __call__(self, execute, sql, params, many, context):
        self.append(sql)
        return execute(sql, params, many, context)


@contextmanager
def statements() -> Iterator[Statements]:
    seen = Statements()
    with connection.execute_wrapper(seen):
        yield seen


def inserts(captured: list[str]) -> int:
    return sum(sql.lstrip().upper().startswith("INSERT") for sql in captured)


def assert_nothing_written(fake) -> None:
    assert not LiveLikeProfile.objects.exists()
    assert not LiveLikeErasure.objects.exists()
    assert fake.calls == []


def test_ensure_profile_raises_user_gone_after_one_insert(mode, gone_user, livelike_fake):
    with statements() as captured, pytest.raises(UserGone):
        ensure_profile(gone_user)
    assert inserts(captured) == 1
    assert len(captured) == expected_queries(mode)
    assert_nothing_written(livelike_fake)


def test_a_stateless_users_gone_account_raises_user_gone(mode, gone_user, livelike_fake):
    with statements() as captured, pytest.raises(UserGone):
        ensure_profile(StatelessUser(gone_user.pk))
    assert inserts(captured) == 1
    assert len(captured) == expected_queries(mode)
    assert_nothing_written(livelike_fake)


def test_a_gone_user_logs_nothing_at_error(mode, gone_user, livelike_fake, caplog):
    with caplog.at_level(logging.DEBUG, logger="livelike_profiles"), pytest.raises(UserGone):
        ensure_profile(gone_user)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_inside_a_transaction_a_gone_user_writes_nothing_and_logs_no_error(
    mode, gone_user, livelike_fake, caplog
):
    # Inside a transaction nothing may be claimed: stored mode looks again after the
    # commit (and finds the user gone, quietly); client-generated mode inserts, in a
    # savepoint, a row the commit would refuse (a deferred foreign key), so it asks first.
    with caplog.at_level(logging.DEBUG), transaction.atomic():
        try:
            row = ensure_profile(gone_user)
        except UserGone:
            row = None
        assert row is None or not row.is_active
    assert_nothing_written(livelike_fake)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_the_middleware_answers_none(mode, gone_user, livelike_fake):
    request = HttpRequest()
    request.user = gone_user
    with statements() as captured:
        assert get_livelike_profile(request) is None
        assert get_livelike_profile(request) is None  # remembered: no second try
    assert inserts(captured) == 1
    assert len(captured) == expected_queries(mode)
    assert_nothing_written(livelike_fake)


def test_the_async_middleware_answers_none(mode, gone_user, livelike_fake):
    request = HttpRequest()
    request.user = StatelessUser(gone_user.pk)
    with statements() as captured:
        assert async_to_sync(aget_livelike_profile)(request) is None
    assert inserts(captured) == 1
    # The async read of the row first, then the same as the sync way in.
    assert len(captured) == 1 + expected_queries(mode)
    assert_nothing_written(livelike_fake)


@pytest.mark.parametrize("method", ["get", "patch"])
def test_the_api_says_the_account_no_longer_exists(mode, gone_user, livelike_fake, method):
    client = APIClient()
    client.force_authenticate(user=StatelessUser(gone_user.pk))
    with statements() as captured:
        response = getattr(client, method)(URL, {"nickname": "Ghost"}, format="json")
    # DRF's answer to failed authentication: 403 behind session authentication
    # (401 with WWW-Authenticate behind an authentication that sends one).
    assert response.status_code == 403
    assert response.json() == {"detail": "This account no longer exists."}
    assert inserts(captured) == 1
    assert_nothing_written(livelike_fake)


def test_the_login_receivers_do_nothing(mode, gone_user, livelike_fake):
    with statements() as captured:
        receivers.provision_at_login(sender=type(gone_user), user=gone_user, request=None)
        receivers.retry_nickname_at_login(sender=type(gone_user), user=gone_user, request=None)
    assert inserts(captured) == 1
    assert len(captured) == expected_queries(mode)
    assert_nothing_written(livelike_fake)


def test_the_backfill_counts_a_user_deleted_meanwhile_as_gone(mode, gone_user, livelike_fake):
    from livelike_profiles.sync.backfill import Outcome, provision_user

    with statements() as captured:
        assert provision_user(gone_user).outcome == Outcome.GONE
    assert inserts(captured) == 1
    assert_nothing_written(livelike_fake)
