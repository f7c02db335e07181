"""Provision profiles for existing users in bulk: ``manage.py livelike_provision`` and the admin.

Chooses the users, feeds them to threads and counts the outcomes; every
profile is still made by :func:`~livelike_profiles.provisioning.dispatch.ensure_profile`.
On PostgreSQL and MariaDB/MySQL each batch is held with locks (advisory, or
named), so several runners take disjoint work (see docs/how-to/backfill.md and
docs/explanation/databases.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from ..conf import conf
from ..exceptions import LiveLikeRateLimited, UserGone, describe_error
from ..models import LiveLikeProfile
from ..provisioning import claim_locks, user_state
from ..provisioning.accounts import is_excluded
from ..provisioning.dispatch import ensure_profile, provision
from ..provisioning.results import ProvisionResult
from ..support import task_queue
from .concurrency import (
    RunReport,
    Throttle,
    Workers,
    check_batch_size,
    in_pk_batches,
    retry_rate_limited,
    run_in_batches,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

logger = logging.getLogger("livelike_profiles.backfill")

Status = LiveLikeProfile.Status


class Outcome(StrEnum):
    """What happened to one user."""

    CREATED = "created"  # provisioned by this call (or recovered by custom id)
    ACTIVE = "active"  # already active, or made active by someone else meanwhile
    FAILED = "failed"  # LiveLike failed; retried by the next run or login
    CONFLICT = "conflict"  # left for an operator
    REVOKED = "revoked"  # the token was revoked: replacing it is an operator's decision
    BUSY = "busy"  # another process is creating it right now
    SCHEDULED = "scheduled"  # called inside a transaction: runs when it commits
    GONE = "gone"  # the user was deleted meanwhile: nothing to provision
    EXCLUDED = "excluded"  # LIVELIKE["PROVISION_IF"] gives this account no profile


@dataclass(frozen=True)
class UserResult:
    """One user's outcome, with the row's last error for failures (never a token)."""

    user_pk: Any
    outcome: Outcome
    detail: str = ""


# -- choosing users ---------------------------------------------------------------


def select_users(
    *,
    include_inactive: bool = False,
    since: datetime | None = None,
    user_pks: list[Any] | None = None,
) -> QuerySet:
    """The users a backfill considers.

    Active users only (where the model has ``is_active``) unless
    ``include_inactive`` or ``user_pks`` is given; ``since``: logged in on or
    after that moment.
    """
    model = get_user_model()
    users = model._default_manager.all()
    if user_pks is not None:
        users = users.filter(pk__in=user_pks)
    elif not include_inactive and _has_field(model, "is_active"):
        users = users.filter(is_active=True)
    if since is not None:
        users = users.filter(last_login__gte=since)
    return users


def needing_profile(users: QuerySet) -> QuerySet:
    """Of ``users``, those a backfill provisions: no row, a failed row, or a dead claim."""
    if conf.CLIENT_GENERATED:  # every row not yet usable is made usable, no call needed
        workable = ~Q(status=Status.ACTIVE)
    else:  # claimable, backoff or not: an operator asked
        workable = LiveLikeProfile.objects.claimable_q(timezone.now(), ignoring_backoff=True)
    settled = LiveLikeProfile.objects.filter(user_id=OuterRef("pk")).exclude(workable)
    return users.filter(~Exists(settled))


# -- provisioning one user -----------------------------------------------------------


def retry_now(user_pk: Any) -> int:
    """Make a ``failed`` row due now, ignoring its backoff; returns 1 if there was one.

    Only ``failed``, and ``conflict`` once a ``CLIENT_SECRET`` can recover it:
    a ``pending`` row's lease protects a create in flight, and other conflicts
    and ``revoked`` rows are an operator's decision. ``attempts`` is left
    counting every attempt, forced ones included (operators read it as such);
    the backoff caps its exponent, so no count is too large.
    """
    return LiveLikeProfile.objects.make_due_now(user_pk)


def provision_user(
    user: AbstractBaseUser,
    *,
    status: str | None = "",
    throttle: Throttle | None = None,
    honour_provision_if: bool = True,
) -> UserResult:
    """Provision one user through ``ensure_profile``, retrying a failed row at once.

    ``status`` is the row's status if the caller knows it (``None``: no row),
    saving a query; ``""`` (the default) means unknown. A 429 pauses
    ``throttle`` (every thread sharing it) for its ``Retry-After`` and the
    user is tried again, up to ``RATE_LIMIT_RETRIES`` times. A user
    ``PROVISION_IF`` turns away is skipped, unless an operator named them
    (``honour_provision_if=False``, the admin's action).
    """
    if honour_provision_if and is_excluded(user):
        return UserResult(user.pk, Outcome.EXCLUDED)
    try:
        return _provision_user(user, status, throttle)
    except UserGone:
        return UserResult(user.pk, Outcome.GONE)


def _provision_user(
    user: AbstractBaseUser, status: str | None, throttle: Throttle | None
) -> UserResult:
    using = router.db_for_write(LiveLikeProfile)
    if transaction.get_connection(using).in_atomic_block:
        # ensure_profile would only schedule itself: say so rather than guess.
        ensure_profile(user)
        return UserResult(user.pk, Outcome.SCHEDULED)

    def attempt(n: int) -> ProvisionResult:
        if status in ("", Status.FAILED, Status.CONFLICT) or n:
            retry_now(user.pk)
        user_state.forget(user)
        if status is None and not n:
            # Known to have no row: cached as such, ensure_profile skips its lookup.
            user_state.remember(user, None)
        return provision(user)

    outcome = retry_rate_limited(attempt, _rate_limit_of, throttle)
    return _result(user, outcome)


def _rate_limit_of(outcome: ProvisionResult) -> LiveLikeRateLimited | None:
    error = outcome.error
    if outcome.row.status == Status.FAILED and isinstance(error, LiveLikeRateLimited):
        return error
    return None


def _result(user: AbstractBaseUser, outcome: ProvisionResult) -> UserResult:
    row = outcome.row
    if row.status == Status.ACTIVE:
        created = outcome.created or outcome.recovered  # this call, not a rival meanwhile
        return UserResult(user.pk, Outcome.CREATED if created else Outcome.ACTIVE)
    unusable = _UNUSABLE.get(row.status, Outcome.BUSY)  # pending: a rival is creating it
    return UserResult(user.pk, unusable, row.last_error)


_UNUSABLE: dict[str, Outcome] = {
    Status.FAILED: Outcome.FAILED,
    Status.CONFLICT: Outcome.CONFLICT,
    Status.REVOKED: Outcome.REVOKED,
}


# -- the backfill -------------------------------------------------------------------


@dataclass
class BackfillReport(RunReport[Outcome, UserResult]):
    """Counts of a backfill run; ``failures`` keeps the first few failed users."""

    OUTCOMES = Outcome
    KEPT = (Outcome.FAILED, Outcome.CONFLICT)
    MAX_KEPT = MAX_FAILURES_KEPT = 20

    selected: int = 0
    to_do: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def failures(self) -> list[UserResult]:
        """The first ``MAX_FAILURES_KEPT`` users left without a profile, with their error."""
        return self.kept

    @property
    def created(self) -> int:
        return self.counts[Outcome.CREATED]

    @property
    def failed(self) -> int:
        """Users left without a profile by a failure: LiveLike errors, conflicts, crashes."""
        return self.counts[Outcome.FAILED] + self.counts[Outcome.CONFLICT] + self.errors

    @property
    def skipped_during_run(self) -> int:
        """Users found done, revoked, busy elsewhere or deleted when their turn came."""
        skipped = (
            Outcome.ACTIVE,
            Outcome.REVOKED,
            Outcome.BUSY,
            Outcome.SCHEDULED,
            Outcome.GONE,
            Outcome.EXCLUDED,
        )
        return sum(self.counts[outcome] for outcome in skipped)

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def add_error(self, user_pk: Any, error: BaseException) -> None:
        """Count a user whose provisioning raised something other than a LiveLike error."""
        self.done += 1
        self.errors += 1
        detail = LiveLikeProfile.fit("last_error", describe_error(error, in_report=True))
        self.keep(UserResult(user_pk, Outcome.FAILED, detail))


def locks_batches(using: str | None = None) -> bool:
    """Whether several runners split the work by locking batches (PostgreSQL, MariaDB/MySQL)."""
    return claim_locks.has_locks(using or router.db_for_read(get_user_model()))


def backfill(
    users: QuerySet,
    *,
    concurrency: int = 4,
    batch_size: int = 200,
    on_result: Callable[[BackfillReport], None] | None = None,
) -> BackfillReport:
    """Provision every user of ``users`` that needs a profile; returns the counts.

    Must run outside any transaction (``ensure_profile`` would only schedule
    itself); opens ``concurrency`` database connections for its threads, plus
    the calling thread's. ``on_result`` is called in the calling thread after
    each user. On ``KeyboardInterrupt`` the users in flight finish, the rest
    are left for the next run, and the report comes back with ``interrupted``.

    Users are read in primary-key order, a batch at a time, with their row's
    status. On PostgreSQL and MariaDB/MySQL each batch's users are locked
    while it runs, and those another runner holds are skipped: several
    runners share the work without waiting on each other.
    """
    check_batch_size(batch_size)
    using = users.db
    if connections[using].in_atomic_block:
        raise RuntimeError("backfill() must not run inside a transaction")
    report = BackfillReport(selected=users.count())
    todo = needing_profile(users)
    report.to_do = todo.count()
    status = LiveLikeProfile.objects.filter(user_id=OuterRef("pk")).values("status")[:1]
    pages = in_pk_batches(todo.annotate(livelike_backfill_status=Subquery(status)), batch_size)
    throttle = Throttle()

    def work(user: WithAnnotations[AbstractBaseUser, _PageAnnotations]) -> UserResult:
        return provision_user(user, status=user.livelike_backfill_status, throttle=throttle)

    def run_batch(workers: Workers[Any, UserResult], page: list[Any]) -> None:
        # The locks last as long as the batch: another runner skips its users.
        with claim_locks.holding_unheld([user.pk for user in page], using) as held:
            for user, result in workers.map([user for user in page if user.pk in held]):
                _count(report, user, result)
                if on_result is not None:
                    on_result(report)

    def settle(user: Any, result: UserResult | BaseException | None) -> None:
        _count(report, user, result)

    run_in_batches(report, work, concurrency, pages, run_batch, settle)
    report.finished = time.monotonic()
    return report


def _count(report: BackfillReport, user: Any, result: Any) -> None:
    if isinstance(result, UserResult):
        report.add(result)
    elif isinstance(result, BaseException):
        logger.error("LiveLike backfill: provisioning user=%s raised", user.pk, exc_info=result)
        report.add_error(user.pk, result)


class _PageAnnotations(TypedDict):
    livelike_backfill_status: str | None  # the row's, None: no row yet


def provision_users(users: Iterable[AbstractBaseUser]) -> list[UserResult]:
    """Provision each user in turn (the admin actions); one result per user."""
    return [provision_user(user, honour_provision_if=False) for user in users]


# -- helpers ------------------------------------------------------------------------


def _has_field(model: Any, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def enqueue_backfill(users: QuerySet, batch_size: int) -> tuple[int, int]:
    """Enqueue the provisioning of ``users`` who need it on ``TASK_BACKEND``, a task per batch.

    For the site's workers to share (``livelike_provision --enqueue``): each
    batch is one ``provision_users`` task of at most ``batch_size`` ids.
    Returns the users and the tasks enqueued. Raises ``LookupError`` without
    a task backend.
    """
    if task_queue.backend() is None:
        raise LookupError('no task backend: set LIVELIKE["TASK_BACKEND"]')
    queued = tasks = 0
    for batch in in_pk_batches(needing_profile(users).only("pk"), batch_size):
        pks = [user.pk for user in batch]
        if task_queue.enqueue("provision_users", pks):
            queued, tasks = queued + len(pks), tasks + 1
    return queued, tasks
