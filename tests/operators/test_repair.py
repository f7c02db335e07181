"""``livelike_sync --repair``: revoked and conflict rows given a working profile again.

Against the fake LiveLike over sockets. "The same profile" is checked at the fake: a token
the row hands out reads that profile, and nothing was created; "a new profile" too: one
more profile there, the old one left as it was.
"""

from __future__ import annotations

import io
import re

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from livelike_profiles.sync.refresh import SyncOutcome, refresh_profile
from livelike_profiles.sync.repair import Action, RepairOutcome, plan, repair
from livelike_profiles.tokens.encryption import Ciphertext
from tests.factories import first_answer_lost, fresh, make_user, row_of

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status
API = "/livelike/profile/"
LOOKUPS = "/profile-by-custom-id/"


def revoked(fake, n: int = 0) -> LiveLikeProfile:
    """A user's stored-mode profile whose token LiveLike refuses, marked so by a refresh."""
    row = ensure_profile(make_user(n))
    assert row.is_active and row.stored_token
    fake.revoke(row.profile_id)
    assert refresh_profile(row).outcome == SyncOutcome.REVOKED
    return LiveLikeProfile.objects.get(pk=row.pk)


def gone_at_livelike(row: LiveLikeProfile) -> None:
    """Delete the row's profile at LiveLike (the admin token's DELETE)."""
    assert get_client().delete_profile(row.profile_id)


def in_conflict(fake, livelike_settings) -> LiveLikeProfile:
    """A row in ``conflict``: its create answer was lost, and without a secret it cannot be read."""
    user = first_answer_lost(fake, livelike_settings)
    row = ensure_profile(fresh(user))
    assert row.status == Status.CONFLICT and row.profile_id is None
    return row


def stored(row: LiveLikeProfile) -> dict:
    return LiveLikeProfile.objects.values().get(pk=row.pk)


def token_from_the_api(user) -> str:
    """The token the site's API hands the user's SDK."""
    client = Client()
    client.force_login(user)
    response = client.get(API)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("livelike_sync", "--repair", *args, stdout=out)
    return out.getvalue()


def run_failing(*args: str) -> tuple[CommandError, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("livelike_sync", "--repair", *args, stdout=out)
    return raised.value, out.getvalue()


def count(output: str, label: str) -> int:
    match = re.search(rf"^\s+{re.escape(label)}\s+(\d+)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return int(match.group(1))


@pytest.fixture
def secret(livelike_fake, livelike_settings):
    """A ``CLIENT_SECRET`` the fake accepts, in ``"stored"`` mode."""
    livelike_settings(CLIENT_SECRET=livelike_fake.client_secret)
    return livelike_fake.client_secret


# -- the service -----------------------------------------------------------------------


def test_a_revoked_row_keeps_its_profile_when_livelike_still_has_it(livelike_fake, secret):
    row = revoked(livelike_fake)
    created, lookups = livelike_fake.create_count, livelike_fake.count_calls("GET", LOOKUPS)

    result = repair(row)

    assert result.outcome == RepairOutcome.KEPT
    assert livelike_fake.count_calls("GET", LOOKUPS) == lookups + 1  # checked first
    now = row_of(row.user)
    assert now.status == Status.ACTIVE and now.profile_id == row.profile_id
    assert now.stored_token == "" and now.uses_minted_tokens  # the refused token is gone
    # Usable through the API: the token it hands out is the same profile at LiveLike.
    assert get_client().get_own_profile(token_from_the_api(row.user)).id == row.profile_id
    assert livelike_fake.create_count == created


def test_nothing_is_minted_for_a_profile_livelike_no_longer_has(livelike_fake, secret):
    row = revoked(livelike_fake)
    gone_at_livelike(row)
    before, created = stored(row), livelike_fake.create_count

    planned = plan(row)
    assert planned.action == Action.NEW_PROFILE
    assert "no profile for the row's custom id any more" in planned.reason
    assert repair(row).outcome == RepairOutcome.REFUSED
    assert stored(row) == before and livelike_fake.create_count == created

    old_profile, old_custom_id = row.profile_id, row.custom_id
    result = repair(row, allow_new_profiles=True)

    assert result.outcome == RepairOutcome.REPLACED
    now = row_of(row.user)
    assert now.is_active and now.profile_id not in (None, old_profile)
    assert now.custom_id != old_custom_id
    assert livelike_fake.create_count == created + 1
    assert livelike_fake.profile(now.profile_id).custom_id == now.custom_id
    assert get_client().get_own_profile(token_from_the_api(row.user)).id == now.profile_id


@pytest.mark.parametrize(
    "trouble, said",
    [
        ("outage", "HTTP 503"),
        ("html 404", "HTTP 404"),  # a proxy's page, not LiveLike's JSON: it proves nothing
        ("admin token refused", "HTTP 401"),
    ],
)
def test_livelike_trouble_changes_nothing_and_says_so(
    livelike_fake, secret, livelike_settings, trouble, said
):
    row = revoked(livelike_fake)
    before, created = stored(row), livelike_fake.create_count
    if trouble == "outage":
        livelike_fake.fail_next_lookups(1, status=503)
    elif trouble == "html 404":
        livelike_fake.fail_next_lookups(1, status=404, body="<html>Not Found</html>")
    else:
        livelike_settings(API_TOKEN="not-the-admin-token")

    result = repair(row, allow_new_profiles=True)

    assert result.outcome == RepairOutcome.ERROR
    assert "could not be asked" in result.detail and said in result.detail
    assert stored(row) == before and livelike_fake.create_count == created


def test_without_the_admin_token_minting_cannot_be_checked(
    livelike_fake, secret, livelike_settings
):
    livelike_settings(API_TOKEN="")
    row = revoked(livelike_fake)  # its profile is still there, but nobody can tell
    before = stored(row)

    planned = plan(row)

    assert planned.action == Action.NEW_PROFILE and "API_TOKEN" in planned.reason
    assert f"The old profile ({row.profile_id}) stays at LiveLike" in planned.loses
    assert repair(row).outcome == RepairOutcome.REFUSED and stored(row) == before


# -- the command -----------------------------------------------------------------------


def test_the_command_keeps_what_it_can_and_makes_new_profiles_only_when_allowed(
    livelike_fake, secret
):
    kept, lost = revoked(livelike_fake, 1), revoked(livelike_fake, 2)
    gone_at_livelike(lost)
    active = ensure_profile(make_user(3))
    before, created = stored(lost), livelike_fake.create_count

    error, output = run_failing()

    assert error.returncode == 1 and "--allow-new-profiles" in str(error)
    assert count(output, "same profile kept (tokens minted)") == 1
    assert count(output, "need a new profile (--allow-new-profiles)") == 1
    assert count(output, "new profile made") == 0
    assert f"user {kept.user_id} (profile row {kept.pk}): same profile kept" in output
    assert f"user {lost.user_id} (profile row {lost.pk}): need a new profile" in output
    assert row_of(kept.user).status == Status.ACTIVE
    assert stored(lost) == before and livelike_fake.create_count == created
    assert f"user {active.user_id} " not in output  # nothing to repair: not even looked at

    output = run("--allow-new-profiles")

    assert count(output, "new profile made") == 1 and count(output, "rows looked at") == 1
    now = row_of(lost.user)
    assert now.is_active and now.profile_id != lost.profile_id
    assert livelike_fake.create_count == created + 1
    for profile in livelike_fake.profiles + livelike_fake.deleted:
        assert profile.access_token not in output


def test_a_conflict_without_a_secret_gets_a_new_profile_only_when_allowed(
    livelike_fake, livelike_settings
):
    row = in_conflict(livelike_fake, livelike_settings)
    old = livelike_fake.profile_by_custom_id(row.custom_id)
    before = stored(row)

    error, output = run_failing()

    assert error.returncode == 1
    assert (
        "CLIENT_SECRET" in output
        and count(output, "need a new profile (--allow-new-profiles)") == 1
    )
    assert stored(row) == before and livelike_fake.create_count == 1

    output = run("--allow-new-profiles")

    assert count(output, "new profile made") == 1
    now = row_of(row.user)
    assert now.is_active and now.profile_id != old.id
    assert livelike_fake.create_count == 2
    assert livelike_fake.profile(old.id).custom_id == row.custom_id  # left at LiveLike as it was
    assert token_from_the_api(row.user) == livelike_fake.profile(now.profile_id).access_token


def test_users_limits_the_repair_to_those_users(livelike_fake, secret):
    named, other = revoked(livelike_fake, 1), revoked(livelike_fake, 2)

    output = run("--users", str(named.user_id))

    assert count(output, "rows looked at") == 1
    assert row_of(named.user).status == Status.ACTIVE
    assert row_of(other.user).status == Status.REVOKED
    assert f"user {other.user_id} " not in output


def test_a_token_no_key_decrypts_gets_a_new_profile_when_allowed(livelike_fake):
    row = ensure_profile(make_user())
    foreign = Fernet(Fernet.generate_key()).encrypt(b"a token under a lost key").decode()
    LiveLikeProfile.objects.filter(pk=row.pk).update(access_token=Ciphertext(foreign))

    error, output = run_failing("--users", str(row.user_id))
    assert "cannot be decrypted" in output and error.returncode == 1

    output = run("--allow-new-profiles")
    now = row_of(row.user)
    assert now.is_active and now.profile_id != row.profile_id
    assert token_from_the_api(row.user) == livelike_fake.profile(now.profile_id).access_token


@pytest.mark.parametrize(
    "args, message",
    [
        (["--allow-new-profiles"], "--allow-new-profiles goes with --repair"),
        (["--repair", "--include-revoked"], "--repair does not sync"),
        (["--repair", "--stale-hours", "3"], "--repair does not sync"),
    ],
)
def test_options_that_do_not_go_together_are_usage_errors(livelike_fake, secret, args, message):
    row = revoked(livelike_fake)
    before, calls = stored(row), len(livelike_fake.calls)
    with pytest.raises(CommandError, match=message) as raised:
        call_command("livelike_sync", *args, stdout=io.StringIO())
    assert raised.value.returncode == 2
    assert stored(row) == before and len(livelike_fake.calls) == calls
