"""The pytest plugin shipped with the app: the ``livelike_fake`` fixture and its overrides.

This suite uses the fixture everywhere (with the overrides in ``conftest.py``); the runs
below are new projects of their own, in subprocesses, that see only the installed plugin.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from livelike_profiles.livelike.client import get_client
from tests import settings as test_settings

pytest_plugins = ["pytester"]

SITE_SETTINGS = """\
SECRET_KEY = "plugin-test-secret-key"
USE_TZ = True
INSTALLED_APPS = []
LIVELIKE = {"CLIENT_ID": "site", "TIMEOUT": 7.0, "ACCESS_TOKENS": "client-generated"}
"""

DEFAULTS = """\
import pytest
import requests
from django.conf import settings as django_settings

from livelike_profiles.fake import DEMO_CLIENT_SECRET

SITE = {"CLIENT_ID": "site", "TIMEOUT": 7.0, "ACCESS_TOKENS": "client-generated"}
seen = {}


def test_the_site_talks_to_the_fake(livelike_fake, settings):
    seen["url"] = livelike_fake.url
    assert settings.LIVELIKE == {
        **SITE,
        "CLIENT_ID": "demo",
        "API_URL": livelike_fake.url,
        "API_TOKEN": "demo-admin-token",
        "CLIENT_SECRET": DEMO_CLIENT_SECRET,
    }
    assert requests.get(f"{livelike_fake.url}applications/demo/", timeout=5).ok


def test_afterwards_the_setting_is_restored_and_the_fake_stopped():
    assert django_settings.LIVELIKE == SITE
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{seen['url']}applications/demo/", timeout=5)
"""

OVERRIDES = """\
import pytest


@pytest.fixture
def livelike_fake_options():
    return {"client_id": "mine", "admin_token": "my-admin-token"}


@pytest.fixture
def livelike_fake_settings():
    return {"TIMEOUT": 1.5, "CLIENT_SECRET": ""}


def test_overrides_apply(livelike_fake, settings):
    assert livelike_fake.client_id == "mine"
    assert settings.LIVELIKE["CLIENT_ID"] == "mine"
    assert settings.LIVELIKE["API_TOKEN"] == "my-admin-token"
    assert settings.LIVELIKE["TIMEOUT"] == 1.5
    assert settings.LIVELIKE["CLIENT_SECRET"] == ""
    assert settings.LIVELIKE["ACCESS_TOKENS"] == "client-generated"  # the site's, kept
"""

WITHOUT_DJANGO = """\
def test_a_project_without_pytest_django_still_runs():
    assert True


def test_the_fixture_says_what_it_needs(livelike_fake):
    pass
"""


@pytest.fixture
def site(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A new project with settings of its own (``LIVELIKE`` included); not this suite's."""
    pytester.makepyfile(site_settings=SITE_SETTINGS)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "site_settings")
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


def test_the_fixture_is_ours_and_keeps_this_suites_baseline(livelike_fake, settings):
    baseline = {
        **test_settings.LIVELIKE,  # the site's, with the fake's over it
        "CLIENT_ID": "test-client",
        "API_URL": livelike_fake.url,
        "API_TOKEN": "test-admin-token",
        "CLIENT_SECRET": "",
        "TIMEOUT": 2.0,
    }
    assert baseline == settings.LIVELIKE
    assert get_client().create_profile().id == livelike_fake.profiles[0].id


def test_defaults_then_the_setting_restored_and_the_fake_stopped(site):
    site.makepyfile(test_defaults=DEFAULTS)
    result = site.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_project_overrides_the_fake_and_its_settings(site):
    site.makepyfile(test_overrides=OVERRIDES)
    result = site.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_project_without_pytest_django(site):
    site.makepyfile(test_plain=WITHOUT_DJANGO)
    result = site.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:django")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*livelike_fake needs pytest-django*"])


def test_loading_the_plugin_imports_neither_django_nor_the_fake():
    code = (
        "import sys, livelike_profiles.pytest_plugin;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'jwt')"
        " or m.startswith('livelike_profiles.fake')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
