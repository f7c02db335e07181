"""What ``manage.py check`` says of the guest settings: ``GUEST_PROFILES`` and its middleware."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

OURS = "livelike_profiles.middleware.LiveLikeProfileMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
GOOD = {"CLIENT_ID": "test-client", "API_TOKEN": "t", "GUEST_PROFILES": True}


def ids(settings, livelike: dict, middleware: list | None = None) -> list[str]:
    settings.LIVELIKE = livelike
    if middleware is not None:
        settings.MIDDLEWARE = middleware
    return [m.id for m in run_checks() if m.id and m.id.startswith("livelike_profiles.")]


def test_guest_profiles_with_the_middleware_in_place_pass(settings):
    assert ids(settings, GOOD) == []


def test_guest_profiles_need_the_session_middleware(settings):
    without = [entry for entry in settings.MIDDLEWARE if entry != SESSIONS]
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django.contrib.admin"]
    assert "livelike_profiles.E020" in ids(settings, GOOD, without)
    assert "livelike_profiles.E020" not in ids(settings, {**GOOD, "GUEST_PROFILES": False})


def test_the_apps_middleware_must_come_after_the_session_middleware(settings):
    rest = [entry for entry in settings.MIDDLEWARE if entry != OURS]
    assert "livelike_profiles.E020" in ids(settings, GOOD, [OURS, *rest])


@pytest.mark.parametrize("value", ["1000", "ten/minute", "0/minute", 5, True])
def test_the_guest_throttle_rate_is_a_drf_rate_or_none(settings, value):
    assert ids(settings, {**GOOD, "GUEST_THROTTLE_RATE": value}) == ["livelike_profiles.E019"]


@pytest.mark.parametrize("value", ["100/minute", "5000/hour", None])
def test_valid_guest_throttle_rates(settings, value):
    assert ids(settings, {**GOOD, "GUEST_THROTTLE_RATE": value}) == []


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_guest_profiles_is_true_or_false(settings, value):
    assert "livelike_profiles.E007" in ids(settings, {**GOOD, "GUEST_PROFILES": value})
