"""``LIVELIKE["PROVISION_IF"]``: who gets a profile, honoured by every path that provisions unasked.

Against the fake LiveLike over real sockets. The example rule turns staff away.
"""

from __future__ import annotations

import io
import logging

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import Client

from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import log_in, make_user, row_of

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/livelike/profile/"


@pytest.fixture
def no_staff(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_IF="tests.nicknames.not_staff")
    return livelike_fake


def staff_member(n: int = 0):
    user = make_user(n)
    user.is_staff = True
    user.save()
    return user


def test_a_staff_login_provisions_nothing(no_staff):
    log_in(staff_member())
    assert not LiveLikeProfile.objects.exists() and no_staff.calls == []


def test_everyone_else_is_provisioned_as_before(no_staff):
    user = make_user(1)
    log_in(user)
    assert row_of(user).is_active


def test_the_api_turns_an_excluded_account_away_with_a_clear_403(no_staff):
    client = Client()
    client.force_login(staff_member())
    for response in (client.get(URL), client.patch(URL, {"nickname": "x"}, "application/json")):
        assert response.status_code == 403
        assert response.json() == {"detail": "This account has no LiveLike profile."}
    assert not LiveLikeProfile.objects.exists() and no_staff.calls == []


def test_request_livelike_profile_is_none_for_an_excluded_account(no_staff):
    client = Client()
    client.force_login(staff_member())
    assert client.get("/touch/").content.endswith(b"profile -")
    assert not LiveLikeProfile.objects.exists()


def test_the_backfill_skips_excluded_accounts(no_staff):
    staff, fan = staff_member(0), make_user(1)
    out = io.StringIO()
    call_command("livelike_provision", stdout=out)
    assert row_of(fan).is_active
    assert not LiveLikeProfile.objects.filter(user_id=staff.pk).exists()
    assert no_staff.create_count == 1


def test_ensure_profile_called_explicitly_does_not_ask(no_staff):
    assert ensure_profile(staff_member()).is_active  # the site's own code decides


def test_an_excluded_account_adopts_no_guest(no_staff, livelike_settings):
    livelike_settings(GUEST_PROFILES=True)
    client = Client()
    assert client.get(URL).status_code == 200
    log_in(staff_member(), client)
    assert not LiveLikeProfile.objects.exists()


def test_a_rule_that_raises_turns_the_account_away_and_is_logged(
    livelike_fake, livelike_settings, caplog
):
    livelike_settings(PROVISION_IF="tests.nicknames.broken_rule")
    with caplog.at_level(logging.ERROR, logger="livelike_profiles"):
        log_in(make_user())
    assert not LiveLikeProfile.objects.exists()
    assert "PROVISION_IF" in caplog.text and "the site's rule has a bug" in caplog.text


@pytest.mark.parametrize("value", ["no.such.module.rule", "tests.nicknames.NOT_CALLABLE", 5])
def test_a_provision_if_that_is_no_callable_fails_the_check(settings, value):
    settings.LIVELIKE = {"CLIENT_ID": "c", "API_TOKEN": "t", "PROVISION_IF": value}
    assert "livelike_profiles.E024" in [m.id for m in run_checks()]
