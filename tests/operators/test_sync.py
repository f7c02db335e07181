"""``manage.py livelike_sync``: nicknames and statuses refreshed from the fake LiveLike."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import make_user, make_users

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("livelike_sync", *args, stdout=out)
    return out.getvalue()


def count(output: str, label: str) -> int:
    match = re.search(rf"^\s+{re.escape(label)}\s+(\d+)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return int(match.group(1))


def reloaded(profile: LiveLikeProfile) -> LiveLikeProfile:
    return LiveLikeProfile.objects.get(pk=profile.pk)


@pytest.fixture
def profiles(livelike_fake):
    """Three users with active profiles at the fake."""
    return [ensure_profile(user) for user in make_users(3)]


def test_sync_refreshes_nicknames_and_marks_revoked_tokens(livelike_fake, profiles):
    renamed, revoked, unchanged = profiles
    get_client().update_own_profile(renamed.access_token, nickname="Renamed")
    livelike_fake.revoke(revoked.profile_id)

    output = sync("--concurrency", "2", "--batch-size", "2")

    assert reloaded(renamed).nickname == "Renamed"
    assert reloaded(unchanged).nickname == unchanged.nickname
    assert all(reloaded(p).synced_at is not None for p in (renamed, unchanged))
    row = reloaded(revoked)
    assert row.status == Status.REVOKED and "HTTP 401" in row.last_error
    assert row.profile_id == revoked.profile_id and row.synced_at is None
    # Reported, by user, and never replaced by a new profile.
    assert count(output, "token refused (revoked)") == 1
    assert count(output, "refreshed") == 2
    assert f"user {revoked.user_id} " in output
    assert livelike_fake.create_count == 3
    for profile in profiles:
        assert livelike_fake.profile(profile.profile_id).access_token not in output


def profile_selects(*args: str) -> int:
    """How many SELECTs of the profile table a sync makes."""
    table = LiveLikeProfile._meta.db_table
    with CaptureQueriesContext(connection) as captured:
        sync(*args)
    return sum(
        1
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith("SELECT") and table in query["sql"]
    )


def test_each_row_is_read_once_whatever_their_number(livelike_fake):
    # custom_id was left out of the batch's .only(): each row's token read loaded it.
    for user in make_users(5):
        ensure_profile(user)
    few = profile_selects()
    for n in range(5, 20):
        ensure_profile(make_user(n))
    assert profile_selects() == few
    assert LiveLikeProfile.objects.filter(synced_at__isnull=False).count() == 20


def test_revoked_rows_are_left_out_unless_asked_for(livelike_fake, profiles):
    livelike_fake.revoke(profiles[0].profile_id)
    sync()
    reads = livelike_fake.count_calls("GET", "/profile/")
    sync()
    assert livelike_fake.count_calls("GET", "/profile/") - reads == 2  # the two active ones

    output = sync("--include-revoked")
    assert count(output, "token refused (revoked)") == 1
    assert reloaded(profiles[0]).status == Status.REVOKED


def test_a_token_that_works_again_is_restored(livelike_fake, profiles):
    LiveLikeProfile.objects.filter(pk=profiles[0].pk).update(
        status=Status.REVOKED, last_error="LiveLikeTokenRejected: HTTP 401"
    )
    output = sync("--include-revoked")
    row = reloaded(profiles[0])
    assert row.status == Status.ACTIVE and row.last_error == ""
    assert count(output, "token works again (restored)") == 1


def test_a_nickname_waiting_to_be_pushed_is_not_overwritten(livelike_fake, profiles):
    profile = profiles[0]
    LiveLikeProfile.objects.filter(pk=profile.pk).update(
        nickname="Site's new nickname", nickname_sync_due=True
    )
    sync()
    row = reloaded(profile)
    assert row.nickname == "Site's new nickname" and row.nickname_sync_due
    assert row.synced_at is not None


def test_livelike_failing_exits_non_zero_and_changes_nothing(livelike_fake, profiles):
    get_client().get_application()  # discovered already: the next request is the read
    livelike_fake.malformed_next(1)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 profile\\(s\\) could not be checked"):
        call_command("livelike_sync", "--concurrency", "1", stdout=out)
    assert count(out.getvalue(), "LiveLike error") == 1
    assert "LiveLikeBadResponse" in out.getvalue()
    assert {row.status for row in LiveLikeProfile.objects.all()} == {Status.ACTIVE}
    assert LiveLikeProfile.objects.filter(synced_at__isnull=True).count() == 1


def test_a_rate_limit_pauses_and_retries(livelike_fake, profiles):
    get_client().get_application()
    livelike_fake.rate_limit_next(1, retry_after=0)
    output = sync("--concurrency", "1")
    assert count(output, "refreshed") == 3
    assert livelike_fake.count_calls("GET", "/profile/") == 4  # 3 + the 429


def test_an_unreadable_token_is_reported(livelike_fake, profiles, livelike_settings):
    other_key = Fernet.generate_key().decode()
    unreadable = profiles[0]
    with livelike_settings(ENCRYPTION_KEYS=[other_key]):
        row = LiveLikeProfile.objects.get(pk=unreadable.pk)
        row.access_token = "some-other-token-under-another-key"
        row.save()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("livelike_sync", stdout=out)
    assert count(out.getvalue(), "token unreadable (key missing)") == 1
    assert count(out.getvalue(), "refreshed") == 2
    assert reloaded(unreadable).status == Status.ACTIVE


def test_stale_hours_skips_recently_synced_profiles(livelike_fake, profiles):
    LiveLikeProfile.objects.filter(pk=profiles[0].pk).update(synced_at=timezone.now())
    LiveLikeProfile.objects.filter(pk=profiles[1].pk).update(
        synced_at=timezone.now() - timedelta(hours=30)
    )
    output = sync("--stale-hours", "24")
    assert count(output, "profiles checked") == 2
    assert count(sync("--users", str(profiles[0].user_id)), "profiles checked") == 1


def test_bad_user_ids_are_refused(livelike_fake):
    with pytest.raises(CommandError, match="not a valid user id"):
        sync("--users", "not-an-id")


def test_unknown_user_ids_are_refused_and_call_nobody(livelike_fake, profiles):
    # As livelike_provision does: a mistyped id is said, not taken for "nothing to do".
    user_pk = profiles[0].user_id
    missing = "12345678" if isinstance(user_pk, int) else "00000000-0000-0000-0000-000000000000"
    made = len(livelike_fake.calls)  # the profiles' creation
    with pytest.raises(CommandError, match=f"--users: no user with id {missing}"):
        sync("--users", f"{user_pk},{missing}")
    assert len(livelike_fake.calls) == made


@pytest.mark.parametrize("hours", ["-1", "nan", "inf", "1e300", "87601"])
def test_stale_hours_out_of_range_are_refused(livelike_fake, profiles, hours):
    # NaN, infinity and 1e300 used to end in a traceback from the date arithmetic.
    made = len(livelike_fake.calls)  # the profiles' creation
    with pytest.raises(CommandError, match="--stale-hours must be from 0 to 87,600"):
        sync("--stale-hours", hours)
    assert len(livelike_fake.calls) == made


@pytest.mark.parametrize(
    "answered, token_reads",
    [("discovery", 0), ("the token's own read", 3)],
    ids=["on discovery", "on the profile read"],
)
def test_an_html_403_revokes_nobody(livelike_fake, answered, token_reads):
    """A CDN/WAF page is not LiveLike refusing a token: on the application resource
    (no token sent), nor on a profile's own read (not LiveLike's JSON)."""
    rows = [ensure_profile(user) for user in make_users(3)]
    if answered == "discovery":
        get_client().forget_application()  # each read must discover profile_url first
    else:
        get_client().profile_url()  # discovered: the next requests are the profiles' reads
    livelike_fake.malformed_next(3, body="<html>403 Forbidden</html>", status=403)
    before = list(LiveLikeProfile.objects.order_by("pk").values())
    out = io.StringIO()
    with pytest.raises(CommandError, match="3 profile\\(s\\) could not be checked"):
        call_command("livelike_sync", "--concurrency", "2", stdout=out)
    assert count(out.getvalue(), "LiveLike error") == 3
    assert count(out.getvalue(), "token refused (revoked)") == 0
    assert list(LiveLikeProfile.objects.order_by("pk").values()) == before
    assert livelike_fake.count_calls("GET", "/profile/") == token_reads
    assert {reloaded(row).status for row in rows} == {Status.ACTIVE}


def test_a_nickname_with_a_nul_byte_at_livelike_is_stored_clean(livelike_fake, profiles):
    """PostgreSQL refuses NUL bytes: the sync must not crash on one, nor store it elsewhere."""
    get_client().update_own_profile(profiles[0].access_token, nickname="Ot\x00ter\x1b")
    assert livelike_fake.profile(profiles[0].profile_id).nickname == "Ot\x00ter\x1b"
    output = sync()
    assert count(output, "refreshed") == 3
    assert reloaded(profiles[0]).nickname == "Otter"
