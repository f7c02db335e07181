"""Erasing a deleted user's profile at LiveLike (``ON_USER_DELETE = "delete"``).

Deleting a user deletes their row; in that same transaction the profile to
erase is written to the outbox (``LiveLikeErasure``), so a rolled-back
deletion erases nothing and a committed one is never forgotten. After the
commit a few are erased at once; ``livelike_sync`` works off the rest. See
docs/how-to/deleting-users.md.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db import connections, router
from django.db.models import QuerySet
from django.utils import timezone

from ..conf import conf
from ..exceptions import (
    LiveLikeConfigurationError,
    LiveLikeError,
    LiveLikeRejected,
    describe_error,
)
from ..livelike.client import get_client
from ..models import LiveLikeErasure, LiveLikeProfile
from ..provisioning.backoff import retry_delay
from ..support import task_queue
from ..support.transactions import after_commit
from ..sync.concurrency import RunReport

logger = logging.getLogger("livelike_profiles.erasure")

# Erased right after the commit that deleted their users, at most: a bulk
# delete of thousands leaves the rest to livelike_sync rather than keep the
# request waiting. The first failure ends that pass too (LiveLike is down:
# one TIMEOUT is all a deletion ever waits).
ERASED_AT_COMMIT = 20
# Erasures one task of the site's queue works off (TASK_BACKEND).
ERASED_PER_TASK = 100


class Erased(StrEnum):
    """What one attempt at an erasure did."""

    ERASED = "erased"  # LiveLike deleted the profile
    GONE = "gone"  # LiveLike had no such profile (already deleted, or never created)
    FAILED = "failed"  # LiveLike failed or refused: retried later
    BUSY = "busy"  # not due, in flight elsewhere, or already done


# -- recording, in the deleting transaction -------------------------------------------

# Rows seen in pre_delete, per database alias and per deletion (its ``origin``,
# the object or queryset whose delete() it is), until that deletion's first
# post_delete writes them all at once (a bulk delete costs one INSERT). Per
# deletion, because one may run inside another (a site's receiver deleting a
# linked account) and one may fail between its signals (its rows then stay in
# the table, and must never be written by a later deletion of those rows).
_noted = threading.local()


# Per deletion: what holds its key, the rows noted, and the rows it holds locked.
_Bucket = tuple[Any, dict[Any, dict[str, Any]], set[Any] | None]


def _pending(using: str) -> dict[int, _Bucket]:
    if not hasattr(_noted, "rows"):
        _noted.rows = {}
    pending: dict[int, _Bucket] = _noted.rows.setdefault(using, {})
    return pending


def note_deleted(row: LiveLikeProfile, origin: Any, using: str) -> None:
    """``pre_delete`` of a profile row: remember what to erase, if its user is being deleted.

    A row deleted on its own (``origin`` is a profile row or a queryset of
    them) is not its user's deletion: nothing is erased. Nor is a row that a
    concurrent deletion of the same user removed first (see :func:`_locked`).
    """
    if not conf.ERASES_ON_USER_DELETE or _deletes_rows_only(origin):
        return
    entry = _erasure_entry(row)
    if entry is None:
        return
    _, rows, locked = _bucket(origin, using)
    if locked is not None and row.pk not in locked and not _locked_row(row.pk, using):
        return  # a concurrent deletion of this user removed it: that one owes the erasure
    rows[row.pk] = entry


def _erasure_entry(row: LiveLikeProfile) -> dict[str, Any] | None:
    """What the outbox needs to erase ``row``'s profile; ``None`` if LiveLike has none to find."""
    if row.profile_id is None and not row.custom_id:
        return None
    not_before = None
    if row.status == LiveLikeProfile.Status.PENDING:
        # A create in flight: its profile is found by custom id once it is over. A row
        # queued for a worker (no lease) may be claimed between this copy's reading and
        # the DELETE: a lease from now covers a create started meanwhile.
        not_before = row.lease_expires_at or timezone.now() + timedelta(seconds=conf.LEASE_SECONDS)
    return {
        "user_pk": str(row.user_id),
        "profile_id": row.profile_id or "",
        "custom_id": row.custom_id or "",
        "not_before": not_before,
    }


def _bucket(origin: Any, using: str) -> _Bucket:
    """This deletion's bucket, made (and its rows locked) at its first row."""
    pending = _pending(using)
    key = id(origin)
    if key not in pending:
        pending[key] = (_hold(origin, pending, key), {}, _locked(origin, using))
    return pending[key]


def record_noted(origin: Any, using: str) -> None:
    """``post_delete`` of a profile row: write what its deletion noted, still in the transaction.

    Only the rows noted by this deletion (``origin``), and of those only the
    ones gone: the same origin (a queryset, an instance) may have noted rows
    in an earlier ``delete()`` that failed, and now match rows still there,
    whose profiles must not be erased. One ``SELECT`` a deletion buys that.
    """
    bucket = _pending(using).pop(id(origin), None)
    if bucket is None:
        return
    noted = bucket[1]
    still_there = set(
        LiveLikeProfile.objects.using(using).filter(pk__in=list(noted)).values_list("pk", flat=True)
    )
    entries = [entry for pk, entry in noted.items() if pk not in still_there]
    if not entries:
        return
    recorded = LiveLikeErasure.objects.using(using).record(entries)
    pks = [erasure.pk for erasure in recorded]

    after_commit(
        "livelike_profiles.erasure.erasing.erase_after_commit",
        lambda: erase_later(pks, using=using),
        using=using,
    )


def _locked(origin: Any, using: str) -> set[Any] | None:
    """Lock the profile rows this deletion is about to remove; the pks of those still there.

    Two deletions of one user at once (an admin's double submit, two workers)
    both read its row before either commits, and Django signals both, though
    the second's ``DELETE`` removes nothing: only the lock tells that one the
    row is no longer its to erase (it waits for the first, then finds it
    gone). One query for the user or queryset of users being deleted; a
    deletion starting elsewhere (a model whose deletion cascades to users)
    locks each row as it is noted (:func:`_locked_row`). ``None`` where the
    database has no row locks: SQLite lets one writer at a time, so no second
    deletion can have read the row.
    """
    connection = connections[using]
    if not (connection.features.has_select_for_update and connection.in_atomic_block):
        return None  # (Django's deletions always run in a transaction)
    users = LiveLikeProfile._meta.get_field("user").related_model
    rows = LiveLikeProfile.objects.using(using).select_for_update()
    if isinstance(origin, users):
        rows = rows.filter(user_id=origin.pk)
    elif isinstance(origin, QuerySet) and issubclass(origin.model, users):
        rows = rows.filter(user__in=origin.values("pk"))
    else:
        return set()
    return set(rows.values_list("pk", flat=True))


def _locked_row(pk: Any, using: str) -> bool:
    """Lock one profile row (see :func:`_locked`); whether it is still there."""
    return LiveLikeProfile.objects.using(using).select_for_update().filter(pk=pk).exists()


def _hold(origin: Any, pending: dict[int, Any], key: int) -> Any:
    """What keeps the bucket's key (``id(origin)``) from naming another object.

    A weak reference that drops the bucket when the origin goes: a deletion
    that failed between its signals never reaches its ``post_delete``, and
    its notes must neither pile up nor outlive it. (The dict is captured, not
    looked up: the collector may run in another thread.) An origin that
    cannot be weakly referenced is held as it is.
    """
    try:
        return weakref.ref(origin, lambda _gone: pending.pop(key, None))
    except TypeError:
        return origin


def _deletes_rows_only(origin: Any) -> bool:
    model = getattr(origin, "model", None) or type(origin)
    return isinstance(model, type) and issubclass(model, LiveLikeProfile)


# -- erasing ------------------------------------------------------------------------


def erase(erasure_pk: Any, *, ignoring_backoff: bool = False, using: str | None = None) -> Erased:
    """One attempt at one erasure; never raises for LiveLike trouble.

    Looks the profile up by custom id first when its id was never known (a
    minted token's profile, or a create whose answer was lost).
    """
    rows = LiveLikeErasure.objects.using(using or router.db_for_write(LiveLikeErasure))
    if not rows.claim(erasure_pk, ignoring_backoff=ignoring_backoff):
        return Erased.BUSY
    erasure = rows.filter(pk=erasure_pk).first()
    if erasure is None:  # erased meanwhile by an attempt that outlived its lease
        return Erased.BUSY
    try:
        outcome = _erase_at_livelike(rows, erasure)
    except Exception as error:
        delay = retry_delay(erasure.attempts, error)
        reason = describe_error(error)
        if isinstance(error, LiveLikeError | LiveLikeConfigurationError):  # no traceback needed
            logger.warning(
                "LiveLike profile not erased, will retry: user=%s profile=%s attempt=%s "
                "error=%s retry_in_s=%.0f",
                erasure.user_pk,
                erasure.profile_id,
                erasure.attempts,
                reason,
                delay,
            )
        else:
            logger.exception(
                "LiveLike erasure raised: user=%s attempt=%s", erasure.user_pk, erasure.attempts
            )
        retry_at = timezone.now() + timedelta(seconds=delay)
        rows.failed(erasure.pk, reason, retry_at)
        task_queue.enqueue("erase", [erasure.pk], run_after=retry_at)
        return Erased.FAILED
    rows.done(erasure.pk)
    logger.info(
        "LiveLike profile %s: user=%s profile=%s",
        "erased" if outcome == Erased.ERASED else "already gone, nothing to erase",
        erasure.user_pk,
        erasure.profile_id,
    )
    return outcome


def _erase_at_livelike(rows: Any, erasure: LiveLikeErasure) -> Erased:
    client = get_client()
    profile_id = erasure.profile_id
    if not profile_id:
        try:
            profile_id = client.get_profile_by_custom_id(erasure.custom_id).id
        except LiveLikeRejected as error:
            if error.status_code == 404 and error.errors:  # LiveLike's own JSON 404
                return Erased.GONE  # LiveLike never made it
            raise
        rows.store_profile_id(erasure.pk, profile_id)
        erasure.profile_id = profile_id
    return Erased.ERASED if client.delete_profile(profile_id) else Erased.GONE


def erase_later(pks: list[Any], using: str | None = None) -> None:
    """After the deleting commit: enqueue the erasures (``TASK_BACKEND``), or erase a few now.

    On the site's task queue, in batches of ``ERASED_PER_TASK``: nothing is
    asked of LiveLike in the deleting request. Without one, :func:`erase_now`.
    One the queue refuses waits in the outbox for ``livelike_sync``.
    """
    if task_queue.backend() is None:
        erase_now(pks, using=using)
        return
    for start in range(0, len(pks), ERASED_PER_TASK):
        task_queue.enqueue("erase", pks[start : start + ERASED_PER_TASK])


def waiting(pks: Iterable[Any]) -> list[tuple[Any, datetime]]:
    """Of these erasures, those whose profile may still be being made, and when it is not."""
    rows = LiveLikeErasure.objects.filter(pk__in=list(pks), not_before__gt=timezone.now())
    return [(row.pk, row.not_before) for row in rows.only("not_before") if row.not_before]


def erase_now(pks: Iterable[Any], using: str | None = None) -> None:
    """After the deleting commit: erase the first few at once, for at most about ``TIMEOUT``.

    Stops at the first failure, and starts no erasure once ``TIMEOUT`` has
    passed since the first began (LiveLike answering slowly but answering):
    the rest wait for ``livelike_sync`` or the next pass. ``using``: the
    database the deletion wrote the outbox to.
    """
    deadline = time.monotonic() + conf.TIMEOUT
    for pk in list(pks)[:ERASED_AT_COMMIT]:
        if time.monotonic() >= deadline or erase(pk, using=using) == Erased.FAILED:
            return


@dataclass
class ErasureReport(RunReport[Erased, Any]):
    """Counts of a pass over the outbox."""

    OUTCOMES = Erased

    due: int = 0
    remaining: int = 0

    @property
    def failed(self) -> int:
        return self.counts[Erased.FAILED]

    @property
    def not_reached(self) -> int:
        """Erasures due that no attempt finished (the pass was interrupted)."""
        return self.due - self.done


def erase_due(*, ignoring_backoff: bool = True) -> ErasureReport:
    """Try every erasure that may be tried now (``livelike_sync``); ``remaining``: left after.

    An operator runs this: failed erasures are tried again whatever their
    backoff, but never one in flight elsewhere nor one whose profile may
    still be being created. On ``KeyboardInterrupt`` it stops, and the report
    comes back with ``interrupted``.
    """
    rows = LiveLikeErasure.objects.using(router.db_for_write(LiveLikeErasure))
    report = ErasureReport()
    try:
        due = rows.due(timezone.now(), ignoring_backoff=ignoring_backoff)
        pks = list(due.order_by("pk").values_list("pk", flat=True).iterator())
        report.due = len(pks)
        for pk in pks:
            report.count(erase(pk, ignoring_backoff=ignoring_backoff))
    except KeyboardInterrupt:
        # Nothing is lost: an attempt cut short keeps its row, claimed until its
        # lease runs out, then tried again (a profile already deleted is a 404, done).
        report.interrupted = True
    report.remaining = rows.count()
    return report
