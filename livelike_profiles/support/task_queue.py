"""The site's own task queue, where background work goes with ``LIVELIKE["TASK_BACKEND"]``.

Django's tasks framework: ``django.tasks`` on Django 6, the ``django-tasks``
backport on Django 5.2. The work is the tasks of :mod:`livelike_profiles.tasks`,
each given ids only (JSON, never a token or a secret) and safe to run twice,
or twice at once: the row's claim and the erasure outbox's lease decide, as
they do for requests. Without a backend (the default) nothing is enqueued and
the app works as it always did: retries at the next use, or by ``livelike_sync``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from datetime import datetime
from types import ModuleType
from typing import Any

from ..conf import conf

logger = logging.getLogger("livelike_profiles.task_queue")

# Where the framework lives: Django's own first, then the backport.
_FRAMEWORKS = ("django.tasks", "django_tasks")


def framework() -> ModuleType | None:
    """The tasks framework's module (``task``, ``task_backends``), or ``None`` if there is none."""
    for name in _FRAMEWORKS:
        if importlib.util.find_spec(name) is not None:
            return importlib.import_module(name)
    return None


def backend() -> Any | None:
    """The backend of ``TASK_BACKEND``, or ``None`` (not set, or no framework to find it in)."""
    alias = conf.TASK_BACKEND
    tasks = framework() if alias else None
    if tasks is None:
        return None
    return tasks.task_backends[alias]


def enqueue(name: str, *args: Any, run_after: datetime | None = None) -> bool:
    """Enqueue the task ``name`` of :mod:`livelike_profiles.tasks` with ``args``; whether it was.

    ``run_after``: not before then (a retry after a backoff). ``False``, and
    nothing enqueued, when there is no ``TASK_BACKEND``, when the backend
    cannot defer a task that should wait (the work then waits for its next
    use, or ``livelike_sync``), or when the backend refuses it (logged). Never
    raises: background work is never worth a failed request.
    """
    queue = backend()
    if queue is None:
        return False
    if run_after is not None and not queue.supports_defer:
        return False
    try:
        task = getattr(importlib.import_module("livelike_profiles.tasks"), name)
        changes: dict[str, Any] = {"backend": queue.alias}
        if run_after is not None:
            changes["run_after"] = run_after
        task.using(**changes).enqueue(*(_as_json(arg) for arg in args))
    except Exception:
        logger.exception("LiveLike task not enqueued: task=%s (left for livelike_sync)", name)
        return False
    return True


def _as_json(value: Any) -> Any:
    """An id as JSON takes it: a number or a string (a UUID primary key, say), or a list of them."""
    if isinstance(value, list | tuple):
        return [_as_json(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)

