"""Unit tests of the LiveLike client, with HTTP answered by ``responses``."""

from __future__ import annotations

import pytest
import requests
import responses
from responses import matchers

from livelike_profiles import __version__
from livelike_profiles.exceptions import (
    LiveLikeBadResponse,
    LiveLikeConfigurationError,
    LiveLikeConflict,
    LiveLikeError,
    LiveLikeRateLimited,
    LiveLikeRejected,
    LiveLikeTokenRejected,
    LiveLikeUnavailable,
)
from livelike_profiles.livelike.client import (
    MAX_RETRY_AFTER,
    LiveLikeClient,
    RemoteProfile,
    get_client,
)

BASE = "https://livelike.example/api/v1/"
APP_URL = f"{BASE}applications/cid/"
PROFILE_URL = f"{BASE}applications/cid/profile/"
CUSTOM_URL = f"{BASE}profile-by-custom-id/cid/abc123/"
TOKEN = "tok-secret-profile-token-value"
ADMIN = "admin-secret-token-value"
PROFILE = {"id": "p-1", "nickname": "Otter", "access_token": TOKEN, "custom_id": None}


@pytest.fixture
def client() -> LiveLikeClient:
    return LiveLikeClient(api_url=BASE, client_id="cid", api_token=ADMIN, timeout=3)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        rsps.get(APP_URL, json={"profile_url": PROFILE_URL, "client_id": "cid"})
        yield rsps


def assert_no_secret(error: LiveLikeError) -> None:
    for text in (str(error), repr(error), str(error.args)):
        assert TOKEN not in text
        assert ADMIN not in text


def test_create_profile_discovers_profile_url_and_returns_typed_result(client, mocked):
    mocked.post(
        PROFILE_URL,
        json=PROFILE,
        status=201,
        match=[matchers.json_params_matcher({"nickname": "Otter"})],
    )
    profile = client.create_profile(nickname="Otter")
    assert profile == RemoteProfile(id="p-1", nickname="Otter", access_token=TOKEN)
    assert TOKEN not in repr(profile)
    assert "access_token" not in profile.data


def test_create_without_nickname_sends_no_body(client, mocked):
    call = mocked.post(PROFILE_URL, json=PROFILE, status=201)
    client.create_profile()
    assert call.calls[0].request.body is None


def test_user_agent_and_timeout_on_every_call(client, mocked):
    seen = []
    original = client.session.request

    def spy(method, url, **kwargs):
        seen.append(kwargs["timeout"])
        return original(method, url, **kwargs)

    client.session.request = spy
    mocked.post(PROFILE_URL, json=PROFILE, status=201)
    client.create_profile()
    assert seen == [3, 3]  # discovery, then the create
    agents = [call.request.headers["User-Agent"] for call in mocked.calls]
    assert len(agents) == 2
    assert all(agent.startswith(f"django-livelike-profiles/{__version__} ") for agent in agents)


def test_application_resource_is_cached(client, mocked):
    mocked.post(PROFILE_URL, json=PROFILE, status=201)
    client.create_profile()
    client.create_profile()
    assert len([c for c in mocked.calls if c.request.url == APP_URL]) == 1


def test_application_resource_refreshed_when_stale(mocked):
    client = LiveLikeClient(api_url=BASE, client_id="cid", application_cache_seconds=0)
    mocked.post(PROFILE_URL, json=PROFILE, status=201)
    client.create_profile()
    client.create_profile()
    assert len([c for c in mocked.calls if c.request.url == APP_URL]) == 2


def test_404_on_discovered_url_forgets_the_application(client, mocked):
    mocked.get(PROFILE_URL, json={"detail": "Not found."}, status=404)
    with pytest.raises(LiveLikeRejected):
        client.get_own_profile(TOKEN)
    mocked.get(PROFILE_URL, json={"id": "p-1", "nickname": "Otter"})
    assert client.get_own_profile(TOKEN).id == "p-1"
    assert len([c for c in mocked.calls if c.request.url == APP_URL]) == 2


def test_application_without_profile_url_is_a_bad_response(client):
    with responses.RequestsMock() as rsps:
        rsps.get(APP_URL, json={"client_id": "cid"})
        with pytest.raises(LiveLikeBadResponse, match="profile_url"):
            client.profile_url()


def test_unknown_client_id(client):
    with responses.RequestsMock() as rsps:
        rsps.get(APP_URL, json={"detail": "Not found."}, status=404)
        with pytest.raises(LiveLikeRejected) as caught:
            client.profile_url()
    assert caught.value.status_code == 404
    assert "Not found." in str(caught.value)


def test_read_and_update_own_profile_send_the_bearer_token(client, mocked):
    auth = matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})
    mocked.get(PROFILE_URL, json={"id": "p-1", "nickname": "Otter"}, match=[auth])
    mocked.patch(
        PROFILE_URL,
        json={"id": "p-1", "nickname": "Badger"},
        match=[auth, matchers.json_params_matcher({"nickname": "Badger"})],
    )
    own = client.get_own_profile(TOKEN)
    assert (own.id, own.nickname, own.access_token) == ("p-1", "Otter", "")
    assert client.update_own_profile(TOKEN, nickname="Badger").nickname == "Badger"


def test_update_needs_something_to_change(client):
    with pytest.raises(ValueError, match="nickname"):
        client.update_own_profile(TOKEN)


def test_create_by_custom_id(client):
    with responses.RequestsMock() as rsps:
        rsps.post(CUSTOM_URL, json={**PROFILE, "custom_id": "abc123"}, status=201)
        profile = client.create_profile_by_custom_id("abc123")
    assert (profile.id, profile.custom_id, profile.access_token) == ("p-1", "abc123", TOKEN)


def test_create_by_custom_id_conflict(client):
    with responses.RequestsMock() as rsps:
        rsps.post(
            CUSTOM_URL,
            json={"detail": "profile with custom_id 'abc123' already exists."},
            status=409,
        )
        with pytest.raises(LiveLikeConflict) as caught:
            client.create_profile_by_custom_id("abc123")
    assert caught.value.status_code == 409
    assert "already exists" in str(caught.value)
    assert isinstance(caught.value, LiveLikeRejected)


def test_custom_id_is_url_quoted_and_bounded(client):
    with pytest.raises(ValueError):
        client.create_profile_by_custom_id("x" * 256)
    with pytest.raises(ValueError):
        client.create_profile_by_custom_id("")
    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE}profile-by-custom-id/cid/a%2Fb/", json=PROFILE, status=201)
        client.create_profile_by_custom_id("a/b")


def test_get_by_custom_id_uses_admin_token(client):
    with responses.RequestsMock() as rsps:
        rsps.get(
            CUSTOM_URL,
            json={**PROFILE, "custom_id": "abc123"},
            match=[matchers.header_matcher({"Authorization": f"Bearer {ADMIN}"})],
        )
        assert client.get_profile_by_custom_id("abc123").access_token == TOKEN


def test_get_by_custom_id_without_token_in_answer(client):
    with responses.RequestsMock() as rsps:
        rsps.get(CUSTOM_URL, json={"id": "p-1", "custom_id": "abc123"})
        assert client.get_profile_by_custom_id("abc123").access_token == ""


def test_get_by_custom_id_needs_admin_token():
    client = LiveLikeClient(api_url=BASE, client_id="cid", api_token="")
    with pytest.raises(LiveLikeConfigurationError, match="API_TOKEN"):
        client.get_profile_by_custom_id("abc123")


def test_custom_id_path_is_configurable():
    client = LiveLikeClient(
        api_url=BASE, client_id="cid", custom_id_path="custom/{custom_id}/of/{client_id}/"
    )
    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE}custom/abc123/of/cid/", json=PROFILE, status=201)
        client.create_profile_by_custom_id("abc123")


# -- every error class ---------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError("refused"), requests.ConnectTimeout(), requests.ReadTimeout()],
)
def test_network_errors_are_unavailable(client, mocked, error):
    mocked.post(PROFILE_URL, body=error)
    with pytest.raises(LiveLikeUnavailable) as caught:
        client.create_profile()
    assert caught.value.status_code is None
    assert isinstance(caught.value.__cause__, requests.RequestException)
    assert_no_secret(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable(client, mocked, status):
    mocked.post(PROFILE_URL, body="<html>Bad gateway</html>", status=status)
    with pytest.raises(LiveLikeUnavailable) as caught:
        client.create_profile()
    assert caught.value.status_code == status
    assert "<html>" not in str(caught.value)
    assert not isinstance(caught.value, LiveLikeRateLimited)


@pytest.mark.parametrize(
    ("header", "expected"), [("30", 30.0), ("0", 0.0), (None, None), ("garbage", None)]
)
def test_429_is_rate_limited_with_retry_after(client, mocked, header, expected):
    headers = {"Retry-After": header} if header is not None else {}
    mocked.post(PROFILE_URL, json={"detail": "throttled"}, status=429, headers=headers)
    with pytest.raises(LiveLikeRateLimited) as caught:
        client.create_profile()
    assert caught.value.retry_after == expected
    assert caught.value.status_code == 429
    assert isinstance(caught.value, LiveLikeUnavailable)


def test_429_retry_after_as_http_date(client, mocked):
    mocked.post(
        PROFILE_URL, json={}, status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    with pytest.raises(LiveLikeRateLimited) as caught:
        client.create_profile()
    assert caught.value.retry_after == 0.0  # a date in the past: no wait


def test_400_is_rejected_with_field_errors(client, mocked):
    mocked.patch(PROFILE_URL, json={"nickname": ["Too long."]}, status=400)
    with pytest.raises(LiveLikeRejected) as caught:
        client.update_own_profile(TOKEN, nickname="x" * 500)
    assert caught.value.errors == {"nickname": ["Too long."]}
    assert "Too long." in str(caught.value)
    assert type(caught.value) is LiveLikeRejected
    assert_no_secret(caught.value)


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_is_token_rejected(client, mocked, status):
    mocked.get(PROFILE_URL, json={"detail": "Invalid token."}, status=status)
    with pytest.raises(LiveLikeTokenRejected) as caught:
        client.get_own_profile(TOKEN)
    assert caught.value.status_code == status
    assert_no_secret(caught.value)


def test_error_bodies_with_tokens_are_redacted(client, mocked):
    mocked.post(PROFILE_URL, json={"detail": "nope", "access_token": TOKEN}, status=400)
    with pytest.raises(LiveLikeRejected) as caught:
        client.create_profile()
    assert "access_token" not in caught.value.errors
    assert_no_secret(caught.value)


@pytest.mark.parametrize(
    ("body", "kwargs"),
    [
        ("<html>not json</html>", {"content_type": "text/html"}),
        ('["a", "list"]', {"content_type": "application/json"}),
    ],
)
def test_non_json_success_is_bad_response(client, mocked, body, kwargs):
    mocked.post(PROFILE_URL, body=body, status=201, **kwargs)
    with pytest.raises(LiveLikeBadResponse) as caught:
        client.create_profile()
    assert body not in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [
        {"nickname": "x", "access_token": TOKEN},  # no id
        {"id": "", "access_token": TOKEN},
        {"id": "p-1", "nickname": "x"},  # no token
        {"id": "p-1", "access_token": 123},
    ],
)
def test_created_profile_missing_fields_is_bad_response(client, mocked, data):
    mocked.post(PROFILE_URL, json=data, status=201)
    with pytest.raises(LiveLikeBadResponse) as caught:
        client.create_profile()
    assert_no_secret(caught.value)


def test_redirect_on_post_is_bad_response(client, mocked):
    mocked.post(PROFILE_URL, status=302, headers={"Location": "https://elsewhere/"})
    with pytest.raises(LiveLikeBadResponse):
        client.create_profile()


def test_every_error_is_a_livelike_error():
    for cls in (
        LiveLikeUnavailable,
        LiveLikeRateLimited,
        LiveLikeRejected,
        LiveLikeTokenRejected,
        LiveLikeConflict,
        LiveLikeBadResponse,
    ):
        assert issubclass(cls, LiveLikeError)


def test_get_client_is_shared_per_configuration(settings):
    settings.LIVELIKE = {"CLIENT_ID": "one", "API_URL": BASE}
    first = get_client()
    assert get_client() is first
    settings.LIVELIKE = {"CLIENT_ID": "two", "API_URL": BASE}
    second = get_client()
    assert second is not first
    assert second.client_id == "two"
    assert ADMIN not in repr(second)


def test_pickled_errors_carry_no_token(client, mocked):
    import pickle

    mocked.get(PROFILE_URL, json={"detail": "Invalid token."}, status=401)
    with pytest.raises(LiveLikeTokenRejected) as caught:
        client.get_own_profile(TOKEN)
    assert TOKEN in caught.value.response.request.headers["Authorization"]  # live object: yes
    data = pickle.dumps(caught.value)
    assert TOKEN.encode() not in data and ADMIN.encode() not in data
    copy = pickle.loads(data)
    assert type(copy) is LiveLikeTokenRejected
    assert (str(copy), copy.status_code, copy.response) == (str(caught.value), 401, None)


def test_pickled_rate_limit_keeps_retry_after(client, mocked):
    import pickle

    mocked.post(PROFILE_URL, json={"detail": "slow down"}, status=429, headers={"Retry-After": "7"})
    with pytest.raises(LiveLikeRateLimited) as caught:
        client.create_profile()
    assert pickle.loads(pickle.dumps(caught.value)).retry_after == 7


def test_nested_tokens_are_redacted(client, mocked):
    body = {"errors": [{"access_token": TOKEN, "field": "x"}], "meta": {"refresh_token": TOKEN}}
    mocked.post(PROFILE_URL, json=body, status=400)
    with pytest.raises(LiveLikeRejected) as caught:
        client.create_profile()
    assert caught.value.errors == {"errors": [{"field": "x"}], "meta": {}}
    assert_no_secret(caught.value)


def test_summary_leaves_the_url_out(client, mocked):
    mocked.post(PROFILE_URL, json={"detail": "nope"}, status=400)
    with pytest.raises(LiveLikeRejected) as caught:
        client.create_profile()
    assert caught.value.summary() == "HTTP 400: nope"
    assert PROFILE_URL in str(caught.value)


def test_environment_is_read_once_at_session_creation(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/site-bundle.pem")
    client = LiveLikeClient(api_url=BASE, client_id="cid")
    assert client.session.proxies["https"] == "http://proxy.example:3128"
    assert client.session.verify == "/etc/ssl/certs/site-bundle.pem"
    assert client.session.trust_env is False  # no per-request environment scan


# -- hostile answers: absurd Retry-After, deep nesting, bad ids, tokens, text -----


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("inf", MAX_RETRY_AFTER),
        ("Infinity", MAX_RETRY_AFTER),
        ("1e12", MAX_RETRY_AFTER),
        ("1e400", MAX_RETRY_AFTER),  # parses as inf
        ("nan", None),
        ("-5", 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
    ],
)
def test_429_retry_after_is_finite_and_bounded(client, mocked, header, expected):
    headers = {"Retry-After": header}
    mocked.post(PROFILE_URL, json={"detail": "throttled"}, status=429, headers=headers)
    with pytest.raises(LiveLikeRateLimited) as caught:
        client.create_profile()
    assert caught.value.retry_after == expected
    assert MAX_RETRY_AFTER == 86400


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def json_with(prefix: str, nested: str) -> str:
    """``prefix`` (JSON members) and an ``"extra"`` member holding ``nested``, as one object."""
    return "{" + prefix + ', "extra": ' + nested + "}"


@pytest.mark.parametrize("depth", [950, 100_000])  # _redact's recursion; the parser's
@pytest.mark.parametrize("status", [200, 201])
def test_deeply_nested_success_is_bad_response(client, mocked, depth, status):
    body = json_with(f'"id": "p-1", "access_token": "{TOKEN}"', deeply_nested(depth))
    mocked.post(PROFILE_URL, body=body, status=status, content_type="application/json")
    with pytest.raises(LiveLikeBadResponse) as caught:
        client.create_profile()
    assert_no_secret(caught.value)


@pytest.mark.parametrize("depth", [950, 100_000])
@pytest.mark.parametrize(("status", "error"), [(400, LiveLikeRejected), (503, LiveLikeUnavailable)])
def test_deeply_nested_error_keeps_its_class(client, mocked, depth, status, error):
    body = json_with('"detail": "no"', deeply_nested(depth))
    mocked.post(PROFILE_URL, body=body, status=status, content_type="application/json")
    with pytest.raises(error) as caught:
        client.create_profile()
    assert caught.value.status_code == status
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize(
    "profile_id",
    ["p" * 65, "p-1\x00", "p 1", "p-1\n", "", 12, None, ["p-1"]],
)
def test_a_profile_id_that_is_not_a_sane_string_is_a_bad_response(client, mocked, profile_id):
    mocked.post(PROFILE_URL, json={"id": profile_id, "access_token": TOKEN}, status=201)
    mocked.get(PROFILE_URL, json={"id": profile_id, "nickname": "x"})
    with pytest.raises(LiveLikeBadResponse):
        client.create_profile()
    with pytest.raises(LiveLikeBadResponse):
        client.get_own_profile(TOKEN)


def test_a_64_character_profile_id_is_fine(client, mocked):
    mocked.post(PROFILE_URL, json={"id": "p" * 64, "access_token": TOKEN}, status=201)
    assert client.create_profile().id == "p" * 64


@pytest.mark.parametrize("token", ["tok\x00en", "tok en", "tök", "tok\n"])
def test_a_created_token_that_is_not_a_sane_string_is_a_bad_response(client, mocked, token):
    mocked.post(PROFILE_URL, json={"id": "p-1", "access_token": token}, status=201)
    with pytest.raises(LiveLikeBadResponse) as caught:
        client.create_profile()
    assert token not in str(caught.value)


@pytest.mark.parametrize(
    ("nickname", "expected"),
    [
        ("Ot\x00ter", "Otter"),
        ("Ot\x07t\u200ber\x7f", "Ott\u200ber"),  # control characters go, format ones stay
        ("\x00", ""),
        ("n" * 300, "n" * 255),
    ],
)
def test_nicknames_from_livelike_are_cleaned(client, mocked, nickname, expected):
    mocked.get(PROFILE_URL, json={"id": "p-1", "nickname": nickname})
    assert client.get_own_profile(TOKEN).nickname == expected


def test_error_detail_loses_control_characters(client, mocked):
    mocked.post(PROFILE_URL, json={"detail": "bad\x00 nick\x1bname"}, status=400)
    with pytest.raises(LiveLikeRejected) as caught:
        client.create_profile()
    assert caught.value.detail == "bad nickname"
    assert caught.value.summary() == "HTTP 400: bad nickname"


# -- who a 401/403 speaks about --------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_on_discovery_is_unavailable_not_a_rejected_token(client, status):
    with responses.RequestsMock() as rsps:
        rsps.get(APP_URL, body="<html>Forbidden by WAF</html>", status=status)
        with pytest.raises(LiveLikeUnavailable) as caught:
            client.get_own_profile(TOKEN)
    assert not isinstance(caught.value, LiveLikeRejected)
    assert caught.value.status_code == status
    assert_no_secret(caught.value)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize(
    ("method", "url", "call"),
    [
        ("GET", CUSTOM_URL, lambda client: client.get_profile_by_custom_id("abc123")),
        ("DELETE", f"{BASE}profiles/p-1/", lambda client: client.delete_profile("p-1")),
    ],
    ids=["lookup", "delete"],
)
def test_401_403_to_the_admin_token_is_rejected_not_a_rejected_profile_token(
    client, status, method, url, call
):
    with responses.RequestsMock() as rsps:
        rsps.add(method, url, json={"detail": "Invalid token."}, status=status)
        with pytest.raises(LiveLikeRejected) as caught:
            call(client)
    assert not isinstance(caught.value, LiveLikeTokenRejected)
    assert caught.value.status_code == status
    assert_no_secret(caught.value)


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_to_a_create_without_token_is_not_a_rejected_token(client, status):
    with responses.RequestsMock() as rsps:
        rsps.post(CUSTOM_URL, json={"detail": "Forbidden."}, status=status)
        with pytest.raises(LiveLikeError) as caught:
            client.create_profile_by_custom_id("abc123")
    assert not isinstance(caught.value, LiveLikeTokenRejected)
    assert caught.value.status_code == status


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("body", ["<html>Forbidden by WAF</html>", ""], ids=["HTML", "empty"])
def test_401_403_to_the_profile_token_not_in_livelikes_json_is_unavailable(
    client, mocked, status, body
):
    # A CDN's or a firewall's page says nothing about the token: the row must
    # not be revoked for it (that is an operator's matter), only retried.
    mocked.get(PROFILE_URL, body=body, status=status, content_type="text/html")
    with pytest.raises(LiveLikeUnavailable) as caught:
        client.get_own_profile(TOKEN)
    assert not isinstance(caught.value, LiveLikeRejected)
    assert caught.value.status_code == status
    assert_no_secret(caught.value)


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_to_the_profile_token_on_update_is_token_rejected(client, mocked, status):
    mocked.patch(PROFILE_URL, json={"detail": "Invalid token."}, status=status)
    with pytest.raises(LiveLikeTokenRejected):
        client.update_own_profile(TOKEN, nickname="x")


# -- deleting a profile -----------------------------------------------------------

DELETE_URL = f"{BASE}profiles/p-1/"


def test_delete_profile_sends_the_admin_token_and_accepts_an_empty_200(client):
    with responses.RequestsMock() as rsps:
        call = rsps.delete(
            DELETE_URL,
            body=b"",
            status=200,
            content_type="application/json",  # an empty body labelled JSON, as DRF sends it
            match=[matchers.header_matcher({"Authorization": f"Bearer {ADMIN}"})],
        )
        assert client.delete_profile("p-1") is True
    assert call.call_count == 1  # and no discovery: the URL is the admin API's


@pytest.mark.parametrize(("status", "kwargs"), [(204, {"body": b""}), (200, {"json": {}})])
def test_delete_profile_accepts_204_and_a_json_200(client, status, kwargs):
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, status=status, **kwargs)
        assert client.delete_profile("p-1") is True


def test_delete_profile_of_an_unknown_profile_is_false(client):
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, json={"detail": "Not found."}, status=404)
        assert client.delete_profile("p-1") is False


@pytest.mark.parametrize(
    "kwargs",
    [{"body": "<html>Not Found</html>"}, {"body": ""}, {"json": ["not", "an", "object"]}],
)
def test_delete_profile_404_that_is_not_livelikes_json_proves_nothing(client, kwargs):
    # A wrong API_URL or a proxy's page: the profile may well exist; keep the erasure.
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, status=404, **kwargs)
        with pytest.raises(LiveLikeBadResponse, match="API_URL"):
            client.delete_profile("p-1")


def test_delete_profile_with_an_unusable_success_body_is_a_bad_response(client):
    # Whether anything was deleted is unknown: the caller keeps it for a retry.
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, body="<html>Welcome to the portal</html>", status=200)
        with pytest.raises(LiveLikeBadResponse):
            client.delete_profile("p-1")


def test_delete_profile_400_is_rejected(client):
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, json={"detail": "No."}, status=400)
        with pytest.raises(LiveLikeRejected) as caught:
            client.delete_profile("p-1")
    assert type(caught.value) is LiveLikeRejected


def test_delete_profile_429_is_rate_limited_with_retry_after(client):
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, json={}, status=429, headers={"Retry-After": "12"})
        with pytest.raises(LiveLikeRateLimited) as caught:
            client.delete_profile("p-1")
    assert caught.value.retry_after == 12.0


@pytest.mark.parametrize("status", [500, 503])
def test_delete_profile_5xx_is_unavailable(client, status):
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, body="<html>Down</html>", status=status)
        with pytest.raises(LiveLikeUnavailable) as caught:
            client.delete_profile("p-1")
    assert caught.value.status_code == status
    assert_no_secret(caught.value)


@pytest.mark.parametrize("error", [requests.ConnectionError("refused"), requests.ReadTimeout()])
def test_delete_profile_network_errors_are_unavailable(client, error):
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, body=error)
        with pytest.raises(LiveLikeUnavailable) as caught:
            client.delete_profile("p-1")
    assert caught.value.status_code is None
    assert_no_secret(caught.value)


def test_delete_profile_redirect_is_a_bad_response(client):
    with responses.RequestsMock() as rsps:
        rsps.delete(DELETE_URL, status=301, headers={"Location": f"{BASE}elsewhere/"})
        with pytest.raises(LiveLikeBadResponse):
            client.delete_profile("p-1")


def test_delete_profile_id_is_url_quoted(client):
    with responses.RequestsMock() as rsps:
        rsps.delete(f"{BASE}profiles/a%2Fb%3F/", status=200, body=b"")
        assert client.delete_profile("a/b?") is True


@pytest.mark.parametrize("profile_id", ["", "x" * 65, "a b", "a\x00b", "a\nb", None, 7])
def test_delete_profile_refuses_a_bad_id_before_any_request(client, profile_id):
    # Any request would fail otherwise (none is registered): the ValueError comes first.
    with responses.RequestsMock(), pytest.raises(ValueError):
        client.delete_profile(profile_id)


def test_delete_profile_needs_admin_token():
    client = LiveLikeClient(api_url=BASE, client_id="cid", api_token="")
    with pytest.raises(LiveLikeConfigurationError, match="API_TOKEN"):
        client.delete_profile("p-1")
