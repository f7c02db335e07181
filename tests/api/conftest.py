"""Fixtures of the API tests: a provisioned user, and a client logged in as them."""

from __future__ import annotations

import pytest
from django.test import Client

from livelike_profiles.provisioning import ensure_profile
from tests.factories import make_user


@pytest.fixture
def user(livelike_fake):
    """A user whose LiveLike profile is active (created at the fake)."""
    user = make_user()
    ensure_profile(user)
    return user


@pytest.fixture
def client(user) -> Client:
    """A test client logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client
