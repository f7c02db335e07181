"""The app's tasks for Django's tasks framework: what a worker runs (``LIVELIKE["TASK_BACKEND"]``).

A worker finds each task here by its path, and the app enqueues them through
:mod:`livelike_profiles.support.task_queue`; this module is imported only then (it
needs the framework). Each task takes ids (JSON), returns quietly when it
finds nothing to do, and leaves exactly once to the row's claim and the
erasure outbox's lease: a task delivered twice, run by two workers at once, or
cut short by a worker killed mid-way does no harm. Work that may be cut short
enqueues its own follow-up first, for when the claim's lease is over: so a
killed worker's work is taken over without a cron.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from .conf import conf
from .erasure import erasing as erasure
from .models import LiveLikeErasure, LiveLikeProfile
from .provisioning import client_generated
from .provisioning import dispatch as provisioning
from .provisioning.accounts import gets_a_profile
from .provisioning.querysets import has_live_claim
from .support import task_queue
from .sync import backfill
from .sync import push as push_to_livelike

_framework = task_queue.framework()
if _framework is None:  # pragma: no cover - TASK_BACKEND's check says so first
    raise ImportError("livelike_profiles.tasks needs Django 6's django.tasks or django-tasks")
# Bound to a backend as they are made (the framework checks them against it);
# every enqueue names TASK_BACKEND's anew.
_task = _framework.task(backend=conf.TASK_BACKEND or _framework.DEFAULT_TASK_BACKEND_ALIAS)


def _after_the_lease() -> Any:
    """When a claim made now has surely ended: its outcome recorded, or its lease over."""
    return timezone.now() + timedelta(seconds=conf.LEASE_SECONDS + 1)


@_task
def provision_user(user_pk: Any) -> str:
    """Provision the user's profile (a login's in the background, or a retry): the row's status.

    A rival's live claim is not waited for: its outcome is recorded without
    this task, and a follow-up looks again once the lease is over.
    """
    user = get_user_model()._default_manager.filter(pk=user_pk).first()
    if user is None or not gets_a_profile(user):
        return "gone" if user is None else "no profile for this account"
    row = LiveLikeProfile.objects.of_user(user_pk)
    if row is not None and not provisioning.needs_work(row):
        return row.status
    task_queue.enqueue("provision_user", user_pk, run_after=_after_the_lease())
    return provisioning.provision(user, wait=False).row.status


@_task
def provision_users(user_pks: list[Any]) -> dict[str, int]:
    """Provision a batch of users (``livelike_provision --enqueue``): how many ended how.

    Only those still needing a profile. While one of them has a live claim
    (this batch at work in another worker, slow but alive; or a login), it
    only looks again once the lease is over; otherwise it enqueues that look
    first, in case this worker dies mid-batch: so the rest of a killed
    worker's batch is taken over, and a live one is never done twice.
    """
    users = get_user_model()._default_manager.filter(pk__in=user_pks)
    todo = backfill.needing_profile(users).order_by("pk")
    if not todo.exists():
        return {}
    task_queue.enqueue("provision_users", user_pks, run_after=_after_the_lease())
    now = timezone.now()
    if any(has_live_claim(row, now) for row in LiveLikeProfile.objects.filter(user__in=users)):
        return {"busy elsewhere": 1}
    counts: dict[str, int] = {}
    for user in todo.iterator():
        outcome = backfill.provision_user(user).outcome
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@_task
def learn_profile_id(profile_pk: Any) -> str:
    """Learn a minted token's profile id, if it is due (a retry after a failed call)."""
    row = LiveLikeProfile.objects.of_pk(profile_pk)
    if row is None:
        return "gone"
    return client_generated.learn_profile_id(row).profile_id or ""


@_task
def push_nickname(user_pk: Any, attempt: int = 0) -> bool:
    """Push the user's nickname to LiveLike (a retry: ``attempt`` failures so far)."""
    user = get_user_model()._default_manager.filter(pk=user_pk).first()
    return user is not None and push_to_livelike.push_nickname(user, attempt=attempt)


@_task
def erase(erasure_pks: list[Any]) -> dict[str, int]:
    """Erase these deleted users' profiles at LiveLike: how many ended how.

    Those whose erasure may not start yet (a create still in flight at the
    deletion) are enqueued again for when it may.
    """
    if LiveLikeErasure.objects.due(timezone.now()).filter(pk__in=erasure_pks).exists():
        # Should this worker die mid-way, look again once the attempts' leases are over.
        task_queue.enqueue("erase", erasure_pks, run_after=_after_the_lease())
    counts: dict[str, int] = {}
    for pk in erasure_pks:
        outcome = erasure.erase(pk)
        counts[outcome] = counts.get(outcome, 0) + 1
    for pk, when in erasure.waiting(erasure_pks):
        task_queue.enqueue("erase", [pk], run_after=when)
    return counts
