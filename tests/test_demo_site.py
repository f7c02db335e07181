"""The demo's settings: which access tokens it uses, and a fake LiveLike that accepts them.

The browser tests (tests/e2e) run the demo in each mode; these check the
switches themselves, and that ``make demo`` and ``make check`` stay consistent.
"""

from __future__ import annotations

import os
import runpy
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from livelike_profiles.fake import DEMO_CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[1]


def _demo_livelike(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The demo's ``LIVELIKE`` setting as its settings module builds it from ``env``."""
    for name in ("DEMO_ACCESS_TOKENS", "DEMO_TOKEN_TTL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("demo_site.settings")["LIVELIKE"]


def test_the_demo_mints_tokens_by_default_with_the_fakes_demo_secret(monkeypatch) -> None:
    livelike = _demo_livelike(monkeypatch)
    assert livelike["ACCESS_TOKENS"] == "client-generated"
    assert livelike["CLIENT_SECRET"] == DEMO_CLIENT_SECRET
    assert "TOKEN_TTL" not in livelike  # the app's default


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEMO_ACCESS_TOKENS": "stored"}, {"ACCESS_TOKENS": "stored"}),
        ({"DEMO_TOKEN_TTL": "4"}, {"ACCESS_TOKENS": "client-generated", "TOKEN_TTL": 4}),
        ({"DEMO_TOKEN_TTL": "none"}, {"TOKEN_TTL": None}),
        # Passed on as it is, for `manage.py check` to name (E016, E013).
        ({"DEMO_TOKEN_TTL": "soon"}, {"TOKEN_TTL": "soon"}),
        ({"DEMO_ACCESS_TOKENS": "minted"}, {"ACCESS_TOKENS": "minted"}),
    ],
)
def test_the_demos_token_settings_come_from_its_environment(monkeypatch, env, expected) -> None:
    livelike = _demo_livelike(monkeypatch, **env)
    assert {key: livelike[key] for key in expected} == expected
    assert livelike["CLIENT_SECRET"] == DEMO_CLIENT_SECRET  # in "stored" mode too


def test_the_demo_gives_anonymous_visitors_guest_profiles(monkeypatch) -> None:
    assert _demo_livelike(monkeypatch)["GUEST_PROFILES"] is True


def test_without_guest_profiles_the_fan_zone_sends_anonymous_visitors_to_log_in(
    settings, rf
) -> None:
    """The browser tests cover the fan zone with guests; without them, it asks to log in."""
    from django.contrib.auth.models import AnonymousUser

    from demo_site.views import fan_zone

    settings.ROOT_URLCONF = "demo_site.urls"
    settings.LOGIN_URL = "login"
    settings.LIVELIKE = {**settings.LIVELIKE, "GUEST_PROFILES": False}
    request = rf.get("/fan-zone/")
    request.user = AnonymousUser()
    response = fan_zone(request)
    assert (response.status_code, response["Location"]) == (
        302,
        "/accounts/login/?next=/fan-zone/",
    )


def test_make_demo_starts_the_fake_with_the_secret_the_site_signs_with(monkeypatch) -> None:
    from demo_site.run import fake_command

    secret = _demo_livelike(monkeypatch)["CLIENT_SECRET"]
    command = fake_command(8765)
    assert command[command.index("--client-secret") + 1] == secret
    assert command[command.index("--client-id") + 1] == "demo"


def _check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    environ.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py's own: the demo's settings
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**environ, "DEMO_DB": str(tmp_path / "demo.sqlite3"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("mode", ["client-generated", "stored"])
def test_the_demo_passes_the_system_checks_in_both_modes(tmp_path, mode) -> None:
    result = _check(tmp_path, DEMO_ACCESS_TOKENS=mode)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_bad_demo_token_lifetime_is_reported_by_the_checks(tmp_path) -> None:
    result = _check(tmp_path, DEMO_TOKEN_TTL="soon")
    assert result.returncode != 0
    assert 'LIVELIKE["TOKEN_TTL"]' in result.stderr and "'soon'" in result.stderr


def test_each_make_demo_forgets_the_profiles_the_earlier_fake_held(tmp_path) -> None:
    """The fake starts empty: a row of an earlier run would name a profile it does not know."""
    from demo_site.run import prepare_database

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DEMO_")},
        "DJANGO_SETTINGS_MODULE": "demo_site.settings",
        "DEMO_DB": str(tmp_path / "demo.sqlite3"),
        "DEMO_FAST_PASSWORD_HASHING": "1",
    }
    prepare_database(env)
    earlier_run = (
        "from django.contrib.auth.models import User;"
        "from livelike_profiles.models import LiveLikeProfile as P;"
        "P.objects.create(user=User.objects.get(username='alice'), status='active',"
        " profile_id='known-to-the-earlier-fake-only', custom_id='c1')"
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "shell", "-c", earlier_run], cwd=ROOT, env=env, check=True)

    prepare_database(env)  # what the next `make demo` does before starting a new fake

    with closing(sqlite3.connect(tmp_path / "demo.sqlite3")) as db:
        rows = db.execute("SELECT COUNT(*) FROM livelike_profiles_livelikeprofile").fetchone()
        users = db.execute("SELECT username FROM auth_user ORDER BY username").fetchall()
    assert rows == (0,)
    assert users == [("admin",), ("alice",), ("bob",)]
