"""Exactly one LiveLike profile per user: :func:`ensure_profile`, and how a call gets there.

The row is claimed (a committed ``INSERT`` or conditional ``UPDATE``) before
LiveLike is called, so the database decides who creates each profile; the
attempt (:mod:`.attempt`) records its outcome only while the claim holds.
A caller that finds a rival's claim in flight waits for it, woken by the
rival's claim lock (:mod:`.claim_locks`) where the database has one. See
docs/explanation/provisioning.md for the states, the custom ids and transactions.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router, transaction
from django.utils import timezone

from ..conf import conf
from ..exceptions import UserGone
from ..models import LiveLikeProfile
from ..signals import profile_provisioned
from ..support import notify, task_queue
from ..support.transactions import after_commit
from . import claim_locks, client_generated, user_state
from .accounts import gets_a_profile
from .attempt import Attempt
from .querysets import LiveLikeProfileQuerySet, has_live_claim, is_claimable, is_queued
from .results import ProvisionResult

logger = logging.getLogger("livelike_profiles.provisioning")

Status = LiveLikeProfile.Status

# How often a caller waiting for another's claim looks at the row again.
_POLL_FIRST, _POLL_MAX = 0.02, 0.2
# Module attribute so a test can act at the very moment a caller waits.
_sleep = time.sleep


def ensure_profile(user: AbstractBaseUser) -> LiveLikeProfile:
    """Return the user's LiveLike profile row, creating the remote profile if there is none.

    Never raises for LiveLike trouble. When no usable profile can be had now
    (LiveLike failing, backoff not over, another request still creating it
    after ``WAIT_SECONDS``, a conflict or revoked token left for an operator,
    or called inside a transaction) the row is returned as it is, and
    ``profile.is_active`` is ``False``: callers test ``is_active`` before
    using ``profile_id`` or ``access_token``.

    Raises :class:`~livelike_profiles.exceptions.UserGone` when the user no
    longer exists (deleted since it was loaded), having written nothing.

    Costs one query when the profile is active, none if ``user.livelike_profile``
    is already cached on the instance: loaded, or fetched with
    ``select_related("livelike_profile")``, which also caches that there is
    none (a stale "none" only costs a failed INSERT, never a second profile).
    A user object that is not a model instance (a stateless JWT user, such as
    simplejwt's ``TokenUser``: a ``pk`` and no ``_state``) works too; its row
    is then read by primary key on every call, and nothing is cached on it.
    """
    return provision(user).row


def provision(user: AbstractBaseUser, *, wait: bool = True) -> ProvisionResult:
    """:func:`ensure_profile`, telling what this call did (the backfill counts it).

    ``wait=False``: return at once where another caller holds a live claim
    (its outcome is recorded without us), instead of waiting for it up to
    ``WAIT_SECONDS``: what a login and a task do, which do not need the
    profile themselves.

    In this order:

    1. the user must be saved; their row is read (cached on the user, or one
       query, routed like any read: a stale replica only sends us on);
    2. ``"client-generated"`` tokens: the row is made usable at once, calling
       nobody (:func:`_make_usable_by_minting`);
    3. a row with nothing to do (active, or an operator's) is returned;
    4. inside a transaction (or with autocommit off) nothing is claimed: a
       claim could be rolled back with it; the work waits for the commit;
    5. otherwise the row is claimed and LiveLike asked, or a rival's claim
       waited for (:func:`_claim_or_wait`).

    The outcome's row is cached on the user (never a placeholder).
    """
    if not user_state.is_saved(user):
        raise ValueError("ensure_profile() needs a saved user")
    row = user_state.cached_profile(user) if user_state.is_known(user) else _read(user)
    if conf.CLIENT_GENERATED:
        return _remembered(user, _make_usable_by_minting(user, row))
    if row is not None and not needs_work(row):
        return _remembered(user, ProvisionResult(row))
    connection = transaction.get_connection(_db())
    if connection.in_atomic_block:
        _ensure_after_commit(user)
        return ProvisionResult(row or _placeholder(user))
    if not connection.get_autocommit():  # no on_commit there: a later call claims
        return ProvisionResult(row or _placeholder(user))
    return _remembered(user, _claim_or_wait(user, row, wait=wait))


def provision_on_login(user: AbstractBaseUser) -> None:
    """``user_logged_in``: provision the profile when ``PROVISION_ON_LOGIN``, if the user gets one.

    Never waits for another request's claim: the login does not need the
    profile, only its use does (and that waits). With ``"background"`` (and
    a ``TASK_BACKEND``) the provisioning is enqueued once the login commits.
    """
    if not conf.PROVISION_ON_LOGIN or not gets_a_profile(user):
        return
    if conf.PROVISION_IN_BACKGROUND and not conf.CLIENT_GENERATED:
        after_commit(
            "livelike_profiles.provisioning.dispatch.queue_provisioning",
            lambda: _queue_provisioning(user),
            using=_db(),
        )
        return
    with contextlib.suppress(UserGone):  # deleted meanwhile: nothing to provision
        provision(user, wait=False)


def _queue_provisioning(user: AbstractBaseUser) -> None:
    """Enqueue the user's provisioning for a worker, unless it is done, in flight or queued.

    The row decides, so that rival logins enqueue one task between them: the
    login whose ``INSERT`` of the queued row wins enqueues; one whose
    ``INSERT`` is refused, or that finds the row active, claimed, queued or
    not due, enqueues nothing. A row whose claim ran out, a failed row due,
    or one queued over a lease ago (its task may be lost) is enqueued again.
    """
    row = _rows().of_user(user.pk)  # the primary's: a replica's "no row" must not stop a retry
    if row is None:
        if not _rows().queue(user):
            return
    else:
        now = timezone.now()
        if not is_claimable(row, now) or is_queued(row, now):
            return
    task_queue.enqueue("provision_user", user.pk)


# -- reading and remembering the row ---------------------------------------------------


def _db() -> str:
    return router.db_for_write(LiveLikeProfile)


def _rows() -> LiveLikeProfileQuerySet:
    """Rows on the primary: the state machine must read what it (or a rival) just wrote."""
    return LiveLikeProfile.objects.using(_db())


def _read(user: AbstractBaseUser) -> LiveLikeProfile | None:
    return LiveLikeProfile.objects.of_user(user.pk)


def _remembered(user: AbstractBaseUser, result: ProvisionResult) -> ProvisionResult:
    user_state.remember(user, result.row)  # later reads of user.livelike_profile cost nothing
    return result


def _placeholder(user: AbstractBaseUser) -> LiveLikeProfile:
    """A ``pending`` row not saved: what a caller sees while the real one is out of sight.

    ``user_id``, not ``user=``: that would cache the placeholder on the user.
    """
    return LiveLikeProfile(user_id=user.pk, status=Status.PENDING)


def needs_work(row: LiveLikeProfile) -> bool:
    """Whether the row needs work now: claimable, or pending (a fresh claim is waited for).

    Active rows are done; ``revoked``, and ``conflict`` without a client
    secret to recover it, are an operator's.
    """
    return row.status == Status.PENDING or is_claimable(row, timezone.now())


# -- claim, settle, or wait ------------------------------------------------------------


@dataclass(frozen=True)
class _NotClaimed:
    """A try at the claim that did not win it: the row as it then was, and whether the lock was.

    ``lock_free`` false: another caller holds the claim lock, mid-attempt.
    """

    row: LiveLikeProfile | None
    lock_free: bool


def _claim_or_wait(
    user: AbstractBaseUser, row: LiveLikeProfile | None, *, wait: bool
) -> ProvisionResult:
    """Claim the row and make the attempt, or wait for whoever holds the claim.

    Each pass: try to claim a claimable row; else settle (return the row) if
    nobody is mid-attempt or the wait is over; else wait for the claim's
    owner and look again. Bounded by ``WAIT_SECONDS`` (``wait=False``: never waits).
    """
    waiting = _Waiting(user, conf.WAIT_SECONDS if wait else 0)
    while True:
        lock_free = True
        if row is None or is_claimable(row, timezone.now()):
            tried = _try_to_claim(user, row, late=waiting.is_over())
            if isinstance(tried, ProvisionResult):
                return tried
            row, lock_free = tried.row, tried.lock_free
        if row is not None and ((lock_free and row.status != Status.PENDING) or waiting.is_over()):
            return ProvisionResult(row)
        row = waiting.for_claim_owner()


def _try_to_claim(
    user: AbstractBaseUser, row: LiveLikeProfile | None, *, late: bool
) -> ProvisionResult | _NotClaimed:
    """Take the user's claim lock, claim the row and make the attempt while holding both.

    On PostgreSQL and MariaDB/MySQL the lock wakes the claim's rivals when the
    outcome is recorded. Held elsewhere, the rival waits, unless it is
    ``late``: a lock held past the wait may be leaked (a connection pooler),
    and the row alone decides.
    """
    with claim_locks.claiming(user.pk, _db()) as lock_free:
        if not (lock_free or late):
            return _NotClaimed(row, lock_free=False)
        row, claim = _rows().claim(user, has_row=row is not None)
        if claim is None or row is None:
            return _NotClaimed(row, lock_free)
        return Attempt(user, row, claim).run()


class _Waiting:
    """A caller's wait for another's claim: up to ``WAIT_SECONDS``, woken by its lock or polling."""

    def __init__(self, user: AbstractBaseUser, seconds: float) -> None:
        self.user = user
        self.deadline = time.monotonic() + seconds
        self.pause = _POLL_FIRST

    def is_over(self) -> bool:
        return time.monotonic() >= self.deadline

    def for_claim_owner(self) -> LiveLikeProfile | None:
        """Wait until the claim's owner is done (or the wait is over); the row as it then is.

        The owner's outcome is a few hundred milliseconds away, so a rival
        waits rather than call LiveLike. Woken by the claim lock where the
        database has one; a free lock with a live claim means its owner died,
        and the row is then polled until the claim's lease ends, as it is
        without locks.
        """
        left = self.deadline - time.monotonic()
        waited = claim_locks.wait_for_release(self.user.pk, _db(), left)
        if waited is not claim_locks.LockWait.NO_LOCKS:
            row = _rows().of_user(self.user.pk)
            if waited is claim_locks.LockWait.TIMED_OUT or not has_live_claim(row, timezone.now()):
                return row
        self._poll()
        return _rows().of_user(self.user.pk)

    def _poll(self) -> None:
        """Pause before looking at the row again: longer each time, never past the wait."""
        _sleep(min(self.pause, max(0.0, self.deadline - time.monotonic())))
        self.pause = min(self.pause * 2, _POLL_MAX)


# -- client-generated tokens ---------------------------------------------------------


def _make_usable_by_minting(user: AbstractBaseUser, row: LiveLikeProfile | None) -> ProvisionResult:
    """``"client-generated"`` mode: the row usable at once, with no call (:mod:`.client_generated`).

    A row made usable is announced after the commit. A rival's row that this
    transaction cannot see (REPEATABLE READ) is looked for again after the
    commit; outside a transaction (the row deleted between our INSERT and our
    read) the next call inserts it: never on_commit there, which Django would
    run at once, and so recurse.
    """
    if row is not None and row.is_active:
        return ProvisionResult(row)
    row, made = client_generated.make_usable(user, row)
    if row is None:
        if transaction.get_connection(_db()).in_atomic_block:
            _ensure_after_commit(user)
        return ProvisionResult(_placeholder(user))
    if made:
        _announce(user, row)
    return ProvisionResult(row, created=made)


def _ensure_after_commit(user: AbstractBaseUser) -> None:
    """``ensure_profile(user)`` once the transaction commits (the same instance: it carries it)."""

    def ensure() -> None:
        try:
            ensure_profile(user)
        except UserGone:
            logger.info("LiveLike profile not provisioned: user=%s no longer exists", user.pk)

    after_commit("livelike_profiles.provisioning.dispatch.ensure_after_commit", ensure, using=_db())


def _announce(user: AbstractBaseUser, row: LiveLikeProfile) -> None:
    """Log and signal a row made usable; after the commit, as a rollback would undo it."""

    def announce() -> None:
        logger.info("LiveLike profile ready (client-generated token): user=%s", row.user_id)
        notify.send(profile_provisioned, LiveLikeProfile, profile=row, user=user, recovered=False)

    after_commit("livelike_profiles.provisioning.dispatch.announce", announce, using=_db())
