"""A deleted user's LiveLike profile is erased at LiveLike: once, after the commit, never lost.

Against the fake LiveLike over real sockets; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import gc
import io
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models.signals import pre_delete
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from livelike_profiles.erasure.erasing import ERASED_AT_COMMIT, Erased, erase_due
from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeErasure, LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import claim_held_elsewhere, log_in, make_user, make_users, row_of

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status


def provisioned(count: int) -> list:
    users = make_users(count)
    for user in users:
        assert ensure_profile(user).is_active
    return users


def deletes_of(fake, profile_id: str, status: int | None = 200) -> int:
    """DELETE calls for the profile, answered with ``status`` (any status: ``None``)."""
    return sum(
        1
        for call in fake.calls
        if call.method == "DELETE"
        and call.path.endswith(f"/profiles/{profile_id}/")
        and (status is None or call.status == status)
    )


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("livelike_sync", *args, stdout=out)
    return out.getvalue()


def sync_failing(*args: str) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("livelike_sync", *args, stdout=out)
    return out.getvalue(), str(raised.value)


def test_a_deleted_users_profile_is_erased_at_livelike_once(livelike_fake):
    (user,) = provisioned(1)
    profile_id = row_of(user).profile_id
    user.delete()
    assert deletes_of(livelike_fake, profile_id) == 1
    assert livelike_fake.profiles == []
    assert not LiveLikeErasure.objects.exists()
    sync()  # nothing owed any more: no second DELETE
    assert deletes_of(livelike_fake, profile_id, status=None) == 1


def test_a_rolled_back_deletion_erases_nothing(livelike_fake):
    (user,) = provisioned(1)

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        get_user_model()._default_manager.filter(pk=user.pk).delete()
        assert LiveLikeErasure.objects.count() == 1  # written with the deletion...
        raise Undo
    assert not LiveLikeErasure.objects.exists()  # ...and taken back with it
    assert livelike_fake.count_calls("DELETE") == 0
    assert row_of(user).is_active and len(livelike_fake.profiles) == 1
    sync()
    assert livelike_fake.count_calls("DELETE") == 0


def test_ten_users_deleted_during_an_outage_are_all_erased_once_it_is_over(livelike_fake):
    users = provisioned(10)
    profile_ids = [row_of(user).profile_id for user in users]
    # Down for the attempt after the commit and for a first sync: 11 failures, then up.
    livelike_fake.fail_next_deletes(11, status=503)
    get_user_model()._default_manager.filter(pk__in=[u.pk for u in users]).delete()
    # The deletion went through; after its commit one attempt met the outage and stopped.
    assert not LiveLikeProfile.objects.exists()
    assert livelike_fake.count_calls("DELETE") == 1
    assert LiveLikeErasure.objects.count() == 10

    output, error = sync_failing()  # still down: every erasure fails, none is lost
    assert "10 erasure(s) failed" in error
    assert LiveLikeErasure.objects.count() == 10
    assert set(LiveLikeErasure.objects.values_list("status", flat=True)) == {"failed"}
    assert "503" in LiveLikeErasure.objects.first().last_error

    output = sync()  # LiveLike is back
    assert "deleted users' profiles erased" in output
    assert not LiveLikeErasure.objects.exists()
    assert livelike_fake.profiles == []
    for profile_id in profile_ids:
        assert deletes_of(livelike_fake, profile_id) == 1
    sync()
    assert sum(deletes_of(livelike_fake, p, status=200) for p in profile_ids) == 10


def test_deleting_a_thousand_users_costs_a_few_queries_and_no_call_inside(livelike_fake):
    model = get_user_model()
    users = model._default_manager.bulk_create(
        [model(**{model.USERNAME_FIELD: f"bulk{n}@example.com"}) for n in range(1000)]
    )
    if users[0].pk is None:  # databases that return no keys from a bulk insert
        users = list(model._default_manager.order_by("pk"))
    LiveLikeProfile.objects.bulk_create(
        LiveLikeProfile(
            user_id=user.pk, status=Status.ACTIVE, profile_id=f"p{n}", custom_id=f"c{n}"
        )
        for n, user in enumerate(users)
    )
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        model._default_manager.filter(pk__in=[u.pk for u in users]).delete()
        assert livelike_fake.calls == []  # nothing is asked of LiveLike inside the transaction
    sql = [query["sql"] for query in queries.captured_queries]
    ours = [q for q in sql if "livelike_profiles_livelikeerasure" in q]
    print(f"1,000 users deleted: {len(sql)} queries, {len(ours)} of them writing the outbox")
    # The outbox costs one INSERT per batch the database allows (one on PostgreSQL,
    # 999 parameters a statement on SQLite), never one per user; the rest is
    # Django's own cascade, which deletes in chunks of 100 rows.
    assert all(q.startswith("INSERT") for q in ours)
    assert len(ours) <= 12
    assert len(sql) <= 50
    assert LiveLikeProfile.objects.count() == 0
    # After the commit, a few at once (the fake has none of them: already gone); the rest wait.
    assert livelike_fake.count_calls("DELETE") == ERASED_AT_COMMIT
    assert LiveLikeErasure.objects.count() == 1000 - ERASED_AT_COMMIT


def test_a_deletion_waits_for_a_slow_livelike_about_one_timeout(livelike_fake, livelike_settings):
    # LiveLike answering every erasure, slowly: the pass after the commit stops
    # starting erasures once TIMEOUT has passed, rather than make the deleting
    # request wait for all twenty in turn.
    users = provisioned(ERASED_AT_COMMIT)
    livelike_settings(TIMEOUT=1.0)
    livelike_fake.latency = 0.1  # each answer well within TIMEOUT: all of them succeed
    get_user_model()._default_manager.filter(pk__in=[user.pk for user in users]).delete()
    erased = livelike_fake.count_calls("DELETE")
    assert 1 <= erased <= 11  # about TIMEOUT / latency (10), not all 20 (2 s)
    assert LiveLikeErasure.objects.count() == ERASED_AT_COMMIT - erased
    livelike_fake.latency = 0
    sync()
    assert livelike_fake.count_calls("DELETE") == ERASED_AT_COMMIT
    assert not LiveLikeErasure.objects.exists()


def test_keep_calls_nobody(livelike_fake, livelike_settings):
    livelike_settings(ON_USER_DELETE="keep")
    (user,) = provisioned(1)
    calls = len(livelike_fake.calls)
    user.delete()
    assert not LiveLikeErasure.objects.exists()
    assert len(livelike_fake.calls) == calls
    assert len(livelike_fake.profiles) == 1


def test_deleting_only_the_row_is_not_the_users_deletion(livelike_fake):
    one, other = provisioned(2)
    row_of(one).delete()  # an instance's delete()...
    assert LiveLikeProfile.objects.filter(user_id=other.pk).delete()[0] == 1  # ...and a queryset's
    assert not LiveLikeProfile.objects.exists()
    assert not LiveLikeErasure.objects.exists()
    assert livelike_fake.count_calls("DELETE") == 0 and len(livelike_fake.profiles) == 2


def test_a_profile_still_being_created_is_erased_once_its_create_is_over(livelike_fake):
    user = make_user()
    row = claim_held_elsewhere(user, lease_seconds=60)
    # The other process's create reaches LiveLike; its answer never reaches a row.
    get_client().create_profile_by_custom_id(row.custom_id)
    user.delete()
    erasure = LiveLikeErasure.objects.get()
    assert erasure.not_before == row.lease_expires_at and erasure.profile_id == ""
    sync()  # its create may still be in flight: not yet
    assert livelike_fake.count_calls("DELETE") == 0 and len(livelike_fake.profiles) == 1
    LiveLikeErasure.objects.update(not_before=timezone.now() - timedelta(seconds=1))
    sync()
    assert livelike_fake.profiles == [] and not LiveLikeErasure.objects.exists()
    assert livelike_fake.count_calls("DELETE") == 1


def test_a_minted_tokens_profile_is_looked_up_by_custom_id_then_erased(
    livelike_fake, livelike_settings
):
    secret = livelike_fake.settings()["CLIENT_SECRET"]
    livelike_settings(ACCESS_TOKENS="client-generated", CLIENT_SECRET=secret)
    used, unused = make_users(2)
    log_in(used), log_in(unused)
    # The SDK used one user's token (LiveLike made that profile); the other's never.
    get_client().get_own_profile(row_of(used).access_token)
    assert row_of(used).profile_id is None  # the site never learned its id
    get_user_model()._default_manager.filter(pk__in=[used.pk, unused.pk]).delete()
    assert livelike_fake.profiles == []
    assert livelike_fake.count_calls("DELETE") == 1  # nothing to erase for the unused one
    assert not LiveLikeErasure.objects.exists()


def test_a_profile_already_gone_at_livelike_is_not_an_error(livelike_fake):
    (user,) = provisioned(1)
    livelike_fake.reset()  # LiveLike lost it (or an operator erased it there)
    user.delete()
    assert not LiveLikeErasure.objects.exists()
    assert livelike_fake.count_calls("DELETE") == 1


def test_an_erasure_without_an_admin_token_says_which_setting_it_lacks(
    livelike_fake, livelike_settings, caplog
):
    (user,) = provisioned(1)
    livelike_settings(API_TOKEN=None)
    caplog.set_level(logging.WARNING, logger="livelike_profiles.erasure")
    user.delete()
    erasure = LiveLikeErasure.objects.get()
    assert erasure.last_error == (
        'LiveLikeConfigurationError: LIVELIKE["API_TOKEN"] (an admin token) is needed to '
        "delete profiles."
    )
    (record,) = [r for r in caplog.records if r.name == "livelike_profiles.erasure"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert livelike_fake.count_calls("DELETE") == 0


def test_a_rate_limited_erasure_waits_for_retry_after(livelike_fake):
    (user,) = provisioned(1)
    livelike_fake.rate_limit_next(1, retry_after=120)
    user.delete()
    erasure = LiveLikeErasure.objects.get()
    assert erasure.next_attempt_at >= timezone.now() + timedelta(seconds=110)
    assert "429" in erasure.last_error


def test_ctrl_c_in_the_erasure_pass_prints_the_summary_and_exits_1(livelike_fake, monkeypatch):
    users = provisioned(5)
    profile_ids = [row_of(user).profile_id for user in users[:4]]
    livelike_fake.fail_next_deletes(1, status=503)  # the attempt after the commit: all wait
    get_user_model()._default_manager.filter(pk__in=[u.pk for u in users[:4]]).delete()
    assert LiveLikeErasure.objects.count() == 4
    client, deletes = get_client(), 0
    delete_profile = client.delete_profile

    def ctrl_c_at_the_third(profile_id: str) -> bool:
        # As a Ctrl-C landing while LiveLike's answer is read: it has erased the
        # profile, the site has not recorded it.
        nonlocal deletes
        deletes += 1
        erased = delete_profile(profile_id)
        if deletes == 3:
            raise KeyboardInterrupt
        return erased

    monkeypatch.setattr(client, "delete_profile", ctrl_c_at_the_third)
    out = io.StringIO()
    try:
        call_command("livelike_sync", stdout=out)
    except CommandError as error:
        assert str(error).startswith("Interrupted") and error.returncode == 1
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C came out of livelike_sync as a KeyboardInterrupt")
    else:
        pytest.fail("an interrupted livelike_sync exited 0")
    output = out.getvalue()
    assert re.search(r"deleted users' profiles erased +2$", output, re.MULTILINE)
    assert re.search(r"erasures still pending +2$", output, re.MULTILINE)
    assert re.search(r"not reached \(interrupted\) +2$", output, re.MULTILINE)
    assert "profiles checked" not in output  # the refresh pass did not start...
    assert livelike_fake.count_calls("GET", "/profile/") == 0  # ...nor read users[4]'s

    # Nothing is lost: the one cut short is tried again once its lease has run out.
    LiveLikeErasure.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    monkeypatch.undo()
    output = sync()
    assert re.search(r"deleted users' profiles erased +1$", output, re.MULTILINE)
    assert re.search(r"already gone at LiveLike +1$", output, re.MULTILINE)
    assert not LiveLikeErasure.objects.exists()
    assert [p.id for p in livelike_fake.profiles] == [row_of(users[4]).profile_id]
    assert all(deletes_of(livelike_fake, p) == 1 for p in profile_ids)


# -- the admin ------------------------------------------------------------------------

ERASURES = "/admin/livelike_profiles/livelikeerasure/"


def test_the_admin_lists_pending_erasures_and_retries_them_now(livelike_fake, admin_client):
    users = provisioned(2)
    profile_ids = [row_of(user).profile_id for user in users]
    livelike_fake.fail_next_deletes(1, status=503)
    get_user_model()._default_manager.filter(pk__in=[u.pk for u in users]).delete()
    assert LiveLikeErasure.objects.count() == 2
    page = admin_client.get(ERASURES).content.decode()
    for profile_id in profile_ids:
        assert profile_id in page
    assert "503" in page  # the failed one's last error
    pks = list(LiveLikeErasure.objects.values_list("pk", flat=True))
    response = admin_client.post(
        ERASURES, {"action": "retry_now", "_selected_action": pks}, follow=True
    )
    assert "2 profiles erased at LiveLike." in response.content.decode()
    assert not LiveLikeErasure.objects.exists()
    # (The admin user logged in has a profile of their own: it stays.)
    assert [deletes_of(livelike_fake, profile_id) for profile_id in profile_ids] == [1, 1]
    assert not {p.id for p in livelike_fake.profiles} & set(profile_ids)


def test_the_erasure_admin_changes_and_deletes_nothing_by_hand(livelike_fake, admin_client):
    (user,) = provisioned(1)
    livelike_fake.fail_next_deletes(1, status=503)
    user.delete()
    erasure = LiveLikeErasure.objects.get()
    change = f"{ERASURES}{erasure.pk}/change/"
    assert admin_client.post(change, {"profile_id": "x"}).status_code == 403
    assert admin_client.post(f"{ERASURES}{erasure.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LiveLikeErasure.objects.get().profile_id == erasure.profile_id


# -- deletions inside deletions, and deletions that failed half-way --------------------


class Refused(Exception):
    pass


@pytest.fixture
def on_user_pre_delete():
    """Connect a ``pre_delete`` receiver for the user model for one test."""
    connected = []

    def connect(receiver) -> None:
        pre_delete.connect(receiver, sender=get_user_model(), weak=False)
        connected.append(receiver)

    yield connect
    for receiver in connected:
        pre_delete.disconnect(receiver, sender=get_user_model())


def test_a_user_deleted_while_deleting_another_loses_neither_erasure(
    livelike_fake, on_user_pre_delete
):
    outer, inner = provisioned(2)
    profile_ids = [row_of(outer).profile_id, row_of(inner).profile_id]

    def delete_linked_account(sender, instance, **kwargs):
        # A site's own receiver: deleting one account deletes its linked one too.
        if instance.pk == outer.pk:
            get_user_model()._default_manager.filter(pk=inner.pk).delete()

    on_user_pre_delete(delete_linked_account)
    outer.delete()
    assert not LiveLikeProfile.objects.exists()
    assert [deletes_of(livelike_fake, p) for p in profile_ids] == [1, 1]
    assert livelike_fake.profiles == [] and not LiveLikeErasure.objects.exists()


def test_a_deletion_that_failed_half_way_erases_nothing_later(livelike_fake, on_user_pre_delete):
    (user,) = provisioned(1)

    def refuse(sender, instance, **kwargs):
        # Anything failing between Django's pre_delete and its DELETEs: a site's
        # receiver, a deadlock or a lock timeout in the cascade.
        raise Refused

    on_user_pre_delete(refuse)
    with pytest.raises(Refused):
        user.delete()
    pre_delete.disconnect(refuse, sender=get_user_model())
    assert row_of(user).is_active  # the user and their row are still there
    # Later, in the same thread, only the row is deleted (say, by an operator in
    # the admin): that is not the user's deletion, and erases nothing.
    LiveLikeProfile.objects.filter(user_id=user.pk).delete()
    assert not LiveLikeErasure.objects.exists()
    assert livelike_fake.count_calls("DELETE") == 0 and len(livelike_fake.profiles) == 1


def test_the_notes_of_a_failed_deletion_go_with_it(livelike_fake, on_user_pre_delete):
    """Nothing piles up in a worker thread: the notes go when the failed deletion's origin does."""
    from livelike_profiles.erasure import erasing as erasure

    (user,) = provisioned(1)

    def refuse(sender, instance, **kwargs):
        raise Refused

    on_user_pre_delete(refuse)
    doomed = get_user_model()._default_manager.filter(pk=user.pk)
    with pytest.raises(Refused):
        doomed.delete()
    assert len(erasure._pending("default")) == 1  # noted, never written
    del doomed
    gc.collect()
    assert erasure._pending("default") == {}


def test_a_user_deleted_while_another_thread_creates_their_profile(livelike_fake, caplog):
    user = make_user()
    livelike_fake.lose_next_create_answers(1, delay=30)  # held until released below
    outcome = []

    def first_login_elsewhere() -> None:
        try:
            outcome.append(ensure_profile(user))
        except BaseException as error:  # reported below
            outcome.append(error)
        finally:
            connection.close()

    other = threading.Thread(target=first_login_elsewhere)
    with caplog.at_level(logging.WARNING, logger="livelike_profiles"):
        other.start()
        assert livelike_fake.wait_for_held(1)  # LiveLike made it; the answer is on its way
        get_user_model()._default_manager.filter(pk=user.pk).delete()
        assert livelike_fake.release_held() == 1
        other.join()
    (result,) = outcome
    assert isinstance(result, LiveLikeProfile) and not result.is_active
    # The deletion is not a database failure: nothing logs one.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert not LiveLikeProfile.objects.exists()
    erasure = LiveLikeErasure.objects.get()  # owed, once the create's lease is over
    LiveLikeErasure.objects.update(not_before=timezone.now() - timedelta(seconds=1))
    sync()
    assert livelike_fake.profiles == [] and not LiveLikeErasure.objects.filter(pk=erasure.pk)
    assert livelike_fake.count_calls("DELETE") == 1


def at_once(task, workers: int) -> list:
    """``task()`` run by ``workers`` threads started together; their results (or first error)."""
    start = threading.Barrier(workers)

    def run():
        start.wait()
        try:
            return task()
        finally:
            connection.close()  # each thread had its own

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(run) for _ in range(workers)]
    return [future.result() for future in futures]


def test_processes_erasing_at_once_never_delete_a_profile_twice(livelike_fake):
    users = provisioned(12)
    profile_ids = [row_of(user).profile_id for user in users]
    livelike_fake.fail_next_deletes(1, status=503)  # the pass after the commit stops at once
    get_user_model()._default_manager.filter(pk__in=[u.pk for u in users]).delete()
    assert LiveLikeErasure.objects.count() == 12
    livelike_fake.latency = 0.05  # each DELETE takes a while: the workers overlap
    reports = at_once(erase_due, workers=4)  # four livelike_sync, each with its connection
    assert sum(report.counts[Erased.ERASED] for report in reports) == 12
    assert [deletes_of(livelike_fake, p) for p in profile_ids] == [1] * 12
    assert livelike_fake.count_calls("DELETE") == 13  # and the 503: not one 404
    assert livelike_fake.profiles == [] and not LiveLikeErasure.objects.exists()


def test_a_deletion_in_a_savepoint_rolled_back_erases_nothing_while_the_outer_commits(
    livelike_fake,
):
    undone, deleted = provisioned(2)
    kept_id, erased_id = row_of(undone).profile_id, row_of(deleted).profile_id

    class Undo(Exception):
        pass

    with transaction.atomic():
        try:
            with transaction.atomic():
                get_user_model()._default_manager.filter(pk=undone.pk).delete()
                raise Undo
        except Undo:
            pass
        get_user_model()._default_manager.filter(pk=deleted.pk).delete()
    assert row_of(undone).is_active
    assert deletes_of(livelike_fake, kept_id, status=None) == 0
    assert deletes_of(livelike_fake, erased_id) == 1
    assert [p.id for p in livelike_fake.profiles] == [kept_id]
    assert not LiveLikeErasure.objects.exists()
    sync()
    assert deletes_of(livelike_fake, kept_id, status=None) == 0


@pytest.mark.server_db
@pytest.mark.parametrize("origin", ["instance", "queryset"])
def test_two_deletions_of_one_user_at_once_erase_its_profile_once(livelike_fake, origin):
    # An admin's double submit, or two workers deleting the same user: the second
    # deletion read the row before the first committed, then its DELETE removes nothing.
    from tests.api.test_concurrency import wait_until
    from tests.db_locks import someone_waits_for_a_row_lock

    (user,) = provisioned(1)
    profile_id = row_of(user).profile_id
    users = get_user_model()._default_manager
    first_deleted, commit_first, second_done = (threading.Event() for _ in range(3))
    errors: list[BaseException] = []

    def delete() -> None:
        if origin == "instance":
            users.get(pk=user.pk).delete()
        else:
            users.filter(pk=user.pk).delete()

    def first() -> None:
        try:
            with transaction.atomic():
                delete()
                first_deleted.set()
                assert commit_first.wait(30)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            first_deleted.set()
            connection.close()

    def second() -> None:
        try:
            delete()
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            second_done.set()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_deleted.wait(30)
    threads[1].start()
    # The second deletion now waits for the first one's row lock; then the first commits.
    wait_until(someone_waits_for_a_row_lock, second_done)
    commit_first.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert not users.filter(pk=user.pk).exists()
    sync()  # whatever is still owed
    assert deletes_of(livelike_fake, profile_id, status=None) == 1
    assert livelike_fake.profiles == [] and not LiveLikeErasure.objects.exists()
