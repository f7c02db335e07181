"""request.livelike_profile: free until used, one query when used, and the right user."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.checks import run_checks
from django.db import connection
from django.test import AsyncClient, Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from livelike_profiles.checks.database import check_middleware
from livelike_profiles.middleware import (
    LazyLiveLikeProfile,
    LiveLikeProfileMiddleware,
    get_livelike_profile,
)
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

OURS = "livelike_profiles.middleware.LiveLikeProfileMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


@pytest.fixture
def user_with_profile(livelike_fake):
    user = make_user()
    ensure_profile(user)
    return user


def queries_for(client: Client, path: str) -> tuple[int, bytes]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured.captured_queries), response.content


def without_middleware(settings) -> None:
    settings.MIDDLEWARE = [entry for entry in settings.MIDDLEWARE if entry != OURS]


def test_untouched_profile_costs_no_query(settings, user_with_profile, livelike_fake):
    client = Client()
    client.force_login(user_with_profile)
    calls = len(livelike_fake.calls)
    with_it, _ = queries_for(client, "/plain/")
    without_middleware(settings)
    without_it, _ = queries_for(client, "/plain/")
    assert with_it == without_it
    assert len(livelike_fake.calls) == calls


def test_touching_the_profile_costs_exactly_one_query(user_with_profile, livelike_fake):
    client = Client()
    client.force_login(user_with_profile)
    calls = len(livelike_fake.calls)
    plain, _ = queries_for(client, "/plain/")
    touched, content = queries_for(client, "/touch/")
    assert touched == plain + 1
    row = LiveLikeProfile.objects.get(user=user_with_profile)
    assert f"profile {row.profile_id}".encode() in content
    assert len(livelike_fake.calls) == calls


def test_repeated_use_in_one_request_costs_one_query(user_with_profile):
    request = RequestFactory().get("/")
    request.user = type(user_with_profile).objects.get(pk=user_with_profile.pk)  # nothing cached
    LiveLikeProfileMiddleware(lambda r: None)(request)
    with CaptureQueriesContext(connection) as captured:
        first = request.livelike_profile.profile_id
        assert request.livelike_profile.profile_id == first
        assert get_livelike_profile(request).profile_id == first
        assert request.livelike_profile == get_livelike_profile(request)
    assert len(captured.captured_queries) == 1


def test_anonymous_user_has_no_profile_and_costs_no_query():
    client = Client()
    plain, _ = queries_for(client, "/plain/")
    touched, content = queries_for(client, "/touch/")
    assert touched == plain
    assert content.endswith(b"profile -")


def test_no_profile_is_falsy_but_not_none():
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    LiveLikeProfileMiddleware(lambda r: None)(request)
    assert get_livelike_profile(request) is None
    assert not request.livelike_profile
    assert request.livelike_profile == None  # noqa: E711 - the lazy value compares equal
    assert request.livelike_profile is not None  # hence get_livelike_profile()


def test_user_without_profile_is_provisioned_on_first_use(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_ON_LOGIN=False)
    user = make_user()
    client = Client()
    client.force_login(user)
    assert not LiveLikeProfile.objects.exists()
    _, content = queries_for(client, "/touch/")
    row = LiveLikeProfile.objects.get(user=user)
    assert row.is_active and f"profile {row.profile_id}".encode() in content
    assert livelike_fake.create_count == 1


def test_livelike_down_never_breaks_the_page(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_ON_LOGIN=False)
    livelike_fake.fail_next_creates(1, status=503)
    client = Client()
    client.force_login(make_user())
    _, content = queries_for(client, "/touch/")
    assert content.endswith(b"profile -")
    assert LiveLikeProfile.objects.get().status == LiveLikeProfile.Status.FAILED


def test_async_view_under_asgi_reads_the_profile(user_with_profile):
    row = LiveLikeProfile.objects.get(user=user_with_profile)

    async def run():
        client = AsyncClient()
        await client.aforce_login(user_with_profile)
        return await client.get("/async-touch/")

    response = async_to_sync(run)()
    assert response.status_code == 200
    assert response.json() == {"user": str(user_with_profile.pk), "profile_id": row.profile_id}


def test_async_view_for_anonymous_user():
    response = async_to_sync(AsyncClient().get)("/async-touch/")
    assert response.json()["profile_id"] is None


def test_drf_token_authentication_gets_the_token_users_profile(user_with_profile, settings):
    # A middleware after ours uses the profile while the user is still anonymous.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.middleware.TouchProfileEarly"]
    other = make_user(1)
    ensure_profile(other)
    token = Token.objects.create(user=user_with_profile)
    response = Client().get("/drf-token/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    row = LiveLikeProfile.objects.get(user=user_with_profile)
    assert response.json() == {
        "user": str(user_with_profile.pk),
        "profile_id": row.profile_id,
        "helper_profile_id": row.profile_id,
    }
    assert response.wsgi_request.seen_early is False


def test_lazy_profile_repr_never_shows_the_token(user_with_profile):
    request = RequestFactory().get("/")
    request.user = user_with_profile
    lazy = LazyLiveLikeProfile(request)
    token = LiveLikeProfile.objects.get(user=user_with_profile).access_token
    assert token not in repr(lazy)
    assert lazy.access_token == token


def test_lazy_profile_repr_provisions_nothing_and_queries_nothing(livelike_fake):
    # An error report repr()s every frame's locals: a view's ``profile =
    # request.livelike_profile`` must not make the report call LiveLike.
    request = RequestFactory().get("/")
    request.user = make_user()
    lazy = LazyLiveLikeProfile(request)
    with CaptureQueriesContext(connection) as queries:
        assert repr(lazy) == "<LazyLiveLikeProfile: not read>"
    assert queries.captured_queries == [] and livelike_fake.calls == []
    assert lazy.is_active  # read: provisioned now
    assert repr(lazy).startswith("<LazyLiveLikeProfile: <LiveLikeProfile: ")


# -- system check --------------------------------------------------------------------


def test_check_passes_in_the_right_order(settings):
    assert check_middleware() == []


def test_check_fails_when_before_authentication(settings):
    settings.MIDDLEWARE = [OURS, *[m for m in settings.MIDDLEWARE if m != OURS]]
    (error,) = check_middleware()
    assert error.id == "livelike_profiles.E011" and "after" in error.msg
    assert "livelike_profiles.E011" in [m.id for m in run_checks()]


def test_check_fails_without_authentication_middleware(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != AUTH]
    (error,) = check_middleware()
    assert error.id == "livelike_profiles.E011" and "not in MIDDLEWARE" in error.msg


def test_check_silent_without_our_middleware(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m not in (OURS, AUTH)]
    assert check_middleware() == []


def test_async_view_provisions_a_user_without_profile(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_ON_LOGIN=False)
    user = make_user()

    async def run():
        client = AsyncClient()
        await client.aforce_login(user)
        return await client.get("/async-touch/")

    response = async_to_sync(run)()
    row = LiveLikeProfile.objects.get(user=user)
    assert row.is_active and response.json()["profile_id"] == row.profile_id
    assert livelike_fake.count_calls("POST") == 1
