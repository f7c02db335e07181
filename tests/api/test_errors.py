"""The API under odd input, odd LiveLike answers and an unreadable token: never a 500."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from cryptography.fernet import Fernet
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone

from livelike_profiles.exceptions import LiveLikeRateLimited
from livelike_profiles.livelike.client import LiveLikeClient
from livelike_profiles.middleware import LiveLikeProfileMiddleware
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.tokens.encryption import Ciphertext, derive_key
from tests.api.test_profile_api import URL, patch
from tests.factories import row_of

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status
DEEP = 100_000  # far past Python's recursion limit


def assert_nothing_changed(user, fake, nickname: str, patches: int) -> None:
    row = row_of(user)
    assert row.nickname == nickname
    assert fake.profile(row.profile_id).nickname == nickname
    assert fake.count_calls("PATCH") == patches


# -- request bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["[" * DEEP + "]" * DEEP, '{"nickname": ' + "[" * DEEP + "]" * DEEP + "}"],
    ids=["nested arrays", "nested inside the nickname"],
)
def test_deeply_nested_json_is_a_400(client, user, livelike_fake, body):
    before, patches = row_of(user).nickname, livelike_fake.count_calls("PATCH")
    response = patch(client, body)
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert_nothing_changed(user, livelike_fake, before, patches)


def test_a_text_body_is_a_415(client, user, livelike_fake):
    before, patches = row_of(user).nickname, livelike_fake.count_calls("PATCH")
    response = patch(client, "nickname=Grace", content_type="text/plain")
    assert response.status_code == 415
    assert "text/plain" in response.json()["detail"]
    assert_nothing_changed(user, livelike_fake, before, patches)


def test_form_data_is_still_accepted(client, user, livelike_fake):
    response = patch(client, "nickname=Grace", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert (
        row_of(user).nickname == "Grace" == livelike_fake.profile(row_of(user).profile_id).nickname
    )


def form_body(fields: dict, content_type: str) -> tuple[str | bytes, str]:
    if content_type == MULTIPART_CONTENT:
        return encode_multipart(BOUNDARY, fields), content_type
    if content_type == "application/json":
        return json.dumps(fields), content_type
    return urlencode(fields), content_type


BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", MULTIPART_CONTENT]


@pytest.mark.parametrize("content_type", BODY_TYPES)
def test_a_body_over_the_sites_limit_is_a_json_413(
    client, user, livelike_fake, settings, caplog, content_type
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before, patches = row_of(user).nickname, livelike_fake.count_calls("PATCH")
    response = patch(client, *form_body({"nickname": "Grace", "x": "y" * 2000}, content_type))
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    # Still logged where Django logs the refusals it answers itself.
    assert any(r.name == "django.security.RequestDataTooBig" for r in caplog.records)
    assert_nothing_changed(user, livelike_fake, before, patches)
    response = patch(client, *form_body({"nickname": "Grace"}, content_type))
    assert response.status_code == 200 and response.json()["nickname"] == "Grace"


@pytest.mark.parametrize("content_type", BODY_TYPES[:2])
def test_the_size_limit_counts_the_whole_body_as_django_does(
    client, user, livelike_fake, settings, content_type
):
    body, content_type = form_body({"nickname": "Grace"}, content_type)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body) - 1
    assert patch(client, body, content_type).status_code == 413
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)
    assert patch(client, body, content_type).status_code == 200


@pytest.mark.parametrize("content_type", BODY_TYPES[1:])
def test_a_form_with_more_fields_than_the_site_allows_is_a_json_400(
    client, user, livelike_fake, settings, content_type
):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    before, patches = row_of(user).nickname, livelike_fake.count_calls("PATCH")
    fields = {"nickname": "Grace", **{f"f{n}": "1" for n in range(10)}}
    response = patch(client, *form_body(fields, content_type))
    assert response.status_code == 400
    assert response.json() == {"detail": "The request body has too many fields."}
    assert_nothing_changed(user, livelike_fake, before, patches)


# -- LiveLike refusals ------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 405, 409, 410, 422])
def test_a_livelike_refusal_other_than_400_is_a_502_not_the_nicknames_fault(
    client, user, livelike_fake, status
):
    client.get(URL)  # the application resource is discovered before LiveLike fails
    before = row_of(user).nickname
    livelike_fake.malformed_next(1, body=json.dumps({"detail": "Not here."}), status=status)
    response = patch(client, {"nickname": "Grace"})
    assert response.status_code == 502
    assert set(response.json()) == {"detail"}
    assert str(status) in response.json()["detail"]
    row = row_of(user)
    assert row.nickname == before
    assert livelike_fake.profile(row.profile_id).nickname == before


def test_a_livelike_400_still_blames_the_field(client, user, livelike_fake):
    client.get(URL)
    livelike_fake.malformed_next(
        1, body=json.dumps({"nickname": ["Not allowed here."]}), status=400
    )
    response = patch(client, {"nickname": "Grace"})
    assert response.status_code == 400
    assert response.json() == {"nickname": ["Not allowed here."]}


# -- Retry-After ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (float("inf"), "86400"),
        (1e12, "86400"),
        (float("nan"), "30"),
        (-5.0, "1"),
        (0.2, "1"),
        (41.5, "42"),
    ],
)
def test_retry_after_is_whole_seconds_between_one_and_a_day(
    client, monkeypatch, retry_after, expected
):
    # The client may clamp LiveLike's Retry-After itself; the view must not rely on it.
    def rate_limited(*args, **kwargs):
        raise LiveLikeRateLimited("slow down", retry_after=retry_after, status_code=429)

    monkeypatch.setattr(LiveLikeClient, "update_own_profile", rate_limited)
    response = patch(client, {"nickname": "Grace"})
    assert response.status_code == 503
    assert response["Retry-After"] == expected


def test_a_far_next_attempt_is_capped_too(client, user):
    far = timezone.make_aware(datetime(9999, 1, 1)) - timedelta(days=1)
    LiveLikeProfile.objects.filter(user_id=user.pk).update(
        status=Status.FAILED, next_attempt_at=far
    )
    response = client.get(URL)
    assert response.status_code == 503
    assert response["Retry-After"] == "86400"


# -- unreadable token ---------------------------------------------------------------------


OLD_SECRET = "a secret key this site no longer has"


@pytest.fixture
def unreadable(user):
    """The row's token encrypted under a key the site no longer has (SECRET_KEY changed)."""
    row = row_of(user)
    foreign = Fernet(derive_key(OLD_SECRET)).encrypt(row.access_token.encode()).decode()
    LiveLikeProfile.objects.filter(pk=row.pk).update(access_token=Ciphertext(foreign))
    return user


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_an_unreadable_token_is_a_clear_503_and_the_row_is_marked(
    client, unreadable, livelike_fake, method
):
    before, patches = row_of(unreadable).nickname, livelike_fake.count_calls("PATCH")
    response = client.get(URL) if method == "GET" else patch(client, {"nickname": "Grace"})
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "active"
    assert "encryption key" in body["detail"]
    assert "access_token" not in body
    assert int(response["Retry-After"]) >= 1
    row = row_of(unreadable)
    assert row.status == Status.ACTIVE  # the profile is fine; only the key is missing
    assert "cannot be decrypted" in row.last_error
    assert_nothing_changed(unreadable, livelike_fake, before, patches)


def test_the_row_reads_again_once_the_key_is_restored(client, unreadable, settings):
    assert client.get(URL).status_code == 503
    settings.SECRET_KEY_FALLBACKS = [OLD_SECRET]
    assert client.get(URL).status_code == 200
    assert row_of(unreadable).last_error == ""  # the mark goes with the cause


def test_pages_and_templates_do_not_fail_on_an_unreadable_token(unreadable, client):
    # Neither the middleware nor the context processor reads the token.
    profile_id = row_of(unreadable).profile_id
    response = client.get("/touch/")
    assert response.status_code == 200
    assert profile_id in response.content.decode()

    from django.template import engines

    request = RequestFactory().get("/")
    request.user = unreadable
    LiveLikeProfileMiddleware(lambda r: None)(request)
    template = "{% if livelike_profile %}{{ livelike_profile.profile_id }}{% endif %}"
    assert engines["django"].from_string(template).render({}, request) == profile_id


# -- no HTML ----------------------------------------------------------------------------


def test_html_only_is_refused_without_the_token(client, user):
    response = client.get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert row_of(user).access_token.encode() not in response.content


def test_a_browser_gets_json_not_the_browsable_api(client, user):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get(URL, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["access_token"] == row_of(user).access_token
    assert b"<html" not in response.content.lower()
