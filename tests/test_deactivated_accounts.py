"""Deactivated accounts (``is_active=False``) get no profile and no token from the app's own paths.

Django's ``ModelBackend`` turns them away, so these tests let them in the ways a
site might: ``AllowAllUsersModelBackend`` (a session) or DRF's
``force_authenticate`` (an authentication class that does not ask).
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from livelike_profiles.context_processors import livelike
from livelike_profiles.middleware import (
    LiveLikeProfileMiddleware,
    aget_livelike_profile,
    get_livelike_profile,
)
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import PASSWORD, fresh, make_user, row_of

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/livelike/profile/"
ALLOW_ALL = ["django.contrib.auth.backends.AllowAllUsersModelBackend"]


@pytest.fixture
def allow_inactive_logins(settings) -> None:
    """A site whose backend lets deactivated users log in."""
    settings.AUTHENTICATION_BACKENDS = ALLOW_ALL


def deactivated(user):
    user.is_active = False
    user.save()
    return fresh(user)  # nothing cached on it, as a new request would load it


@pytest.fixture
def provisioned_then_deactivated(livelike_fake):
    """A deactivated user who has an active profile from before."""
    user = make_user()
    assert ensure_profile(user).is_active
    return deactivated(user)


def request_of(user):
    request = RequestFactory().get("/")
    request.user = user
    LiveLikeProfileMiddleware(lambda r: None)(request)
    return request


# -- request.livelike_profile and get_livelike_profile ---------------------------------


def test_no_profile_for_a_deactivated_user_without_a_query_or_a_call(
    provisioned_then_deactivated, livelike_fake
):
    request = request_of(provisioned_then_deactivated)
    calls = len(livelike_fake.calls)
    with CaptureQueriesContext(connection) as captured:
        assert get_livelike_profile(request) is None
        assert not request.livelike_profile
        assert async_to_sync(aget_livelike_profile)(request) is None
        assert not livelike(request)["livelike_profile"]  # the template context follows
    assert captured.captured_queries == []
    assert len(livelike_fake.calls) == calls


@pytest.fixture
def session_of_deactivated(livelike_fake, livelike_settings, allow_inactive_logins):
    """A deactivated user without a profile, and a client with their session."""
    livelike_settings(PROVISION_ON_LOGIN=False)
    user = deactivated(make_user())
    client = Client()
    client.force_login(user)
    return user, client


def test_nothing_is_provisioned_for_a_deactivated_user_on_a_page(
    session_of_deactivated, livelike_fake
):
    user, client = session_of_deactivated
    response = client.get("/touch/")
    assert response.content == f"user {user.pk} profile -".encode()
    response = client.get("/async-touch/")
    assert response.json() == {"user": str(user.pk), "profile_id": None}
    assert not LiveLikeProfile.objects.exists()
    assert livelike_fake.calls == []


class UserWithoutIsActive:
    """A custom user model's user with no ``is_active`` at all: an active user."""

    is_authenticated = True

    def __init__(self, pk) -> None:
        self.pk = pk


def test_a_user_model_without_is_active_has_active_users(livelike_fake):
    user = make_user()
    profile = get_livelike_profile(request_of(UserWithoutIsActive(user.pk)))
    assert profile is not None and profile == row_of(user)
    assert livelike_fake.create_count == 1


# -- the API -----------------------------------------------------------------------------


@pytest.fixture
def api_client_of_deactivated(livelike_fake) -> APIClient:
    """An API client authenticated as a deactivated user without a profile."""
    client = APIClient()
    client.force_authenticate(user=deactivated(make_user()))
    return client


@pytest.mark.parametrize("method", ["get", "patch"])
def test_the_api_refuses_a_deactivated_user_and_provisions_nothing(
    api_client_of_deactivated, livelike_fake, method
):
    response = getattr(api_client_of_deactivated, method)(
        URL, {"nickname": "Back again"}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "This account is deactivated."}
    assert "no-store" in response["Cache-Control"]
    assert not LiveLikeProfile.objects.exists()
    assert livelike_fake.calls == []


@pytest.mark.parametrize("method", ["get", "patch"])
def test_the_api_hands_out_no_token_of_a_deactivated_users_profile(
    provisioned_then_deactivated, livelike_fake, method
):
    client = APIClient()
    client.force_authenticate(user=provisioned_then_deactivated)
    row = row_of(provisioned_then_deactivated)
    calls = len(livelike_fake.calls)
    response = getattr(client, method)(URL, {"nickname": "Back again"}, format="json")
    assert response.status_code == 403
    assert row.access_token not in response.content.decode()
    assert row_of(provisioned_then_deactivated).nickname == row.nickname
    assert len(livelike_fake.calls) == calls


def test_a_session_of_a_deactivated_user_gets_403_from_the_api(
    session_of_deactivated, livelike_fake
):
    # DRF's SessionAuthentication itself refuses them: they reach the view anonymous.
    _, client = session_of_deactivated
    assert client.get(URL).status_code == 403
    assert not LiveLikeProfile.objects.exists()
    assert livelike_fake.calls == []


# -- logging in ---------------------------------------------------------------------------


def test_logging_in_a_deactivated_user_provisions_nothing(livelike_fake, allow_inactive_logins):
    user = deactivated(make_user())
    client = Client()
    assert client.login(username=user.get_username(), password=PASSWORD)
    assert client.get("/plain/").content == f"user {user.pk}".encode()  # logged in indeed
    assert not LiveLikeProfile.objects.exists()
    assert livelike_fake.calls == []


def test_logging_in_an_active_user_through_the_same_backend_provisions(
    livelike_fake, allow_inactive_logins
):
    user = make_user()
    assert Client().login(username=user.get_username(), password=PASSWORD)
    assert row_of(user).is_active
    assert livelike_fake.create_count == 1


# -- reactivated -------------------------------------------------------------------------------


def test_a_reactivated_user_is_provisioned_as_usual(livelike_fake, allow_inactive_logins):
    user = deactivated(make_user())
    client = Client()
    assert client.login(username=user.get_username(), password=PASSWORD)
    assert client.get("/touch/").content.endswith(b"profile -")
    user.is_active = True
    user.save()
    profile = client.get("/touch/").content.decode().rpartition(" ")[2]
    assert profile == row_of(user).profile_id and row_of(user).is_active
    assert APIClient().login(username=user.get_username(), password=PASSWORD)
    assert livelike_fake.create_count == 1


def test_a_reactivated_user_gets_back_the_profile_they_had(
    provisioned_then_deactivated, livelike_fake
):
    user = provisioned_then_deactivated
    row = row_of(user)
    assert get_livelike_profile(request_of(user)) is None
    user.is_active = True
    user.save()
    client = APIClient()
    client.force_authenticate(user=fresh(user))
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["profile_id"] == row.profile_id
    assert response.json()["access_token"] == row.access_token
    assert livelike_fake.create_count == 1
