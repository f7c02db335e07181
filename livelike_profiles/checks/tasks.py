"""Checks of the background settings: ``PROVISION_ON_LOGIN``'s value and ``TASK_BACKEND``."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from ..conf import BACKGROUND
from .values import shown


def check_provision_on_login(raw: dict[str, Any]) -> list[CheckMessage]:
    """E007: ``PROVISION_ON_LOGIN`` is ``True``, ``False`` or ``"background"``."""
    value = raw.get("PROVISION_ON_LOGIN", True)
    if isinstance(value, bool) or value == BACKGROUND:
        return []
    return [
        Error(
            f'LIVELIKE["PROVISION_ON_LOGIN"] must be True, False or "background", '
            f"not {shown(value)}.",
            hint='The default is True. "background" enqueues it (with LIVELIKE["TASK_BACKEND"]).',
            id="livelike_profiles.E007",
        )
    ]


def check_task_backend(raw: dict[str, Any]) -> list[CheckMessage]:
    """E021-E023, W008: ``TASK_BACKEND`` names a backend of the site's ``TASKS`` that defers."""
    from ..support import task_queue

    alias = raw.get("TASK_BACKEND")
    if alias is None:
        if raw.get("PROVISION_ON_LOGIN") == BACKGROUND:
            return [
                Error(
                    'LIVELIKE["PROVISION_ON_LOGIN"] is "background" but LIVELIKE["TASK_BACKEND"] '
                    "is not set: nothing could run it.",
                    hint='Set TASK_BACKEND to an alias of your TASKS setting ("default").',
                    id="livelike_profiles.E023",
                )
            ]
        return []
    framework = task_queue.framework()
    if not isinstance(alias, str) or not alias:
        problem, hint, check_id = (
            f"must be an alias of TASKS or None, not {shown(alias)}.",
            'For example "default".',
            "E021",
        )
    elif framework is None:
        problem, hint, check_id = (
            "is set but Django's tasks framework is missing.",
            "Use Django 6, or install django-tasks (pip install django-livelike-profiles[tasks]).",
            "E022",
        )
    else:
        try:
            backend = framework.task_backends[alias]
        except Exception:
            problem, hint, check_id = (
                f"names {alias!r}, which is not a backend of TASKS.",
                "Add it to your TASKS setting, or use an alias that is there.",
                "E021",
            )
        else:
            if backend.supports_defer:
                return []
            return [
                Warning(
                    f'LIVELIKE["TASK_BACKEND"] names {alias!r}, whose backend cannot defer a '
                    "task: retries are not enqueued, and wait for the next use or livelike_sync.",
                    hint="Use a backend that supports run_after (django-tasks-db, RQ, Celery...).",
                    id="livelike_profiles.W008",
                )
            ]
    return [
        Error(f'LIVELIKE["TASK_BACKEND"] {problem}', hint=hint, id=f"livelike_profiles.{check_id}")
    ]
