"""Fixtures of the guest profile tests: the site with guests on, in either token mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from livelike_profiles.signals import guest_profile_abandoned

URL = "/livelike/profile/"


@pytest.fixture(params=["stored", "client-generated"])
def mode(request, livelike_fake, settings) -> str:
    """Guest profiles on, in each token mode, against the fake."""
    settings.LIVELIKE = livelike_fake.settings(
        ACCESS_TOKENS=request.param, GUEST_PROFILES=True, TIMEOUT=2.0
    )
    return request.param


@pytest.fixture
def abandoned() -> Iterator[list[dict]]:
    """Every ``guest_profile_abandoned`` sent during the test, as its keyword arguments."""
    sent: list[dict] = []

    def receiver(sender, **kwargs):
        sent.append({key: kwargs[key] for key in ("user", "profile_id", "custom_id")})

    guest_profile_abandoned.connect(receiver, dispatch_uid="tests.guests.abandoned")
    yield sent
    guest_profile_abandoned.disconnect(dispatch_uid="tests.guests.abandoned")


def guest_get(client: Client) -> dict:
    """An anonymous GET of the API, which must answer 200; its JSON."""
    response = client.get(URL)
    assert response.status_code == 200, response.content
    return response.json()
