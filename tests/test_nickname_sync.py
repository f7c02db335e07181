"""SYNC_NICKNAME: the site's nickname pushed to LiveLike after commit, retried after failures."""

import logging

import pytest
from django.db import transaction

from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import log_in, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def syncing(livelike_fake, livelike_settings):
    livelike_settings(NICKNAME="tests.nicknames.from_username", SYNC_NICKNAME=True)
    return livelike_fake


def remote_nickname(fake, user) -> str:
    return fake.profile(LiveLikeProfile.objects.get(user=user).profile_id).nickname


def rename(user, name: str) -> None:
    setattr(user, user.USERNAME_FIELD, name)
    user.save()


def test_off_by_default(livelike_fake, livelike_settings):
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    user = make_user()
    ensure_profile(user)
    calls = len(livelike_fake.calls)
    rename(user, "renamed@example.com")
    assert len(livelike_fake.calls) == calls


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


def make_token_unreadable(user, livelike_settings) -> None:
    """Store the user's token under a key the site no longer has."""
    from cryptography.fernet import Fernet

    with livelike_settings(ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        row = LiveLikeProfile.objects.get(user=user)
        row.access_token = "a-token-under-a-lost-key"
        row.save()


def test_an_unreadable_token_never_breaks_login_and_the_push_stays_due(
    syncing, livelike_settings, caplog
):
    user = make_user()
    ensure_profile(user)
    LiveLikeProfile.objects.filter(user=user).update(nickname_sync_due=True)
    make_token_unreadable(user, livelike_settings)
    with caplog.at_level(logging.WARNING, logger="livelike_profiles"):
        log_in(user)  # asserts the login succeeded
    row = LiveLikeProfile.objects.get(user=user)
    assert row.nickname_sync_due and row.is_active
    assert "UnreadableTokenError" in caplog.text
    assert syncing.count_calls("PATCH") == 0


def test_an_unreadable_token_on_save_is_logged_not_raised(syncing, livelike_settings, caplog):
    user = make_user()
    ensure_profile(user)
    make_token_unreadable(user, livelike_settings)
    with caplog.at_level(logging.WARNING, logger="livelike_profiles"):
        rename(user, "renamed@example.com")
    assert LiveLikeProfile.objects.get(user=user).nickname_sync_due
    assert "LiveLike nickname not pushed" in caplog.text


@pytest.fixture
def refused(syncing, livelike_settings):
    """The site's nickname is one LiveLike always refuses (400: longer than it allows)."""
    livelike_settings(NICKNAME="tests.nicknames.too_long_for_livelike", NICKNAME_MAX_LENGTH=80)
    return syncing


def test_a_nickname_livelike_refuses_is_not_retried_at_every_login(refused, caplog):
    user = make_user()
    ensure_profile(user)  # created without the refused nickname
    with caplog.at_level(logging.WARNING, logger="livelike_profiles"):
        user.save()  # the push: refused
    assert refused.count_calls("PATCH") == 1
    row = LiveLikeProfile.objects.get(user=user)
    assert not row.nickname_sync_due and row.is_active
    assert (
        row.last_error.startswith("Nickname refused by LiveLike") and "HTTP 400" in row.last_error
    )
    assert f"user={user.pk}" in caplog.text and "refused" in caplog.text
    for _ in range(3):
        log_in(user)
    assert refused.count_calls("PATCH") == 1


def test_a_nickname_pushed_later_clears_the_refusal(refused, livelike_settings):
    user = make_user()
    ensure_profile(user)
    user.save()
    assert LiveLikeProfile.objects.get(user=user).last_error
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    user.save()
    row = LiveLikeProfile.objects.get(user=user)
    assert row.nickname == f"fan {user.get_username()}" and row.last_error == ""


@pytest.mark.parametrize("atomic", [False, True])
def test_a_push_that_raises_is_logged_never_raised_into_the_save(
    syncing, monkeypatch, caplog, atomic
):
    """Django's robust on_commit must be able to log the error (a partial could not be named)."""
    from livelike_profiles.sync import push as push_to_livelike

    user = make_user()
    ensure_profile(user)

    def broken(user_pk):
        raise RuntimeError("push bug")

    monkeypatch.setattr(push_to_livelike, "_push_by_pk", broken)
    with caplog.at_level(logging.ERROR):
        if atomic:
            with transaction.atomic():
                rename(user, "renamed@example.com")
        else:
            rename(user, "renamed@example.com")
    assert "push bug" in caplog.text
