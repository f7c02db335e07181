"""What ``manage.py check`` says of ``TASK_BACKEND`` and ``PROVISION_ON_LOGIN = "background"``."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from livelike_profiles.support import task_queue

GOOD = {"CLIENT_ID": "test-client", "API_TOKEN": "t"}


def ids(settings, **livelike) -> list[str]:
    settings.LIVELIKE = {**GOOD, **livelike}
    return [m.id for m in run_checks() if m.id and m.id.startswith("livelike_profiles.")]


@pytest.mark.parametrize("alias", ["dummy", "database"])
def test_a_backend_that_defers_passes(settings, alias):
    assert ids(settings, TASK_BACKEND=alias, PROVISION_ON_LOGIN="background") == []


def test_an_unknown_alias_is_an_error(settings):
    assert ids(settings, TASK_BACKEND="nowhere") == ["livelike_profiles.E021"]


def test_a_backend_that_cannot_defer_warns_retries_wait_for_livelike_sync(settings):
    assert ids(settings, TASK_BACKEND="default") == ["livelike_profiles.W008"]  # Immediate


def test_without_the_framework_a_task_backend_is_an_error(settings, monkeypatch):
    monkeypatch.setattr(task_queue, "_FRAMEWORKS", ("no_such_framework",))
    assert ids(settings, TASK_BACKEND="dummy") == ["livelike_profiles.E022"]


def test_background_provisioning_needs_a_task_backend(settings):
    assert ids(settings, PROVISION_ON_LOGIN="background") == ["livelike_profiles.E023"]


@pytest.mark.parametrize("value", [True, False, "background"])
def test_provision_on_login_takes_three_values(settings, value):
    assert "livelike_profiles.E007" not in ids(
        settings, PROVISION_ON_LOGIN=value, TASK_BACKEND="dummy"
    )
