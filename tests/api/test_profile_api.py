"""The DRF API: GET hands the SDK its token, PATCH changes the nickname."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import claim_held_elsewhere, make_user, row_of

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/livelike/profile/"
Status = LiveLikeProfile.Status


def patch(client: Client, body, content_type: str = "application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.patch(URL, data, content_type=content_type)


def assert_no_store(response) -> None:
    assert "no-store" in response["Cache-Control"]


def test_url_name():
    assert reverse("livelike_profiles:profile") == URL


# -- GET -----------------------------------------------------------------------------


def test_get_answers_what_the_sdk_needs(client, user, livelike_fake):
    response = client.get(URL)
    assert response.status_code == 200
    row = row_of(user)
    assert response.json() == {
        "profile_id": row.profile_id,
        "nickname": row.nickname,
        "access_token": livelike_fake.profile(row.profile_id).access_token,
        "expires_at": None,  # LiveLike's own tokens do not expire
        "client_id": "test-client",
        "api_url": livelike_fake.url,
        "status": "active",
        "guest": False,  # a signed-in user's; an anonymous visitor's guest profile says True
    }
    assert_no_store(response)


def test_get_provisions_lazily(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_ON_LOGIN=False)
    user = make_user()
    client = Client()
    client.force_login(user)
    assert not LiveLikeProfile.objects.exists()
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["profile_id"] == row_of(user).profile_id
    assert livelike_fake.create_count == 1


def test_get_provisions_under_atomic_requests(livelike_fake, livelike_settings, atomic_requests):
    livelike_settings(PROVISION_ON_LOGIN=False)
    user = make_user()
    client = Client()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["profile_id"] == row_of(user).profile_id


def test_get_503_with_retry_after_while_livelike_is_down(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_ON_LOGIN=False)
    livelike_fake.fail_next_creates(1, status=503)
    client = Client()
    client.force_login(make_user())
    response = client.get(URL)
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert response.json()["status"] == "failed"
    assert "access_token" not in response.json()


def test_get_503_while_pending(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_ON_LOGIN=False, WAIT_SECONDS=0)
    user = make_user()
    claim_held_elsewhere(user)
    client = Client()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["status"] == "pending"


def test_anonymous_is_refused():
    for method in ("get", "patch"):
        response = getattr(Client(), method)(URL)
        assert response.status_code == 403
    assert not LiveLikeProfile.objects.exists()


def test_a_user_never_receives_another_users_token(client, user, livelike_fake):
    other = make_user(1)
    ensure_profile(other)
    other_token = row_of(other).access_token
    other_client = Client()
    other_client.force_login(other)

    mine = client.get(URL)
    theirs = other_client.get(URL)
    assert mine.json()["access_token"] == row_of(user).access_token
    assert theirs.json()["access_token"] == other_token
    assert other_token.encode() not in mine.content
    assert row_of(user).access_token.encode() not in theirs.content


# -- PATCH -----------------------------------------------------------------------------


def test_patch_changes_the_nickname_at_livelike_then_locally(client, user, livelike_fake):
    response = patch(client, {"nickname": "  Ada Lovelace  "})
    assert response.status_code == 200
    row = row_of(user)
    assert response.json()["nickname"] == "Ada Lovelace" == row.nickname
    assert livelike_fake.profile(row.profile_id).nickname == "Ada Lovelace"
    assert response.json()["access_token"] == row.access_token
    assert_no_store(response)


def test_patch_accepts_the_maximum_length_and_emoji(client, user, livelike_fake):
    assert patch(client, {"nickname": "x" * 50}).status_code == 200
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # joined with zero-width joiners
    assert patch(client, {"nickname": f"fan {family}"}).status_code == 200
    assert row_of(user).nickname == f"fan {family}"


BAD_INPUT = {
    "wrong type (number)": ({"nickname": 123}, "nickname"),
    "wrong type (boolean)": ({"nickname": True}, "nickname"),
    "wrong type (list)": ({"nickname": ["a"]}, "nickname"),
    "null": ({"nickname": None}, "nickname"),
    "missing": ({}, "nickname"),
    "empty": ({"nickname": ""}, "nickname"),
    "only spaces": ({"nickname": "   "}, "nickname"),
    "too long": ({"nickname": "x" * 51}, "nickname"),
    "newline": ({"nickname": "a\nb"}, "nickname"),
    "nul": ({"nickname": "a\x00b"}, "nickname"),
    "bidi override": ({"nickname": "abc\u202egnp.exe"}, "nickname"),
    "unknown field": ({"nickname": "Ada", "email": "a@example.com"}, "email"),
    "not an object": (["nickname"], "non_field_errors"),
    "malformed json": ('{"nickname": "Ada"', "detail"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_gets_400_naming_the_field_and_changes_nothing(client, user, livelike_fake, case):
    body, field = BAD_INPUT[case]
    before = row_of(user).nickname
    calls = len(livelike_fake.calls)
    response = patch(client, body)
    assert response.status_code == 400
    assert field in response.json()
    assert row_of(user).nickname == before
    assert len(livelike_fake.calls) == calls  # LiveLike never asked


@pytest.mark.parametrize("name", ["detail", "non_field_errors"])
def test_an_unknown_field_named_like_an_error_key_is_named_in_a_message(
    client, user, livelike_fake, name
):
    # Found by tests/api/test_fuzz.py: a field called "detail" made `detail` a list.
    before = row_of(user).nickname
    response = patch(client, {"nickname": "Ada", name: "x", "email": "a@example.com"})
    assert response.status_code == 400
    assert response.json() == {
        "email": ["Unknown field."],
        "non_field_errors": [f"Unknown field: {name}."],
    }
    assert row_of(user).nickname == before


def test_malformed_json_says_so(client):
    response = patch(client, '{"nickname": ')
    assert "JSON parse error" in response.json()["detail"]


def test_livelike_refusal_is_a_400_with_its_field_errors(
    client, user, livelike_fake, livelike_settings
):
    livelike_settings(NICKNAME_MAX_LENGTH=80)  # the fake allows 50
    before = row_of(user).nickname
    response = patch(client, {"nickname": "y" * 60})
    assert response.status_code == 400
    assert "nickname" in response.json()
    assert row_of(user).nickname == before
    assert livelike_fake.profile(row_of(user).profile_id).nickname == before


LIVELIKE_FAILURES = {
    "rate limited": (lambda fake: fake.rate_limit_next(1, retry_after=42), 503, "42"),
    "malformed answer": (lambda fake: fake.malformed_next(1), 502, None),
    "server error page": (lambda fake: fake.malformed_next(1, status=502), 503, "30"),
    "token revoked": (lambda fake: [fake.revoke(p.id) for p in fake.profiles], 502, None),
    "down": (lambda fake: fake.stop(), 503, "30"),
}


@pytest.mark.parametrize("case", LIVELIKE_FAILURES)
def test_livelike_failures_map_to_502_503_and_change_nothing(client, user, livelike_fake, case):
    client.get(URL)  # the application resource is discovered before LiveLike fails
    inject, status, retry_after = LIVELIKE_FAILURES[case]
    before = row_of(user).nickname
    inject(livelike_fake)
    response = patch(client, {"nickname": "Grace"})
    assert response.status_code == status
    assert response.get("Retry-After") == retry_after
    assert "detail" in response.json()
    assert row_of(user).nickname == before


def test_session_patch_needs_csrf(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    refused = patch(client, {"nickname": "Grace"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    client.get("/accounts/login/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    allowed = client.patch(
        URL, json.dumps({"nickname": "Grace"}), "application/json", HTTP_X_CSRFTOKEN=token
    )
    assert allowed.status_code == 200


def test_patch_is_throttled_per_user(client, livelike_settings):
    livelike_settings(THROTTLE_RATE="2/minute")
    assert patch(client, {"nickname": "one"}).status_code == 200
    assert patch(client, {"nickname": "two"}).status_code == 200
    throttled = patch(client, {"nickname": "three"})
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert client.get(URL).status_code == 200  # reading is not throttled


def test_throttle_can_be_turned_off(client, livelike_settings):
    livelike_settings(THROTTLE_RATE=None)
    for n in range(12):
        assert patch(client, {"nickname": f"n{n}"}).status_code == 200


# -- OpenAPI ---------------------------------------------------------------------------


def test_openapi_describes_both_operations():
    from rest_framework.schemas.openapi import SchemaGenerator

    schema = SchemaGenerator(urlconf="livelike_profiles.urls").get_schema(public=True)
    (operations,) = [ops for path, ops in schema["paths"].items() if path.endswith("profile/")]
    assert set(operations) == {"get", "patch"}
    assert operations["get"]["operationId"] == "getLiveLikeProfile"
    assert set(operations["get"]["responses"]) >= {"200", "403", "406", "503"}
    assert set(operations["get"]["responses"]["200"]["content"]) == {"application/json"}
    patch_op = operations["patch"]
    assert set(patch_op["responses"]) >= {"200", "400", "406", "413", "415", "429", "502", "503"}
    body = patch_op["requestBody"]["content"]["application/json"]["schema"]
    components = schema["components"]["schemas"]
    request_schema = components[body["$ref"].rsplit("/", 1)[1]]
    assert request_schema["properties"]["nickname"]["maxLength"] == 50
    answer = patch_op["responses"]["200"]["content"]["application/json"]["schema"]
    # One object, the caller's profile, for GET too (DRF took the GET for a list).
    assert operations["get"]["responses"]["200"]["content"]["application/json"]["schema"] == answer
    answer_schema = components[answer["$ref"].rsplit("/", 1)[1]]
    assert answer_schema["required"] == list(answer_schema["properties"])
    assert set(answer_schema["properties"]) == {
        "profile_id",
        "nickname",
        "access_token",
        "expires_at",
        "client_id",
        "api_url",
        "status",
        "guest",
    }
