"""SYNC_NICKNAME: the site's nickname pushed to LiveLike after commit, retried after failures."""

import logging

import pytest
from django.db import transaction

from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import log_in, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def syncing(fake_livelike, settings):
    settings.LIVELIKE = {
        **settings.LIVELIKE,
        "NICKNAME": "tests.nicknames.from_username",
        "SYNC_NICKNAME": True,
    }
    return fake_livelike


def remote_nickname(fake, user) -> str:
    return fake.profile(LiveLikeProfile.objects.get(user=user).profile_id).nickname


def rename(user, name: str) -> None:
    setattr(user, user.USERNAME_FIELD, name)
    user.save()


def test_off_by_default(fake_livelike, settings):
    settings.LIVELIKE = {**settings.LIVELIKE, "NICKNAME": "tests.nicknames.from_username"}
    user = make_user()
    ensure_profile(user)
    calls = len(fake_livelike.calls)
    rename(user, "renamed@example.com")
    assert len(fake_livelike.calls) == calls


def test_changed_nickname_is_pushed_after_commit(syncing):
    user = make_user()
    ensure_profile(user)
    with transaction.atomic():
        rename(user, "renamed@example.com")
        assert syncing.count_calls("PATCH") == 0  # not before the commit
    assert remote_nickname(syncing, user) == "fan renamed@example.com"
    assert LiveLikeProfile.objects.get(user=user).nickname == "fan renamed@example.com"


def test_unchanged_nickname_is_not_pushed(syncing):
    user = make_user()
    ensure_profile(user)
    user.save()
    assert syncing.count_calls("PATCH") == 0


def test_login_saves_do_not_push(syncing):
    user = make_user()
    log_in(user)
    # The nickname differs from the site's (e.g. set through the API) ...
    LiveLikeProfile.objects.filter(user=user).update(nickname="chosen by the fan")
    log_in(user)  # ... and a login, which saves last_login, leaves it alone.
    assert syncing.count_calls("PATCH") == 0
    assert LiveLikeProfile.objects.get(user=user).nickname == "chosen by the fan"


def test_failure_is_logged_never_raised_and_retried_at_next_login(syncing, caplog):
    user = make_user()
    ensure_profile(user)
    syncing.rate_limit_next(1, retry_after=5)
    with caplog.at_level(logging.WARNING, logger="livelike_profiles"):
        rename(user, "renamed@example.com")  # does not raise
    row = LiveLikeProfile.objects.get(user=user)
    assert row.nickname_sync_due and row.nickname != "fan renamed@example.com"
    assert "LiveLike nickname not pushed" in caplog.text
    assert row.access_token not in caplog.text

    log_in(user)
    row = LiveLikeProfile.objects.get(user=user)
    assert not row.nickname_sync_due
    assert remote_nickname(syncing, user) == "fan renamed@example.com" == row.nickname
