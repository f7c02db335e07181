"""The app's tasks worked off by two real ``db_worker`` processes (django-tasks-db), on PostgreSQL.

One pair of workers and one fake LiveLike serve the whole module: the workers
run against the test database with ``LIVELIKE`` pointing at the fake
(``TASK_BACKEND="database"``, retries and leases of seconds), and this process
logs users in and deletes them with the same settings. Nobody runs
``livelike_sync``: what heals, the tasks heal. Every wait is for an outcome
in the database or at the fake, with a deadline.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django_tasks_db.models import get_date_max

from livelike_profiles.client import get_client
from livelike_profiles.fake import FakeLiveLike
from livelike_profiles.models import LiveLikeErasure, LiveLikeProfile
from livelike_profiles.provisioning import claim_locks, ensure_profile
from livelike_profiles.provisioning import dispatch as provisioning
from livelike_profiles.support import task_queue
from tests.db_workers import Workers, task_results
from tests.factories import claim_held_elsewhere, log_in, make_user, make_users, row_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Status = LiveLikeProfile.Status

# What the workers run with, and this process too (each test adds its own keys). Retries of
# a second at most, and a lease of three seconds, so that an outage heals and a killed
# worker's task is taken over while the test waits; TIMEOUT leaves time to kill a worker
# waiting for LiveLike's answer. (Check W004 warns, in the workers' logs, that the lease is
# short for that TIMEOUT: custom ids, on here, make an attempt that outlives it harmless.)
WORKER_SETTINGS = {
    "TASK_BACKEND": "database",
    "TIMEOUT": 2.0,
    "LEASE_SECONDS": 3,
    "RETRY_BASE_SECONDS": 0.5,
    "RETRY_MAX_SECONDS": 1.0,
}
WORKERS = 2

PROVISION_USERS = "livelike_profiles.tasks.provision_users"
PROVISION_USER = "livelike_profiles.tasks.provision_user"
ERASE = "livelike_profiles.tasks.erase"
UNDEFERRED = get_date_max()  # the queue's run_after of a task to run at once


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLiveLike]:
    """One fake LiveLike for the module: the workers know its address from their start."""
    with FakeLiveLike(client_id="test-client", admin_token="test-admin-token") as fake:
        yield fake


@pytest.fixture(scope="module")
def worker_pool(
    django_db_setup: None, fake: FakeLiveLike, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    pool = Workers(fake.settings(**WORKER_SETTINGS), tmp_path_factory.mktemp("db_workers"))
    try:
        pool.start(WORKERS)
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def workers(
    worker_pool: Workers, transactional_db: None, fake: FakeLiveLike, settings: Any
) -> Iterator[Workers]:
    """The pool, two workers alive; the fake forgetful; this process's ``LIVELIKE`` the workers'."""
    worker_pool.keep(WORKERS)
    fake.reset()
    settings.LIVELIKE = {**settings.LIVELIKE, **worker_pool.livelike}
    yield worker_pool
    worker_pool.quiesce()  # before the database is emptied for the next test


def livelike_calls_from_this_process(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, each request this process (not a worker) sends to LiveLike."""
    calls: list[str] = []
    send = requests.Session.request

    def spy(session: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(f"{method} {url}")
        return send(session, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    return calls


def log_in_twice_at_once(users: list, pairs: int = 5) -> None:
    """Every user logs in twice at the same moment, from two threads: ``pairs`` pairs of them.

    Each thread has its own database connection; a failed login fails the test.
    """
    start = threading.Barrier(2 * pairs)
    errors: list[BaseException] = []

    def run(share: list) -> None:
        try:
            start.wait()
            for user in share:
                log_in(user)
        except BaseException as error:  # raised below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(users[pair::pairs],))
        for pair in range(pairs)
        for _twin in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def all_active(users: list) -> bool:
    rows = LiveLikeProfile.objects.filter(user_id__in=[user.pk for user in users])
    return rows.filter(status=Status.ACTIVE).count() == len(users)


def assert_one_profile_each(fake: FakeLiveLike, users: list, posts: int | None = None) -> None:
    """Exactly one profile per user at LiveLike, each the user's active row's, its token good."""
    assert fake.create_count == len(users)
    if posts is not None:
        assert fake.count_calls("POST") == posts
    rows = LiveLikeProfile.objects.filter(user_id__in=[user.pk for user in users])
    assert Counter(row.status for row in rows) == {Status.ACTIVE: len(users)}
    fake.latency = 0.0  # what follows only asks
    for row in rows:
        assert fake.profile(row.profile_id).custom_id == row.custom_id
        # The token LiveLike issued, or one minted for a profile found again: LiveLike's say.
        assert get_client().get_own_profile(row.access_token).id == row.profile_id


def delete_statuses(fake: FakeLiveLike) -> Counter[int]:
    return Counter(call.status for call in fake.calls if call.method == "DELETE")


# -- background provisioning ----------------------------------------------------------------


def test_background_logins_of_many_users_give_each_one_profile(
    workers, fake, livelike_settings, monkeypatch
):
    livelike_settings(PROVISION_ON_LOGIN="background")
    fake.latency = 0.05  # a task's create in flight while its follow-up and the rival login run
    users = make_users(50)
    from_logins = livelike_calls_from_this_process(monkeypatch)
    log_in_twice_at_once(users)
    assert from_logins == []  # no login asked LiveLike anything
    # The two logins of each user enqueued one task between them (follow-ups are deferred).
    from_the_logins = task_results().filter(task_path=PROVISION_USER, run_after=get_date_max())
    assert sorted(task.args_kwargs["args"][0] for task in from_the_logins) == sorted(
        user.pk for user in users
    )
    workers.wait_for(lambda: all_active(users), "every user's profile")
    workers.settle()
    assert_one_profile_each(fake, users, posts=len(users))


# -- healing with no cron ---------------------------------------------------------------------


def test_an_outage_at_first_logins_heals_by_the_retry_tasks(workers, fake):
    users = make_users(10)
    # Every first login's create fails (stored mode asks LiveLike in the login), and as
    # many retries after them: then LiveLike is back.
    fake.fail_next_creates(2 * len(users))
    for user in users:
        log_in(user)
    workers.wait_for(lambda: all_active(users), "every profile, by the retries alone", 30)
    workers.settle()
    assert_one_profile_each(fake, users, posts=3 * len(users))
    statuses = Counter(call.status for call in fake.calls if call.method == "POST")
    assert statuses[503] == 2 * len(users)
    rows = LiveLikeProfile.objects.filter(user_id__in=[user.pk for user in users])
    assert sum(row.attempts for row in rows) == 3 * len(users)


def test_erasures_across_a_delete_outage_complete_by_the_tasks_alone(workers, fake, monkeypatch):
    users = make_users(20)
    profile_ids = [ensure_profile(user).profile_id for user in users]
    fake.fail_next_deletes(2 * len(users))  # every first DELETE, and as many retries
    from_deletions = livelike_calls_from_this_process(monkeypatch)
    for user in users[:10]:
        user.delete()  # each deletion's erasure enqueued after its commit
    get_user_model()._default_manager.filter(pk__in=[user.pk for user in users[10:]]).delete()
    assert from_deletions == []  # nothing asked of LiveLike in the deleting requests
    workers.wait_for(lambda: not LiveLikeErasure.objects.exists(), "the outbox to empty", 30)
    workers.settle()
    assert sorted(profile.id for profile in fake.deleted) == sorted(profile_ids)
    assert delete_statuses(fake) == {503: 2 * len(users), 200: len(users)}  # each erased once
    assert fake.profiles == []


# -- exactly once, whatever the delivery -------------------------------------------------------


def test_a_provisioning_delivered_twice_creates_one_profile(workers, fake):
    users = make_users(10)
    fake.latency = 0.1  # one delivery's create in flight while the other runs
    with transaction.atomic():  # both deliveries on the queue at once
        for user in users:
            assert task_queue.enqueue("provision_user", user.pk)
            assert task_queue.enqueue("provision_user", user.pk)
    workers.wait_for(lambda: all_active(users), "every user's profile")
    workers.settle()
    assert_one_profile_each(fake, users, posts=len(users))
    ran = task_results().filter(task_path=PROVISION_USER)
    assert len({row.worker_ids[-1] for row in ran}) == WORKERS  # both workers took part


def test_an_erasure_delivered_twice_deletes_each_profile_once(workers, fake):
    users = make_users(10)
    profile_ids = [ensure_profile(user).profile_id for user in users]
    fake.latency = 0.1  # one delivery's DELETE in flight while the other runs
    with transaction.atomic():
        get_user_model()._default_manager.filter(pk__in=[user.pk for user in users]).delete()
        erasures = list(LiveLikeErasure.objects.values_list("pk", flat=True))
        # The second delivery: the deletion enqueues the first once this commits.
        assert task_queue.enqueue("erase", erasures)
    assert task_results().filter(task_path=ERASE, run_after=UNDEFERRED).count() == 2
    workers.wait_for(lambda: not LiveLikeErasure.objects.exists(), "the outbox to empty")
    workers.settle()
    assert sorted(profile.id for profile in fake.deleted) == sorted(profile_ids)
    assert delete_statuses(fake) == {200: len(users)}


def test_a_worker_killed_mid_create_is_taken_over_by_the_other(workers, fake):
    user = make_user()
    fake.lose_next_create_answers(1, delay=60)  # LiveLike creates it; its answer is held
    assert task_queue.enqueue("provision_user", user.pk)
    assert fake.wait_for_held(1, timeout=30), "no worker reached LiveLike"
    (task,) = [row for row in workers.running_tasks() if row.task_path == PROVISION_USER]
    killed = task.worker_ids[-1]
    workers.kill(killed)
    fake.release_held()
    row = row_of(user)
    # Killed mid-task: the claim stands, nothing recorded, the profile made at LiveLike.
    assert (row.status, row.profile_id, fake.create_count) == (Status.PENDING, None, 1)
    assert row.claim is not None
    # The other worker runs the follow-up enqueued for the lease's end, and finds the
    # profile LiveLike made by its custom id.
    workers.wait_for(lambda: row_of(user).is_active, "the profile, by the other worker")
    workers.settle()
    assert_one_profile_each(fake, [user])
    assert row_of(user).profile_id == fake.profiles[0].id
    assert task_results().get(pk=task.pk).status == "RUNNING"  # as the killed worker left it
    others = task_results().filter(task_path=PROVISION_USER).exclude(pk=task.pk)
    assert others.exists() and all(killed not in row.worker_ids for row in others)


def test_a_backfill_batch_of_a_killed_worker_is_taken_over(workers, fake):
    users = [make_user(n) for n in range(5)]
    fake.lose_next_create_answers(1, delay=60)  # the batch's first create: answer held
    out = io.StringIO()
    call_command("livelike_provision", "--enqueue", "--batch-size", "5", stdout=out)
    assert fake.wait_for_held(1, timeout=30), "no worker reached LiveLike"
    (task,) = [row for row in workers.running_tasks() if row.task_path == PROVISION_USERS]
    workers.kill(task.worker_ids[-1])
    fake.release_held()
    # The batch's follow-up, enqueued for the lease's end, finishes the other four and
    # finds the first one's profile by its custom id.
    active = LiveLikeProfile.objects.filter(user__in=users, status=Status.ACTIVE)
    workers.wait_for(lambda: active.count() == len(users), "the batch, by the other worker")
    workers.settle()
    assert_one_profile_each(fake, users)


# -- a login never waits for a rival's claim -------------------------------------------------


@pytest.mark.parametrize("on_login", [True, "background"])
def test_a_login_returns_at_once_while_another_holds_the_claim(
    workers, fake, livelike_settings, monkeypatch, on_login
):
    livelike_settings(PROVISION_ON_LOGIN=on_login, WAIT_SECONDS=30)
    waits: list[str] = []

    def waited(how: str) -> Any:
        def record(*args: Any) -> None:
            waits.append(how)
            raise AssertionError(f"the login waited for the claim ({how})")

        return record

    monkeypatch.setattr(provisioning, "_sleep", waited("poll"))
    monkeypatch.setattr(claim_locks, "wait_for_release", waited("lock"))
    from_login = livelike_calls_from_this_process(monkeypatch)
    user = make_user()
    claim_held_elsewhere(user)  # another process is creating the profile right now
    log_in(user)
    assert waits == [] and from_login == []  # neither woken by the lock, nor polling
    if on_login == "background":
        # Nor enqueued anything: the claim's holder records the outcome.
        assert not task_results().filter(task_path=PROVISION_USER).exists()
    assert row_of(user).status == Status.PENDING and fake.create_count == 0
