"""Django's error reports never show an access token.

The reports are the technical 500 page (``DEBUG = True``) and the mails of
``AdminEmailHandler`` (``include_html`` or not), built by
``django.views.debug.ExceptionReporter`` from every frame of the exception and
of the exceptions chained to it, with each frame's local variables. Django's
``SafeExceptionReporterFilter`` hides nothing while ``DEBUG`` is on, so the
token must be unprintable by itself, and the frames of ``requests``,
``urllib3`` and ``http.client`` (which hold the ``Authorization`` header as
bytes) must keep no variables. Each test checks ``DEBUG`` on and off, the HTML
and the text, for a real failure while a token is in flight.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator

import django
import pytest
from django.core import mail
from django.test import Client, RequestFactory
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter

from livelike_profiles.api.serializers import ProfileSerializer
from livelike_profiles.exceptions import LiveLikeError
from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from livelike_profiles.tokens.redaction import forgets_frames
from tests.factories import log_in, make_user


@pytest.fixture(params=[True, False], ids=["DEBUG", "no DEBUG"])
def debug(request, settings) -> bool:
    settings.DEBUG = request.param
    return request.param


PROFILE_URL = "/livelike/profile/"


def leaks(report: str, secret: str, size: int = 10) -> list[str]:
    """Where any ``size`` characters in a row of ``secret`` appear in ``report`` (with context)."""
    found = []
    for start in range(len(secret) - size + 1):
        at = report.find(secret[start : start + size])
        if at >= 0:
            found.append(report[max(0, at - 80) : at + size + 20])
    return found


def assert_hidden(reports: dict[str, str], *secrets: str) -> None:
    for name, report in reports.items():
        for secret in secrets:
            assert secret, "a test needs a real secret to look for"
            found = leaks(report, secret)
            assert not found, f"the {name} shows a secret: {found[:3]}"


def reports_of(exc_info, *, request=None) -> dict[str, str]:
    """The HTML and text reports, as the DEBUG page and as a mail."""
    reports = {}
    for is_email in (False, True):
        reporter = ExceptionReporter(request, *exc_info, is_email=is_email)
        kind = "mail" if is_email else "page"
        reports[f"{kind} (HTML)"] = reporter.get_traceback_html()
        reports[f"{kind} (text)"] = reporter.get_traceback_text()
    return reports


def failure_of(call: Callable[[], object]):
    """``sys.exc_info()`` of what ``call`` raises (no token in this frame's variables)."""
    try:
        call()
    except LiveLikeError:
        return sys.exc_info()
    pytest.fail("the call did not fail")


@pytest.fixture
def active(livelike_fake) -> Iterator[tuple[LiveLikeProfile, str]]:
    """An active profile and its token as LiveLike knows it."""
    row = ensure_profile(make_user(1))
    assert row.is_active
    yield row, livelike_fake.profile(row.profile_id).access_token


@pytest.mark.django_db(transaction=True)
def test_a_call_failing_on_the_network(debug, livelike_fake, active):
    row, token = active
    get_client().get_application()  # discovered: the failing call is the one with the token
    livelike_fake.stop()  # nothing listens any more: connection refused

    info = failure_of(lambda: get_client().update_own_profile(row.access_token, nickname="x"))
    reports = reports_of(info, request=RequestFactory().patch(PROFILE_URL))

    text = reports["page (text)"]
    # The report does cover the frames that held the token, down into urllib3.
    assert "update_own_profile" in text and "urllib3" in text and "http/client.py" in text
    assert_hidden(reports, token, f"Bearer {token}")


@pytest.mark.django_db(transaction=True)
def test_a_call_refused_by_livelike(debug, livelike_fake, active):
    row, token = active
    livelike_fake.rate_limit_next(1)

    info = failure_of(lambda: get_client().update_own_profile(row.access_token, nickname="x"))
    reports = reports_of(info)

    assert "parse_answer" in reports["page (text)"] and "access_token" in reports["page (HTML)"]
    assert_hidden(reports, token, f"Bearer {token}")


@pytest.mark.django_db(transaction=True)
def test_the_admin_token_of_a_lookup(debug, livelike_fake):
    get_client().get_application()
    livelike_fake.stop()

    info = failure_of(lambda: get_client().get_profile_by_custom_id("some-custom-id"))

    assert_hidden(reports_of(info), livelike_fake.admin_token)


@pytest.mark.django_db(transaction=True)
def test_the_admin_token_of_a_delete(debug, livelike_fake):
    livelike_fake.stop()

    info = failure_of(lambda: get_client().delete_profile("some-profile-id"))

    assert "delete_profile" in reports_of(info)["page (text)"]
    assert_hidden(reports_of(info), livelike_fake.admin_token)


@pytest.mark.django_db(transaction=True)
def test_a_created_profile_whose_answer_is_unusable(debug, livelike_fake):
    # LiveLike created a profile but its answer lacks the id: the token in it
    # is in the variables of the frames that read the answer.
    token = "tok-" + "Zq9" * 12
    get_client().get_application()
    livelike_fake.malformed_next(1, body=json.dumps({"access_token": token, "nickname": "n"}))

    info = failure_of(lambda: get_client().create_profile())

    assert "the profile in the answer has no usable id" in reports_of(info)["page (text)"]
    assert_hidden(reports_of(info), token)


@pytest.mark.django_db(transaction=True)
def test_a_500_from_the_api_view(settings, debug, livelike_fake):
    user = make_user(1)
    client = log_in(user, Client(raise_request_exception=False))
    row = LiveLikeProfile.objects.get(user=user)
    token = livelike_fake.profile(row.profile_id).access_token
    answer = client.get(PROFILE_URL)
    assert answer.json()["access_token"] == token  # the one place it goes: its own user

    # Django 6.0 takes addresses; 5.2 only (name, address) pairs, which 6.1 deprecates.
    settings.ADMINS = (
        ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
    )
    mails = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("django.request")
    logger.addHandler(mails)

    def hook_that_fails(response, *args, **kwargs):
        # A site's own response hook (metrics, say) with a bug: it escapes the view.
        raise RuntimeError("the metrics hook failed")

    # Discovered now, so the failing answer is the one to the token's PATCH.
    get_client().profile_url()
    hooks = get_client().session.hooks["response"]
    hooks.append(hook_that_fails)
    try:
        response = client.patch(PROFILE_URL, {"nickname": "x"}, content_type="application/json")
        # Not asking for HTML gets the text version of the DEBUG page.
        plain = client.patch(
            PROFILE_URL,
            {"nickname": "x"},
            content_type="application/json",
            HTTP_ACCEPT="application/json",
        )
    finally:
        hooks.remove(hook_that_fails)
        logger.removeHandler(mails)

    assert response.status_code == plain.status_code == 500
    reports = {}
    if debug:
        reports["DEBUG page (HTML)"] = response.content.decode()
        reports["DEBUG page (text)"] = plain.content.decode()
        assert "hook_that_fails" in reports["DEBUG page (text)"]
    ours = [message for message in mail.outbox if "ops@example.com" in message.to]
    assert ours
    for n, message in enumerate(ours):
        reports[f"mail {n} (text)"] = message.body
        for html, _type in message.alternatives:
            reports[f"mail {n} (HTML)"] = html
    assert any("(HTML)" in name and name.startswith("mail") for name in reports)
    assert all("update_own_profile" in report for report in reports.values())
    assert_hidden(reports, token, f"Bearer {token}")


def client_build_failure():
    """``sys.exc_info()`` of ``get_client()`` failing (this frame holds no secret)."""
    try:
        get_client()
    except OSError:
        return sys.exc_info()
    pytest.fail("the client was built")


def test_the_settings_secrets_when_the_client_cannot_be_built(settings, debug):
    # get_client() keys its clients by the settings, the admin token among them:
    # a client class that fails to build leaves that key in the report's frames.
    secrets = {
        "API_TOKEN": "adm-" + "Vb2x" * 10,
        "CLIENT_SECRET": "sec-" + "K7wq" * 10,
        "CUSTOM_ID_SECRET": "cid-" + "p4Qz" * 10,
    }
    settings.LIVELIKE = {
        **settings.LIVELIKE,
        "CLIENT_CLASS": "tests.clients.BrokenSessionClient",
        **secrets,
    }
    reports = reports_of(client_build_failure())
    assert "get_client" in reports["page (text)"] and "key" in reports["page (text)"]
    assert_hidden(reports, *secrets.values())


@pytest.mark.django_db(transaction=True)
def test_the_token_is_still_the_token(livelike_fake, active):
    # Masked in reports, but the value itself is unchanged wherever it is used.
    row, token = active
    assert token not in repr(row.access_token) and token not in repr([row.access_token])
    assert row.access_token == token and str(row.access_token) == token
    assert f"{row.access_token}" == token and "Bearer " + row.access_token == f"Bearer {token}"
    assert json.loads(json.dumps(ProfileSerializer(row).data))["access_token"] == token
    remote = get_client().update_own_profile(row.access_token, nickname="Still Works")
    assert remote.nickname == "Still Works"  # LiveLike got the real header


def test_frames_above_the_client_keep_their_variables():
    # An exception the site was handling when it called the client is chained
    # to the client's (``__context__``): its frames are the site's, left alone.
    def site_code():
        kept = "the site's own variable"
        raise KeyError(kept)

    def beneath():
        forgotten = "a variable of a frame the client called"
        raise ZeroDivisionError(forgotten)

    try:
        try:
            site_code()
        except KeyError:
            forgets_frames(beneath)()
    except ZeroDivisionError as error:
        raised = error
    frames = {}
    for exc in (raised, raised.__context__):
        tb = exc.__traceback__
        while tb is not None:
            frames[tb.tb_frame.f_code.co_name] = tb.tb_frame.f_locals
            tb = tb.tb_next
    assert frames["site_code"] == {"kept": "the site's own variable"}
    assert frames["beneath"] == {}
