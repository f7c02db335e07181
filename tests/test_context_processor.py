"""The optional template context: client id, API URL and the lazy profile."""

import pytest
from django.db import connection
from django.template import engines
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from livelike_profiles.context_processors import livelike
from livelike_profiles.middleware import LiveLikeProfileMiddleware
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def request_of_user(livelike_fake):
    user = make_user()
    ensure_profile(user)
    request = RequestFactory().get("/")
    request.user = type(user).objects.get(pk=user.pk)
    LiveLikeProfileMiddleware(lambda r: None)(request)
    return request


def render(source: str, request) -> str:
    return engines["django"].from_string(source).render({}, request)


def test_sdk_settings_without_any_query(request_of_user, livelike_fake):
    with CaptureQueriesContext(connection) as captured:
        html = render("{{ LIVELIKE_CLIENT_ID }} {{ LIVELIKE_API_URL }}", request_of_user)
    assert html == f"test-client {livelike_fake.url}"
    assert captured.captured_queries == []


def test_profile_in_templates_and_token_only_when_asked(request_of_user):
    row = LiveLikeProfile.objects.get(user=request_of_user.user)
    html = render("{{ livelike_profile.profile_id }} {{ livelike_profile }}", request_of_user)
    assert row.profile_id in html
    assert row.access_token not in html
    assert row.access_token in render("{{ livelike_profile.access_token }}", request_of_user)


def test_works_without_the_middleware(livelike_fake):
    user = make_user()
    ensure_profile(user)
    request = RequestFactory().get("/")
    request.user = user
    context = livelike(request)
    assert context["livelike_profile"].profile_id == user.livelike_profile.profile_id


def test_anonymous_template_test(livelike_fake):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    LiveLikeProfileMiddleware(lambda r: None)(request)
    assert render("{% if livelike_profile %}yes{% else %}no{% endif %}", request) == "no"
