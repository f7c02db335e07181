"""``manage.py livelike_check_credentials``: good and bad credentials, against the fake LiveLike."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from livelike_profiles.sync.credentials import CHECK_CUSTOM_ID

pytestmark = pytest.mark.django_db(transaction=True)


def said(out: str, what: str) -> str:
    """What the output says of the check ``what``: the rest of its line."""
    (line,) = [line for line in out.splitlines() if line.strip().startswith(what)]
    return line.strip()[len(what) :].strip()


def check(*args: str) -> str:
    out = io.StringIO()
    call_command("livelike_check_credentials", *args, stdout=out)
    return out.getvalue()


def check_failing(*args: str) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("livelike_check_credentials", *args, stdout=out)
    return out.getvalue(), str(refused.value)


def test_good_credentials_pass_and_create_no_profile(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings()
    out = check()
    assert said(out, "application (CLIENT_ID, API_URL)").startswith("ok")
    assert said(out, "admin token (API_TOKEN)").startswith("ok: accepted")
    assert said(out, "client secret (CLIENT_SECRET)").startswith(
        "not tried: a minted token's first use"
    )
    assert livelike_fake.profiles == [] and livelike_fake.create_count == 0


def test_minted_tries_the_client_secret_with_one_profile_for_every_run(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings()
    for _ in range(2):
        assert said(check("--minted"), "client secret (CLIENT_SECRET)").startswith("ok")
    (made,) = livelike_fake.profiles
    assert made.custom_id == CHECK_CUSTOM_ID


def test_a_wrong_client_id_is_named(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(CLIENT_ID="not-ours")
    out, error = check_failing()
    assert "FAILED" in out and "CLIENT_ID" in out and "application" in error


def test_a_wrong_admin_token_is_refused(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(API_TOKEN="wrong-admin-token")
    out, error = check_failing()
    assert said(out, "admin token (API_TOKEN)").startswith("FAILED: refused")
    assert "API_TOKEN" in error
    assert "wrong-admin-token" not in out + error  # never a credential in the output


def test_a_wrong_client_secret_is_refused_with_minted(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(CLIENT_SECRET="w" * 40)
    assert "not tried" in check()  # without --minted, nothing minted is tried
    out, error = check_failing("--minted")
    assert said(out, "client secret (CLIENT_SECRET)").startswith("FAILED")
    assert "CLIENT_SECRET" in error
    assert livelike_fake.profiles == [] and "w" * 40 not in out


def test_credentials_not_set_are_said_so(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(API_TOKEN="", CLIENT_SECRET="")
    out = check()
    assert said(out, "admin token (API_TOKEN)").startswith("not tried: not set")
    assert said(out, "client secret (CLIENT_SECRET)") == "not tried: not set"


def test_livelike_down_fails_the_check(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(API_URL="http://127.0.0.1:9/api/v1/")
    out, _ = check_failing()
    assert "FAILED: LiveLikeUnavailable" in out
