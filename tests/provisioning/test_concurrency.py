"""Exactly one profile per user under concurrent logins, several processes, and crashes.

Every login goes through Django's real login view; every thread has its own
database connection; LiveLike is the fake service over real sockets.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import log_in, make_due, make_user, make_users
from tests.workers import login as login_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
USERS, LOGINS = 50, 20


def assert_exactly_one_profile_each(fake, users, create_attempts: int | None = None) -> None:
    """The guarantee, checked at LiveLike and in the database."""
    assert fake.create_count == len(users), "LiveLike created more profiles than users"
    # Not even an attempt at a second create: the database, not LiveLike's 409, decided.
    assert fake.count_calls("POST") == (create_attempts or len(users))
    rows = list(LiveLikeProfile.objects.filter(user_id__in=[u.pk for u in users]))
    assert len(rows) == len(users)
    assert Counter(row.status for row in rows) == {LiveLikeProfile.Status.ACTIVE: len(users)}
    for row in rows:
        issued = fake.profile(row.profile_id)
        assert row.access_token == issued.access_token
        assert issued.custom_id == (row.custom_id or None)


def login_concurrently(users, logins: int, threads: int) -> None:
    """Every user logs in ``logins`` times, from ``threads`` threads with their own connections."""
    login_in_threads([str(user.pk) for user in users], logins, threads)


@pytest.mark.parametrize(
    ("atomic", "custom_ids"),
    [(False, True), (True, True), (False, False)],
    ids=["autocommit", "atomic_requests", "plain_create"],
)
def test_concurrent_logins_in_threads_create_one_profile_per_user(
    request, livelike_fake, livelike_settings, atomic, custom_ids
):
    if atomic:
        request.getfixturevalue("atomic_requests")
    # A little latency keeps each remote create in flight while other logins arrive.
    livelike_fake.latency = 0.02
    livelike_settings(WAIT_SECONDS=10, CUSTOM_IDS=custom_ids)
    users = make_users(USERS)
    login_concurrently(users, LOGINS, threads=40)
    assert_exactly_one_profile_each(livelike_fake, users)


@pytest.mark.parametrize("custom_ids", [True, False], ids=["custom_ids", "plain_create"])
def test_concurrent_retries_of_a_failed_row_make_one_attempt(
    livelike_fake, livelike_settings, custom_ids
):
    """Twenty requests find the same failed row due for a retry: one of them retries."""
    livelike_settings(WAIT_SECONDS=10, CUSTOM_IDS=custom_ids)
    user = make_user()
    livelike_fake.fail_next_creates(1, status=503)
    assert ensure_profile(user).status == LiveLikeProfile.Status.FAILED
    make_due(user)
    livelike_fake.latency = 0.05  # the winner's create is in flight while the others arrive
    login_concurrently([user], 20, threads=20)
    # The failed attempt, and exactly one retry among the twenty.
    assert_exactly_one_profile_each(livelike_fake, [user], create_attempts=2)
    assert LiveLikeProfile.objects.get(user=user).attempts == 2


def worker_env(fake, **livelike) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings")
    env["WORKER_DB_NAME"] = str(connection.settings_dict["NAME"])
    env["WORKER_LIVELIKE"] = json.dumps(fake.settings(**livelike))
    return env


@pytest.mark.server_db
@pytest.mark.parametrize("atomic", [False, True], ids=["autocommit", "atomic_requests"])
def test_concurrent_logins_in_four_processes_create_one_profile_per_user(livelike_fake, atomic):
    livelike_fake.latency = 0.02
    users = make_users(USERS)
    env = worker_env(livelike_fake, WAIT_SECONDS=10)
    env["WORKER_ATOMIC"] = "1" if atomic else "0"
    pks = ",".join(str(user.pk) for user in users)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.workers", "login", "--users", pks]
            + ["--times", str(LOGINS // 4), "--threads", "8"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0 and out.strip() == "ok", err[-2000:]
    assert_exactly_one_profile_each(livelike_fake, users)


def test_process_killed_between_remote_create_and_local_save(livelike_fake, livelike_settings):
    """A worker dies while LiveLike has created the profile but before the row is saved."""
    user = make_user()
    livelike_fake.lose_next_create_answers(1, delay=60)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.workers", "ensure", str(user.pk)],
        cwd=ROOT,
        env=worker_env(livelike_fake, TIMEOUT=60, LEASE_SECONDS=60),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # The profile exists at LiveLike and its answer is in flight: kill now.
        assert livelike_fake.wait_for_held(1, timeout=30), "the worker never reached LiveLike"
        assert livelike_fake.create_count == 1
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    row = LiveLikeProfile.objects.get(user_id=user.pk)
    assert row.status == LiveLikeProfile.Status.PENDING and row.profile_id is None
    livelike_fake.release_held()

    # Within the lease nobody takes over (the dead worker might still be alive).
    livelike_settings(WAIT_SECONDS=0)
    assert ensure_profile(user).status == LiveLikeProfile.Status.PENDING
    assert livelike_fake.count_calls("POST") == 1

    # After the lease, the next attempt recovers the very profile LiveLike made
    # (read with a token minted for its custom id: the lookup returns no token).
    secret = livelike_fake.settings()["CLIENT_SECRET"]
    livelike_settings(CLIENT_SECRET=secret)
    make_due(user)
    row = ensure_profile(type(user)._default_manager.get(pk=user.pk))
    created = livelike_fake.profile_by_custom_id(row.custom_id)
    assert row.is_active and row.profile_id == created.id
    assert get_client().get_own_profile(row.access_token).id == created.id
    assert livelike_fake.create_count == 1


def test_repeat_logins_from_many_threads_after_provisioning(livelike_fake):
    user = make_user()
    log_in(user)
    calls = len(livelike_fake.calls)
    login_concurrently([user], 20, threads=10)
    assert len(livelike_fake.calls) == calls
