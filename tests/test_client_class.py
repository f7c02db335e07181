"""``LIVELIKE["CLIENT_CLASS"]``: the documented ``create_session()`` override is reachable."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from livelike_profiles.admin import LiveLikeUserAdmin, register_on_default_user_admin
from livelike_profiles.livelike.client import get_client
from livelike_profiles.provisioning import ensure_profile
from tests.clients import ProxiedClient
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_configured_client_class_makes_every_call(livelike_fake, livelike_settings):
    livelike_settings(CLIENT_CLASS="tests.clients.ProxiedClient")
    client = get_client()
    assert isinstance(client, ProxiedClient)
    assert ensure_profile(make_user()).is_active
    assert client.session.headers["X-Site-Client"] == "proxied"
    assert livelike_fake.create_count == 1


def test_the_default_client_class_is_the_shipped_one(livelike_fake):
    assert type(get_client()).__name__ == "LiveLikeClient"


def test_the_user_admin_is_left_alone_unless_the_site_asks(livelike_settings):
    livelike_settings.without("USER_ADMIN")
    site = admin.AdminSite(name="scratch")
    site.register(get_user_model(), UserAdmin)
    assert register_on_default_user_admin(site) is False
    assert type(site._registry[get_user_model()]) is UserAdmin


@pytest.mark.parametrize("enabled", [True, False])
def test_the_user_admin_swap_is_a_setting(livelike_settings, enabled):
    livelike_settings(USER_ADMIN=enabled)
    site = admin.AdminSite(name="scratch")
    site.register(get_user_model(), UserAdmin)
    assert register_on_default_user_admin(site) is enabled
    expected = LiveLikeUserAdmin if enabled else UserAdmin
    assert type(site._registry[get_user_model()]) is expected
