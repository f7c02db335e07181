"""PostgreSQL and MariaDB/MySQL: the rivals of a claim are woken by its owner's lock, and
never trust it.

Real threads, each with its own database connection; LiveLike is the fake
service over real sockets, holding a create's answer to keep it in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import claim_locks, ensure_profile
from livelike_profiles.provisioning import dispatch as provisioning
from tests.db_locks import claim_lock_held_here, claim_lock_holder, terminate
from tests.factories import fresh, make_due, make_user, row_of

pytestmark = [pytest.mark.server_db, pytest.mark.django_db(transaction=True)]

Status = LiveLikeProfile.Status


class InThread:
    """``target()`` in a thread of its own (its own connection): its result, or what it raised."""

    def __init__(self, target: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = target()
            except BaseException as error:  # raised again by join()
                self.error = error
            finally:
                connection.close()

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def join(self, timeout: float = 60) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the thread never finished"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Every polling pause a caller takes (it still pauses)."""
    taken: list[float] = []
    real = provisioning._sleep

    def recorded(seconds: float) -> None:
        taken.append(seconds)
        real(seconds)

    monkeypatch.setattr(provisioning, "_sleep", recorded)
    return taken


@pytest.fixture
def waiting(monkeypatch) -> threading.Event:
    """Set when a rival starts waiting on the claim's lock."""
    started = threading.Event()
    real = claim_locks.wait_for_release

    def wait(*args: Any) -> claim_locks.LockWait:
        started.set()
        return real(*args)

    monkeypatch.setattr(claim_locks, "wait_for_release", wait)
    return started


def test_a_rival_is_woken_by_the_recorded_outcome_not_by_polling(
    livelike_fake, livelike_settings, sleeps, waiting
):
    livelike_settings(WAIT_SECONDS=30, TIMEOUT=30)
    user = make_user()
    livelike_fake.lose_next_create_answers(1, delay=30)
    owner = InThread(lambda: ensure_profile(fresh(user)))
    assert livelike_fake.wait_for_held(1, timeout=10), "the owner never reached LiveLike"
    assert claim_lock_holder(user) is not None  # held for the whole call

    rival = InThread(lambda: ensure_profile(fresh(user)))
    assert waiting.wait(10), "the rival never waited"
    livelike_fake.release_held()

    created = owner.join()
    row = rival.join()
    assert created.is_active and row.is_active
    assert row.profile_id == created.profile_id and row.access_token == created.access_token
    assert sleeps == []  # woken by the lock: never polled
    assert livelike_fake.create_count == 1 and livelike_fake.count_calls("POST") == 1
    assert claim_lock_holder(user) is None  # released on the way out


def test_a_woken_rival_leaves_the_lock_free_on_its_connection(
    livelike_fake, livelike_settings, sleeps, waiting
):
    """MariaDB/MySQL has no shared named lock: a rival takes the exclusive one to learn
    that it is free, and lets it go at once, its connection staying open."""
    livelike_settings(WAIT_SECONDS=30, TIMEOUT=30)
    user = make_user()
    livelike_fake.lose_next_create_answers(1, delay=30)
    owner = InThread(lambda: ensure_profile(fresh(user)))
    assert livelike_fake.wait_for_held(1, timeout=10), "the owner never reached LiveLike"

    def release_once_the_rival_waits() -> None:
        assert waiting.wait(10), "the rival never waited"
        livelike_fake.release_held()

    releaser = InThread(release_once_the_rival_waits)
    row = ensure_profile(fresh(user))  # the rival: this thread, whose connection stays open
    releaser.join()
    created = owner.join()
    assert row.is_active and row.profile_id == created.profile_id
    assert sleeps == []
    assert claim_lock_holder(user) is None  # not even this connection holds it


def test_ten_concurrent_first_logins_one_profile_and_nobody_polls(
    livelike_fake, livelike_settings, sleeps
):
    livelike_settings(WAIT_SECONDS=30)
    livelike_fake.latency = 0.03
    user = make_user()
    start = threading.Barrier(10)

    def first_login() -> LiveLikeProfile:
        start.wait()
        return ensure_profile(fresh(user))

    rows = [thread.join() for thread in [InThread(first_login) for _ in range(10)]]
    assert {row.profile_id for row in rows} == {row_of(user).profile_id}
    assert all(row.is_active for row in rows)
    assert sleeps == []
    assert livelike_fake.create_count == 1 and livelike_fake.count_calls("POST") == 1


def test_an_owner_whose_lock_is_lost_costs_a_wait_never_a_second_profile(
    livelike_fake, livelike_settings, sleeps, caplog
):
    livelike_settings(WAIT_SECONDS=0.5, TIMEOUT=30, LEASE_SECONDS=60)
    user = make_user()
    livelike_fake.lose_next_create_answers(1, delay=30)
    owner = InThread(lambda: ensure_profile(fresh(user)))
    assert livelike_fake.wait_for_held(1, timeout=10), "the owner never reached LiveLike"
    session = claim_lock_holder(user)
    assert session is not None
    terminate(session)
    # Its connection gone, the lock is free while the claim is live: the
    # rival must not take that for the end of the attempt.
    rival = ensure_profile(fresh(user))
    assert rival.status == Status.PENDING and not rival.is_active
    assert sleeps  # fell back to polling the row until WAIT_SECONDS
    livelike_fake.release_held()
    owner.join()  # could not record its outcome: the lease frees the row later
    assert row_of(user).status == Status.PENDING
    assert livelike_fake.create_count == 1 and livelike_fake.count_calls("POST") == 1

    # After the lease, the profile LiveLike made is recovered by its custom id.
    livelike_settings(CLIENT_SECRET=livelike_fake.settings()["CLIENT_SECRET"])
    make_due(user)
    row = ensure_profile(fresh(user))
    assert row.is_active and row.profile_id == livelike_fake.profile_by_custom_id(row.custom_id).id
    assert livelike_fake.create_count == 1


def test_the_lock_is_released_when_the_claim_is_lost(livelike_fake, livelike_settings):
    """A caller that takes the lock but loses the claim (the row decides) lets it go at once."""
    livelike_settings(WAIT_SECONDS=0)
    user = make_user()
    assert ensure_profile(user).is_active
    LiveLikeProfile.objects.filter(user_id=user.pk).update(status=Status.FAILED)
    make_due(user)
    user = fresh(user)
    assert user.livelike_profile.status == Status.FAILED  # cached: claimable, as we see it
    # Another process claims it meanwhile: our lock is free, the claim is not.
    LiveLikeProfile.objects.claim(user, has_row=True)
    row = ensure_profile(user)
    assert row.status == Status.PENDING and row.attempts == 2
    assert claim_lock_holder(user) is None
    assert livelike_fake.count_calls("POST") == 1


def test_a_leaked_lock_costs_a_wait_never_the_profile(livelike_fake, livelike_settings):
    """A lock left held by a session with no claim (a pooler's) delays a claim, never stops it."""
    livelike_settings(WAIT_SECONDS=0.3)
    user = make_user()
    with claim_lock_held_here(user):
        row = InThread(lambda: ensure_profile(fresh(user))).join()
    assert row.is_active
    assert livelike_fake.create_count == 1


def _refuse_the_locks(monkeypatch) -> None:
    """Make the database itself refuse every lock statement, as a MariaDB Galera cluster does.

    The lock is asked for with an argument the server rejects: a row of two values
    for MariaDB/MySQL's lock name, text for PostgreSQL's bigint key.
    """
    if connection.vendor == "mysql":
        monkeypatch.setattr(claim_locks, "_name", lambda *args: ("not", "one name"))
    else:
        monkeypatch.setattr(claim_locks, "_key", lambda *args: "not a number")


def test_a_database_refusing_the_claim_lock_still_gives_exactly_one_profile(
    livelike_fake, livelike_settings, monkeypatch, caplog
):
    livelike_settings(TIMEOUT=5.0)
    _refuse_the_locks(monkeypatch)
    users = [make_user(n) for n in range(3)]

    rows = [ensure_profile(fresh(user)) for user in users for _ in range(2)]

    assert all(row.is_active for row in rows)
    assert livelike_fake.create_count == len(users)
    assert "LiveLike claim lock refused by the database" in caplog.text
