"""What goes on the site's task queue (``TASK_BACKEND``), when, and with what: ids only.

The "dummy" backend keeps what is enqueued and runs nothing; the "default"
one (Immediate) runs each task at once and cannot defer. LiveLike is the fake.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeErasure, LiveLikeProfile
from livelike_profiles.provisioning import claim_locks, ensure_profile
from livelike_profiles.provisioning import dispatch as provisioning
from livelike_profiles.support import task_queue
from tests.factories import claim_held_elsewhere, log_in, make_user, make_users, row_of

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status


@pytest.fixture
def queue(livelike_fake, settings):
    """The dummy backend, emptied: what the app enqueues, unrun."""
    settings.LIVELIKE = livelike_fake.settings(TASK_BACKEND="dummy", TIMEOUT=2.0)
    backend = task_queue.backend()
    backend.clear()
    yield backend
    backend.clear()


def enqueued(backend) -> list[tuple[str, list, object]]:
    """Each task enqueued: its name, its arguments and when it may run."""
    return [(r.task.name, list(r.args), r.task.run_after) for r in backend.results]


def run(backend) -> None:
    """Run what is enqueued and due, as a worker would, until nothing due is left."""
    while due := [
        r for r in backend.results if (r.task.run_after or timezone.now()) <= timezone.now()
    ]:
        for result in due:
            backend.results.remove(result)
            result.task.call(*result.args, **result.kwargs)


# -- a login never waits for a rival's claim ------------------------------------------------


@pytest.mark.parametrize("backend", [None, "dummy"])
def test_a_login_returns_at_once_while_another_request_holds_the_claim(
    livelike_fake, livelike_settings, monkeypatch, backend
):
    livelike_settings(TASK_BACKEND=backend, WAIT_SECONDS=30)
    waits: list = []
    monkeypatch.setattr(provisioning, "_sleep", lambda seconds: waits.append(("poll", seconds)))
    real_wait = claim_locks.wait_for_release
    monkeypatch.setattr(
        claim_locks,
        "wait_for_release",
        lambda *args: waits.append(("lock", args)) or real_wait(*args),
    )
    user = make_user()
    claim_held_elsewhere(user)  # another request is creating the profile right now
    log_in(user)
    assert waits == []  # neither woken by the lock nor polling: it did not wait
    assert livelike_fake.calls == [] and row_of(user).status == Status.PENDING


def test_a_use_of_the_profile_still_waits_for_a_rivals_claim(livelike_fake, livelike_settings):
    livelike_settings(WAIT_SECONDS=0.3)
    user = make_user()
    claim_held_elsewhere(user)
    started = timezone.now()
    assert not ensure_profile(user).is_active
    assert timezone.now() - started >= timedelta(seconds=0.3)


# -- provisioning in the background --------------------------------------------------------


def test_a_background_login_enqueues_the_provisioning_after_its_commit(
    queue, livelike_settings, livelike_fake
):
    livelike_settings(PROVISION_ON_LOGIN="background")
    user = make_user()
    with transaction.atomic():
        log_in(user)
        assert enqueued(queue) == []  # not before the login commits
    assert enqueued(queue) == [("provision_user", [user.pk], None)]
    queued = row_of(user)  # queued for a worker: no claim, no attempt, nothing asked
    assert (queued.status, queued.claim, queued.attempts) == (Status.PENDING, None, 0)
    assert livelike_fake.calls == [] and queue_is_json(queue)
    run(queue)
    assert row_of(user).is_active


def test_background_logins_of_one_user_enqueue_one_task_until_it_runs(
    queue, livelike_settings, livelike_fake
):
    livelike_settings(PROVISION_ON_LOGIN="background")
    user = make_user()
    for _ in range(3):
        log_in(user)
    assert enqueued(queue) == [("provision_user", [user.pk], None)]
    run(queue)
    assert row_of(user).is_active and livelike_fake.create_count == 1
    queue.clear()
    log_in(user)  # the profile is there: nothing to enqueue
    assert enqueued(queue) == []


def test_a_background_login_enqueues_again_what_a_lost_task_left_queued(
    queue, livelike_settings, livelike_fake
):
    livelike_settings(PROVISION_ON_LOGIN="background", LEASE_SECONDS=30)
    user = make_user()
    log_in(user)
    queue.clear()  # the backend lost the task
    log_in(user)
    assert enqueued(queue) == []  # queued less than a lease ago: its task may still come
    LiveLikeProfile.objects.filter(user_id=user.pk).update(
        updated_at=timezone.now() - timedelta(seconds=31)
    )
    log_in(user)
    assert enqueued(queue) == [("provision_user", [user.pk], None)]
    run(queue)
    assert row_of(user).is_active and livelike_fake.create_count == 1


def test_a_background_login_enqueues_a_failed_row_once_due(queue, livelike_settings, livelike_fake):
    livelike_settings(PROVISION_ON_LOGIN="background")
    livelike_fake.fail_next_creates(1)
    user = make_user()
    ensure_profile(user)
    queue.clear()
    log_in(user)
    assert enqueued(queue) == []  # its retry is already on the queue, for when it is due
    LiveLikeProfile.objects.filter(user_id=user.pk).update(next_attempt_at=timezone.now())
    log_in(user)
    assert enqueued(queue) == [("provision_user", [user.pk], None)]


def test_a_queued_profile_is_made_by_its_first_use_if_that_comes_first(
    queue, livelike_settings, livelike_fake
):
    livelike_settings(PROVISION_ON_LOGIN="background")
    user = make_user()
    log_in(user)
    assert ensure_profile(get_user_model()._default_manager.get(pk=user.pk)).is_active
    run(queue)  # the task finds it done
    assert livelike_fake.create_count == 1


def test_a_user_deleted_while_only_queued_is_looked_up_once_a_lease_is_over(
    queue, livelike_settings, livelike_fake
):
    livelike_settings(PROVISION_ON_LOGIN="background", LEASE_SECONDS=30)
    user = make_user()
    log_in(user)
    row = row_of(user)
    # A worker may claim the row between the deletion's reading of it and its DELETE:
    # its create reaches LiveLike, the row is gone. The erasure must still find it.
    get_client().create_profile_by_custom_id(row.custom_id)
    before = timezone.now()
    user.delete()
    erasure = LiveLikeErasure.objects.get()
    assert erasure.custom_id == row.custom_id and erasure.profile_id == ""
    assert erasure.not_before >= before + timedelta(seconds=30)
    LiveLikeErasure.objects.update(not_before=timezone.now() - timedelta(seconds=1))
    call_command("livelike_sync", stdout=io.StringIO())  # or its task, when due
    assert livelike_fake.profiles == [] and not LiveLikeErasure.objects.exists()

def test_a_background_login_on_an_immediate_backend_provisions_after_the_commit(
    livelike_fake, livelike_settings
):
    livelike_settings(PROVISION_ON_LOGIN="background", TASK_BACKEND="default")
    user = make_user()
    log_in(user)
    assert row_of(user).is_active and livelike_fake.create_count == 1


def test_a_failed_attempt_enqueues_its_retry_for_when_it_is_due(queue, livelike_fake):
    livelike_fake.fail_next_creates(1)
    user = make_user()
    row = ensure_profile(user)
    assert row.status == Status.FAILED
    assert enqueued(queue) == [("provision_user", [user.pk], row_of(user).next_attempt_at)]
    queue.results[0].task.call(user.pk)  # as a worker would, once it is due
    assert row_of(user).status == Status.FAILED  # not due yet: nothing done
    LiveLikeProfile.objects.filter(user_id=user.pk).update(next_attempt_at=timezone.now())
    queue.results[0].task.call(user.pk)
    assert row_of(user).is_active and livelike_fake.create_count == 1


def test_a_backend_that_cannot_defer_leaves_retries_to_the_next_use(
    livelike_fake, livelike_settings
):
    livelike_settings(TASK_BACKEND="default")  # Immediate: no run_after
    livelike_fake.fail_next_creates(1)
    user = make_user()
    assert ensure_profile(user).status == Status.FAILED  # no retry run at once, in a loop
    assert livelike_fake.count_calls("POST") == 1


def test_a_task_for_a_user_with_nothing_to_do_returns(queue, livelike_fake):
    from livelike_profiles import tasks

    user = make_user()
    ensure_profile(user)
    calls = len(livelike_fake.calls)
    assert tasks.provision_user.call(user.pk) == Status.ACTIVE
    assert tasks.provision_user.call(10**9) == "gone"
    assert len(livelike_fake.calls) == calls and enqueued(queue) == []


# -- erasures ----------------------------------------------------------------------------------


def test_a_deletion_enqueues_its_erasures_after_the_commit_and_calls_nobody(queue, livelike_fake):
    users = make_users(3)
    profile_ids = [ensure_profile(user).profile_id for user in users]
    calls = len(livelike_fake.calls)
    with transaction.atomic():
        get_user_model()._default_manager.filter(pk__in=[u.pk for u in users]).delete()
        assert enqueued(queue) == []
    pks = sorted(LiveLikeErasure.objects.values_list("pk", flat=True))
    assert enqueued(queue) == [("erase", [pks], None)]
    assert len(livelike_fake.calls) == calls  # nothing asked of LiveLike in the request
    run(queue)
    assert not LiveLikeErasure.objects.exists()
    assert [p.id for p in livelike_fake.deleted] == profile_ids


def test_a_failed_erasure_is_enqueued_again_for_its_retry(queue, livelike_fake):
    user = make_user()
    ensure_profile(user)
    livelike_fake.fail_next_deletes(1, status=503)
    user.delete()
    run(queue)
    (erasure,) = LiveLikeErasure.objects.all()
    assert erasure.status == LiveLikeErasure.Status.FAILED
    assert ("erase", [[erasure.pk]], erasure.next_attempt_at) in enqueued(queue)
    LiveLikeErasure.objects.update(next_attempt_at=timezone.now())
    for result in list(queue.results):
        queue.results.remove(result)
        result.task.call(*result.args)
    assert not LiveLikeErasure.objects.exists() and livelike_fake.profiles == []


def test_an_erasure_of_a_create_in_flight_is_enqueued_for_when_it_is_over(queue, livelike_fake):
    user = make_user()
    claim_held_elsewhere(user, lease_seconds=60)
    user.delete()
    run(queue)
    (erasure,) = LiveLikeErasure.objects.all()
    assert ("erase", [[erasure.pk]], erasure.not_before) in enqueued(queue)


# -- retries of the rest --------------------------------------------------------------------


def test_learning_a_minted_profile_id_is_retried_by_a_task(
    livelike_fake, settings, livelike_settings
):
    settings.LIVELIKE = livelike_fake.settings(
        ACCESS_TOKENS="client-generated", TASK_BACKEND="dummy", TIMEOUT=2.0
    )
    backend = task_queue.backend()
    backend.clear()
    user = make_user()
    row = ensure_profile(user)
    with livelike_settings(API_URL="http://127.0.0.1:9/api/v1/"):  # nothing listens
        from livelike_profiles.provisioning.client_generated import learn_profile_id

        learn_profile_id(row)
    assert enqueued(backend) == [("learn_profile_id", [row.pk], row_of(user).next_attempt_at)]
    LiveLikeProfile.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    backend.results[0].task.call(row.pk)
    assert row_of(user).profile_id == livelike_fake.profile_by_custom_id(row.custom_id).id
    backend.clear()


def test_a_failed_nickname_push_is_retried_by_a_task_backing_off(
    queue, livelike_fake, livelike_settings
):
    from livelike_profiles.sync.push import push_nickname

    livelike_settings(NICKNAME="tests.nicknames.from_username", SYNC_NICKNAME=True)
    user = make_user(4)
    ensure_profile(user)
    LiveLikeProfile.objects.filter(user_id=user.pk).update(nickname="Old", nickname_sync_due=True)
    queue.clear()
    with livelike_settings(API_URL="http://127.0.0.1:9/api/v1/"):
        assert not push_nickname(user)
        assert not push_nickname(user, attempt=3)
    (name, args, first), (_, later_args, later) = enqueued(queue)
    assert name == "push_nickname" and args == [user.pk, 1] and later_args == [user.pk, 4]
    assert later - timezone.now() > first - timezone.now()  # backs off
    queue.results[0].task.call(*queue.results[0].args)
    assert livelike_fake.profile(row_of(user).profile_id).nickname == "fan user4"


# -- the backfill -----------------------------------------------------------------------------


def test_livelike_provision_enqueue_shares_the_backfill_in_batches(queue, livelike_fake):
    users = make_users(5)
    out = io.StringIO()
    call_command("livelike_provision", "--enqueue", "--batch-size", "2", stdout=out)
    assert "users enqueued" in out.getvalue()
    assert [(name, len(args[0])) for name, args, _ in enqueued(queue)] == [
        ("provision_users", 2),
        ("provision_users", 2),
        ("provision_users", 1),
    ]
    assert livelike_fake.calls == []
    run(queue)
    assert all(row_of(user).is_active for user in users) and livelike_fake.create_count == 5


def test_livelike_provision_enqueue_needs_a_task_backend(livelike_fake):
    with pytest.raises(CommandError, match="TASK_BACKEND"):
        call_command("livelike_provision", "--enqueue")


# -- ids only ------------------------------------------------------------------------------


def queue_is_json(backend) -> bool:
    """Every argument enqueued is JSON (ids), and none is a token."""
    for result in backend.results:
        text = json.dumps([list(result.args), result.kwargs])
        tokens = [row.access_token for row in LiveLikeProfile.objects.all()]
        assert all(token not in text for token in tokens if token)  # none yet: nothing to leak
    return True
