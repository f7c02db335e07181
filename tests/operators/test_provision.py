"""``manage.py livelike_provision``: the backfill, against the fake LiveLike over real sockets.

Threads and processes have their own database connections, hence
``transaction=True`` throughout.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from livelike_profiles.management.output import Progress
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from livelike_profiles.sync import backfill as backfill_module
from livelike_profiles.sync.backfill import backfill, locks_batches, select_users
from tests.db_locks import lock_holder
from tests.factories import make_user, make_users

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status
ROOT = Path(__file__).resolve().parents[2]


def provision(*args: str) -> str:
    out = io.StringIO()
    call_command("livelike_provision", *args, stdout=out)
    return out.getvalue()


def count(output: str, label: str) -> int:
    """A number from the summary table, e.g. ``count(out, "created")``."""
    match = re.search(rf"^\s+{re.escape(label)}\s+(\d+)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return int(match.group(1))


def statuses() -> dict:
    return dict(LiveLikeProfile.objects.values_list("user_id", "status"))


def assert_one_active_profile_each(fake, users) -> None:
    rows = {row.user_id: row for row in LiveLikeProfile.objects.filter(user__in=users)}
    assert len(rows) == len(users)
    for user in users:
        row = rows[user.pk]
        assert row.status == Status.ACTIVE
        assert row.access_token == fake.profile(row.profile_id).access_token
        assert fake.profile_by_custom_id(row.custom_id).id == row.profile_id


# -- what it creates ---------------------------------------------------------------------


def test_creates_one_profile_per_user_without_one_and_skips_the_rest(livelike_fake):
    users = make_users(7)
    already = make_user(100)
    ensure_profile(already)
    conflict = make_user(101)
    LiveLikeProfile.objects.create(user=conflict, status=Status.CONFLICT, custom_id="c")
    inactive = make_user(102)
    inactive.is_active = False
    inactive.save()
    posts = livelike_fake.count_calls("POST")

    output = provision("--concurrency", "4", "--batch-size", "3")

    assert_one_active_profile_each(livelike_fake, users)
    assert livelike_fake.count_calls("POST") - posts == 7  # not even a second attempt
    assert livelike_fake.create_count == 8
    assert LiveLikeProfile.objects.get(user=conflict).status == Status.CONFLICT
    assert not LiveLikeProfile.objects.filter(user=inactive).exists()
    assert count(output, "users selected") == 9
    assert count(output, "created") == 7
    assert count(output, "failed") == 0
    assert count(output, "skipped (already had a profile)") == 2


def test_a_rerun_creates_none(livelike_fake):
    make_users(5)
    provision("--batch-size", "2")
    calls = len(livelike_fake.calls)
    output = provision("--batch-size", "2")
    assert len(livelike_fake.calls) == calls
    assert livelike_fake.create_count == 5
    assert count(output, "created") == 0
    assert count(output, "skipped (already had a profile)") == 5


def test_dry_run_creates_nothing(livelike_fake):
    make_users(4)
    ensure_profile(make_user(10))
    calls = len(livelike_fake.calls)
    output = provision("--dry-run", "--verbosity", "2")
    assert len(livelike_fake.calls) == calls
    assert LiveLikeProfile.objects.count() == 1
    assert count(output, "would be provisioned") == 4
    assert count(output, "would be skipped (profile exists)") == 1


def test_all_since_and_explicit_users(livelike_fake):
    users = make_users(4)
    users[0].is_active = False
    users[0].save()
    model = get_user_model()
    model._default_manager.filter(pk=users[1].pk).update(
        last_login=timezone.now() - timedelta(days=10)
    )
    model._default_manager.filter(pk=users[2].pk).update(last_login=timezone.now())

    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    provision("--since", since)
    assert set(statuses()) == {users[2].pk}

    provision("--users", str(users[0].pk))  # named: included although inactive
    assert set(statuses()) == {users[2].pk, users[0].pk}

    provision()  # active users: users[1], users[3]
    assert set(statuses()) == {u.pk for u in users}
    assert livelike_fake.create_count == 4


@pytest.mark.parametrize("option", ["--include-inactive", "--all"])  # --all: its older name
def test_include_inactive_includes_inactive_users(livelike_fake, option):
    user = make_user(1)
    user.is_active = False
    user.save()
    output = provision()
    assert not LiveLikeProfile.objects.exists()
    assert count(output, "users selected") == 0
    assert livelike_fake.calls == []
    provision(option)
    assert LiveLikeProfile.objects.get(user=user).status == Status.ACTIVE


@pytest.mark.parametrize(
    "args, message",
    [
        (["--users", "not-an-id"], "not a valid user id"),
        (["--concurrency", "0"], "--concurrency must be between 1 and 32"),
        (["--concurrency", "33"], "--concurrency must be between 1 and 32"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--since", "yesterday"], "--since: 'yesterday' is not a date"),
        # Well formed, but no such day or time: parse_date/parse_datetime raise.
        (["--since", "2024-02-30"], "--since: '2024-02-30' is not a date"),
        (["--since", "2024-13-01"], "--since: '2024-13-01' is not a date"),
        (["--since", "2024-01-01T25:00"], "--since: '2024-01-01T25:00' is not a date"),
    ],
)
def test_bad_options_are_refused_and_change_nothing(livelike_fake, args, message):
    make_user(1)
    with pytest.raises(CommandError, match=re.escape(message)):
        provision(*args)
    assert not LiveLikeProfile.objects.exists() and livelike_fake.calls == []


@pytest.mark.parametrize(
    "since, time_zone, use_tz",
    [
        ("0001-01-01", "Asia/Tokyo", True),  # year 0 in UTC
        ("9999-12-31T23:59:59-05:00", "UTC", True),  # year 10000 in UTC
        ("9999-12-31T23:59:59-05:00", "UTC", False),  # ...and in TIME_ZONE
    ],
)
def test_a_since_out_of_range_is_refused(livelike_fake, settings, since, time_zone, use_tz):
    # It ended in an OverflowError traceback, from the query.
    settings.TIME_ZONE, settings.USE_TZ = time_zone, use_tz
    make_user(1)
    with pytest.raises(CommandError, match=re.escape(f"--since: {since!r} is out of range")):
        provision("--since", since)
    assert not LiveLikeProfile.objects.exists() and livelike_fake.calls == []


@pytest.mark.parametrize("since", ["{yesterday}", "{yesterday}T00:00:00+00:00", "0001-01-01"])
def test_since_without_use_tz(livelike_fake, settings, since):
    # Every --since failed with USE_TZ = False: the date was made aware, and SQLite refuses it.
    settings.USE_TZ = False
    settings.TIME_ZONE = "UTC"
    recent, earlier = make_users(2)
    now = datetime.now()  # naive, as the database holds it without USE_TZ
    model = get_user_model()
    model._default_manager.filter(pk=recent.pk).update(last_login=now)
    model._default_manager.filter(pk=earlier.pk).update(last_login=now - timedelta(days=10))
    yesterday = (now - timedelta(days=1)).date().isoformat()
    provision("--since", since.format(yesterday=yesterday))
    expected = {recent.pk} if "yesterday" in since else {recent.pk, earlier.pk}
    assert set(statuses()) == expected


def test_unknown_user_ids_are_refused_and_change_nothing(livelike_fake):
    user = make_user(1)
    missing = "12345678" if isinstance(user.pk, int) else "00000000-0000-0000-0000-000000000000"
    with pytest.raises(CommandError, match=f"no user with id {missing}"):
        provision("--users", f"{user.pk},{missing}")
    assert not LiveLikeProfile.objects.exists() and livelike_fake.calls == []


# -- failures and resuming --------------------------------------------------------------


def test_failing_livelike_exits_non_zero_and_a_rerun_resumes(livelike_fake):
    users = make_users(6)
    livelike_fake.fail_next_creates(2, status=503)
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 user\\(s\\) failed"):
        call_command("livelike_provision", "--concurrency", "1", stdout=out)
    assert count(out.getvalue(), "failed") == 2
    assert count(out.getvalue(), "created") == 4
    assert "LiveLikeUnavailable" in out.getvalue()  # the failed users are named, with why
    failed = LiveLikeProfile.objects.filter(status=Status.FAILED)
    assert failed.count() == 2
    # Their backoff is still running: a login now would not retry them yet...
    assert all(row.next_attempt_at > timezone.now() for row in failed)

    # ...but the operator's rerun does, and resumes with just those two.
    output = provision("--concurrency", "1")
    assert count(output, "created") == 2
    assert count(output, "skipped (already had a profile)") == 4
    assert_one_active_profile_each(livelike_fake, users)
    assert livelike_fake.create_count == 6


def test_a_rate_limit_pauses_and_retries_within_the_run(livelike_fake):
    users = make_users(4)
    livelike_fake.rate_limit_next(1, retry_after=0)
    output = provision("--concurrency", "2")
    assert count(output, "created") == 4 and count(output, "failed") == 0
    assert_one_active_profile_each(livelike_fake, users)
    assert livelike_fake.count_calls(path_contains="profile-by-custom-id") == 5  # 4 + the 429


def test_an_interrupted_run_leaves_the_rest_for_the_next(livelike_fake):
    users = make_users(10)

    def interrupt(report):
        if report.done == 3:
            raise KeyboardInterrupt

    report = backfill(select_users(), concurrency=1, batch_size=4, on_result=interrupt)
    # The user already in a thread's hands when it stopped may finish too; no more.
    assert report.interrupted and report.done in (3, 4) and report.created == report.done
    assert LiveLikeProfile.objects.filter(status=Status.ACTIVE).count() == report.done
    output = provision()
    assert count(output, "created") == 10 - report.done
    assert_one_active_profile_each(livelike_fake, users)


# -- how it reads users -------------------------------------------------------------------


def test_users_are_read_in_batches_never_all_at_once(livelike_fake):
    make_users(10)
    table = get_user_model()._meta.db_table
    with CaptureQueriesContext(connection) as captured:
        provision("--batch-size", "3", "--concurrency", "2")
    sql = [query["sql"] for query in captured.captured_queries]
    pages = [
        q
        for q in sql
        if q.startswith("SELECT")
        and f"FROM {connection.ops.quote_name(table)}" in q
        and "COUNT(" not in q
    ]
    assert len(pages) == 5  # 3 + 3 + 3 + 1, then an empty page
    assert all(re.search(r"\bLIMIT 3\b", q) for q in pages)
    claims = [q for q in sql if "pg_try_advisory_xact_lock" in q or "GET_LOCK" in q]
    assert len(claims) == (4 if locks_batches() else 0)


def test_progress_is_redrawn_on_a_terminal_and_sparse_otherwise():
    log = io.StringIO()
    progress = Progress(OutputWrapper(log), 1000, tty=False)
    for done in range(1, 1001):
        progress.update(done, "created x")
    progress.update(1000, "created x", final=True)
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("[####") and "1000/1000" in lines[-1]

    terminal = io.StringIO()
    progress = Progress(OutputWrapper(terminal), 5, tty=True)
    progress.update(5, "created 5", final=True)
    progress.close()
    assert terminal.getvalue().startswith("\r[") and terminal.getvalue().endswith("\n")


# -- several runners -----------------------------------------------------------------------


def test_two_runs_at_once_in_threads_create_one_profile_each(livelike_fake, livelike_settings):
    livelike_fake.latency = 0.01
    livelike_settings(WAIT_SECONDS=10)
    users = make_users(40)
    start = threading.Barrier(2)
    reports, errors = [], []

    def run() -> None:
        try:
            start.wait()
            reports.append(backfill(select_users(), concurrency=4, batch_size=5))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert_one_active_profile_each(livelike_fake, users)
    assert livelike_fake.count_calls("POST") == 40
    assert sum(report.created for report in reports) == 40
    assert all(report.failed == 0 for report in reports)


def worker(fake, *command: str, **livelike) -> subprocess.Popen:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings")
    env["WORKER_DB_NAME"] = str(connection.settings_dict["NAME"])
    env["WORKER_LIVELIKE"] = json.dumps(fake.settings(**livelike))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.workers", "manage", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return out


@pytest.mark.server_db
def test_runs_on_several_machines_split_the_batches(livelike_fake):
    """A runner stuck on its batch keeps it: the other runner takes every other batch."""
    users = make_users(60)
    livelike_fake.lose_next_create_answers(2, delay=120)
    settings = {"TIMEOUT": 150, "LEASE_SECONDS": 300}
    first = worker(
        livelike_fake, "livelike_provision", "--concurrency", "2", "--batch-size", "10", **settings
    )
    try:
        # Both of the first runner's threads are inside LiveLike with its first batch claimed.
        assert livelike_fake.wait_for_held(2, timeout=60), "the first runner never started"
        # The claim locks no user row: what a login writes goes through at once.
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET lock_timeout = '5s'")
            else:
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 5")
        get_user_model()._default_manager.filter(pk__in=[u.pk for u in users[:10]]).update(
            last_login=timezone.now()
        )
        second = worker(
            livelike_fake, "livelike_provision", "--concurrency", "4", "--batch-size", "10"
        )
        second_out = finished(second)
    finally:
        livelike_fake.release_held()
    first_out = finished(first)

    assert count(second_out, "created") == 50  # everything but the claimed batch
    assert count(first_out, "created") == 10  # its own batch, nothing more
    assert count(second_out, "skipped (done or in progress elsewhere)") == 0
    assert_one_active_profile_each(livelike_fake, users)
    assert livelike_fake.count_calls("POST") == 60


@pytest.mark.server_db
def test_a_runner_lets_its_batch_locks_go_when_the_batch_ends_or_fails(livelike_fake):
    """MariaDB/MySQL's named locks outlive transactions: they are let go by hand, always."""
    users = make_users(6)

    def held() -> list:
        # Asked on this thread's connection: the very one the backfill locked with.
        return [user.pk for user in users if lock_holder("backfill", user.pk) is not None]

    def fails(report) -> None:
        raise RuntimeError("the caller's progress display broke")

    with pytest.raises(RuntimeError):
        backfill(select_users(), concurrency=2, batch_size=3, on_result=fails)
    assert held() == []
    report = backfill(select_users(), concurrency=2, batch_size=3)
    assert report.created == 6 - 3 and held() == []  # the failed batch's users were done anyway
    assert_one_active_profile_each(livelike_fake, users)


@pytest.mark.server_db
def test_three_concurrent_runs_in_processes_create_one_profile_each(livelike_fake):
    livelike_fake.latency = 0.01
    users = make_users(150)
    runs = [
        worker(livelike_fake, "livelike_provision", "--concurrency", "4", "--batch-size", "10")
        for _ in range(3)
    ]
    outputs = [finished(run) for run in runs]
    assert sum(count(out, "created") for out in outputs) == 150
    assert all(count(out, "failed") == 0 for out in outputs)
    assert_one_active_profile_each(livelike_fake, users)
    assert livelike_fake.count_calls("POST") == 150


def test_provision_user_reports_scheduled_inside_a_transaction(livelike_fake):
    from django.db import transaction

    user = make_user(1)
    with transaction.atomic():
        result = backfill_module.provision_user(user)
        assert result.outcome == backfill_module.Outcome.SCHEDULED
        assert livelike_fake.calls == []
    # ...and it ran when the transaction committed.
    assert LiveLikeProfile.objects.get(user=user).status == Status.ACTIVE


def test_backfill_refuses_to_run_inside_a_transaction(livelike_fake):
    from django.db import transaction

    make_user(1)
    with transaction.atomic(), pytest.raises(RuntimeError, match="inside a transaction"):
        backfill(select_users())


def test_threads_close_their_database_connections(livelike_fake):
    from django.db.backends.signals import connection_created

    make_users(20)
    opened = []

    def remember(sender, connection, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            opened.append(connection)

    connection_created.connect(remember, weak=False)
    try:
        provision("--concurrency", "8", "--batch-size", "5")
    finally:
        connection_created.disconnect(remember)
    assert len(opened) == 8  # one per thread, not one per user
    assert all(wrapper.connection is None for wrapper in opened)


@pytest.mark.server_db
def test_a_database_refusing_the_batch_locks_still_backfills_everyone(
    livelike_fake, livelike_settings, monkeypatch, caplog
):
    from livelike_profiles.provisioning import claim_locks

    if connection.vendor != "mysql":
        pytest.skip("PostgreSQL always has advisory locks; MariaDB Galera refuses named ones")
    livelike_settings(TIMEOUT=5.0)
    users = [make_user(n) for n in range(5)]
    # The server rejects the lock statement (a row where a name goes), as Galera refuses it.
    monkeypatch.setattr(claim_locks, "_name", lambda *args: ("not", "one name"))

    report = backfill(select_users(), concurrency=2, batch_size=2)

    assert report.created == len(users) and livelike_fake.create_count == len(users)
    assert "LiveLike backfill batch not locked, the database refused" in caplog.text
