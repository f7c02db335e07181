"""An anonymous visitor's guest profile through the API and ``request.livelike_profile``.

Both token modes, against the fake LiveLike over real sockets.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from livelike_profiles.guests import SESSION_KEY
from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeProfile
from tests.factories import make_user
from tests.guests.conftest import URL, guest_get

pytestmark = pytest.mark.django_db(transaction=True)


def with_a_session(client: Client) -> Client:
    """``client`` with a session already (a site's page stored something in it earlier)."""
    session = client.session
    session["seen"] = True
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return client


def session_of(client: Client) -> dict:
    return Session.objects.get(session_key=client.cookies["sessionid"].value).get_decoded()


# -- the first GET makes the guest; every later one in the session answers it ------------


def test_an_anonymous_get_makes_the_session_a_guest_profile(mode, livelike_fake):
    client = Client()
    first = guest_get(client)
    assert first["guest"] is True and first["status"] == "active" and first["access_token"]
    assert first["client_id"] == "test-client" and first["api_url"] == livelike_fake.url
    guest = session_of(client)[SESSION_KEY]
    assert guest["custom_id"].startswith("guest-") and len(guest["custom_id"]) == 6 + 32
    if mode == "client-generated":
        # No call: LiveLike creates the profile at the token's first use.
        assert livelike_fake.calls == [] and first["profile_id"] is None
        assert first["expires_at"] is not None
    else:
        (made,) = livelike_fake.profiles  # one create, by the guest's custom id
        assert made.custom_id == guest["custom_id"] and first["profile_id"] == made.id
        assert first["access_token"] == made.access_token
        assert livelike_fake.count_calls("POST", "profile-by-custom-id") == 1
    assert not LiveLikeProfile.objects.exists()  # nothing in the database


def test_every_later_get_in_the_session_answers_the_same_guest(mode, livelike_fake):
    client = Client()
    first = guest_get(client)
    calls = len(livelike_fake.calls)
    for _ in range(3):
        again = guest_get(client)
        assert again["profile_id"] == first["profile_id"] and again["guest"] is True
    assert len(livelike_fake.calls) == calls  # nothing more asked of LiveLike
    if mode == "client-generated":
        # Each answer mints a token, all for the same custom id: the same profile.
        used = get_client().get_own_profile(again["access_token"])
        assert used.id == get_client().get_own_profile(first["access_token"]).id
        assert (
            livelike_fake.profile(used.id).custom_id == session_of(client)[SESSION_KEY]["custom_id"]
        )
    else:
        assert again["access_token"] == first["access_token"]


def test_two_sessions_get_two_guests(mode, livelike_fake):
    one, other = guest_get(Client()), guest_get(Client())
    assert one["access_token"] != other["access_token"]
    if mode == "stored":
        assert one["profile_id"] != other["profile_id"] and livelike_fake.create_count == 2


def test_a_users_answer_says_it_is_no_guest(mode, livelike_fake):
    client = Client()
    client.force_login(make_user())
    response = client.get(URL)
    assert response.status_code == 200 and response.json()["guest"] is False


def test_without_guest_profiles_an_anonymous_get_is_refused_and_touches_nothing(
    livelike_fake, settings
):
    settings.LIVELIKE = livelike_fake.settings(TIMEOUT=2.0)  # GUEST_PROFILES off: the default
    client = Client()
    response = client.get(URL)
    assert response.status_code == 403
    assert "sessionid" not in response.cookies and livelike_fake.calls == []


def test_a_lost_create_answer_is_recovered_by_the_next_get(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(GUEST_PROFILES=True, TIMEOUT=0.3)
    livelike_fake.lose_next_create_answers(1, delay=5.0)
    client = with_a_session(Client())
    response = client.get(URL)
    assert response.status_code == 503 and int(response["Retry-After"]) >= 1
    assert response.json()["status"] == "failed"
    custom_id = session_of(client)[SESSION_KEY]["custom_id"]  # kept for the next ask
    settings.LIVELIKE = livelike_fake.settings(GUEST_PROFILES=True, TIMEOUT=2.0)
    recovered = guest_get(client)
    (made,) = livelike_fake.profiles  # the lost answer's profile, found by its custom id
    assert made.custom_id == custom_id and recovered["profile_id"] == made.id
    assert livelike_fake.create_count == 1


# -- what an anonymous page costs -----------------------------------------------------


def test_an_anonymous_page_that_never_asks_costs_nothing(mode, livelike_fake):
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/plain/")
    assert response.status_code == 200
    assert len(queries) == 0 and livelike_fake.calls == []
    assert "sessionid" not in response.cookies


def test_reading_request_livelike_profile_never_makes_a_guest(mode, livelike_fake):
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/touch/")
    assert response.content.endswith(b"profile -")  # None: the session has no guest
    assert len(queries) == 0 and livelike_fake.calls == []
    assert "sessionid" not in response.cookies


def test_request_livelike_profile_is_the_sessions_guest_once_it_has_one(mode, livelike_fake):
    client = Client()
    answer = guest_get(client)
    calls = len(livelike_fake.calls)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/touch/")
    guest = session_of(client)[SESSION_KEY]
    expected = answer["profile_id"] or "None"
    assert response.content.endswith(f"profile {expected}".encode())
    # The session's read, and nothing written, nobody called.
    assert [q["sql"].split()[0] for q in queries] == ["SELECT"]
    assert len(livelike_fake.calls) == calls and "sessionid" not in response.cookies
    assert session_of(client)[SESSION_KEY] == guest


def test_the_async_helper_reads_the_guest_too(mode, livelike_fake):
    client = Client()
    answer = guest_get(client)
    response = client.get("/async-touch/")
    assert response.status_code == 200
    assert response.json()["profile_id"] == answer["profile_id"]


# -- the nickname ----------------------------------------------------------------------


def test_a_guest_changes_their_nickname(mode, livelike_fake):
    client = Client()
    guest_get(client)
    response = client.patch(URL, {"nickname": "Guest Star"}, content_type="application/json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["guest"] is True and answer["nickname"] == "Guest Star"
    # The change used the profile: its id is known from now on, minted tokens included.
    assert answer["profile_id"] and livelike_fake.profile(answer["profile_id"]).nickname == (
        "Guest Star"
    )
    assert guest_get(client)["nickname"] == "Guest Star"
    assert guest_get(client)["profile_id"] == answer["profile_id"]
    assert not LiveLikeProfile.objects.exists()


def test_a_guests_nickname_change_needs_the_csrf_token(mode, livelike_fake):
    client = Client(enforce_csrf_checks=True)
    guest_get(client)
    body = json.dumps({"nickname": "Forged"})
    refused = client.patch(URL, body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get("/csrf/")  # the page that sets the cookie, as a site's page would
    token = client.cookies["csrftoken"].value
    accepted = client.patch(URL, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200 and accepted.json()["nickname"] == "Forged"


def test_a_patch_before_any_get_finds_no_guest(mode, livelike_fake):
    response = Client().patch(URL, {"nickname": "Early"}, content_type="application/json")
    assert response.status_code == 404 and "GET it first" in response.json()["detail"]
    assert livelike_fake.calls == []


def test_options_and_head_answer_as_drf_does(mode, livelike_fake):
    client = Client()
    assert client.options(URL).status_code == 200
    assert client.head(URL).status_code == 200


# -- the throttle --------------------------------------------------------------------------


def test_guests_made_per_address_are_throttled(mode, livelike_fake, livelike_settings):
    livelike_settings(GUEST_THROTTLE_RATE="2/minute")
    kept = Client()
    guest_get(kept)
    guest_get(Client())
    refused = Client().get(URL)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "sessionid" not in refused.cookies
    assert guest_get(kept)["guest"] is True  # a session's own guest is never throttled
    made = 2 if mode == "stored" else 0
    assert livelike_fake.create_count == made


def test_the_throttle_follows_the_address_drf_sees(mode, livelike_fake, livelike_settings):
    livelike_settings(GUEST_THROTTLE_RATE="1/minute")
    guest_get(Client(REMOTE_ADDR="10.0.0.1"))
    assert Client(REMOTE_ADDR="10.0.0.1").get(URL).status_code == 429
    guest_get(Client(REMOTE_ADDR="10.0.0.2"))


def test_a_forwarded_for_header_the_client_wrote_does_not_escape_the_throttle(
    mode, livelike_fake, livelike_settings
):
    # DRF's NUM_PROXIES unset (its default): DRF would count each new header as a new client.
    livelike_settings(GUEST_THROTTLE_RATE="1/minute")
    guest_get(Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1"))
    spoofed = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert spoofed.get(URL).status_code == 429


def test_behind_num_proxies_the_throttle_counts_the_forwarded_address(
    mode, livelike_fake, livelike_settings, settings
):
    settings.REST_FRAMEWORK = {**getattr(settings, "REST_FRAMEWORK", {}), "NUM_PROXIES": 1}
    livelike_settings(GUEST_THROTTLE_RATE="1/minute")
    proxy = "10.0.0.1"
    guest_get(Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1"))
    guest_get(Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.2"))
    again = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert again.get(URL).status_code == 429


# -- the session store never holds a token in plain text -----------------------------------


def test_a_stored_guest_token_is_encrypted_in_a_database_session(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(GUEST_PROFILES=True, TIMEOUT=2.0)
    client = Client()
    answer = guest_get(client)
    token = livelike_fake.profile(answer["profile_id"]).access_token  # the one LiveLike issued
    assert answer["access_token"] == token  # read back from the session
    raw = Session.objects.get(session_key=client.cookies["sessionid"].value).session_data
    decoded = session_of(client)
    assert token not in raw and token not in json.dumps(decoded)
    assert decoded[SESSION_KEY]["token"]  # its ciphertext


def test_a_stored_guest_token_is_encrypted_in_a_signed_cookie_session(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(GUEST_PROFILES=True, TIMEOUT=2.0)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    answer = guest_get(client)
    token = livelike_fake.profile(answer["profile_id"]).access_token  # the one LiveLike issued
    assert answer["access_token"] == token
    cookie = client.cookies["sessionid"].value
    from django.core import signing

    data = signing.loads(
        cookie,
        salt="django.contrib.sessions.backends.signed_cookies",
        serializer=signing.JSONSerializer,
    )
    assert token not in cookie and token not in json.dumps(data)
    assert data[SESSION_KEY]["token"]
    assert guest_get(client)["access_token"] == token  # and it reads back


def test_a_minted_guest_keeps_no_token_in_the_session(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(
        GUEST_PROFILES=True, ACCESS_TOKENS="client-generated", TIMEOUT=2.0
    )
    client = Client()
    token = guest_get(client)["access_token"]
    stored = session_of(client)[SESSION_KEY]
    assert stored["token"] == "" and token not in json.dumps(stored)
