"""Exactly one LiveLike profile per user: :func:`ensure_profile` and its state machine.

The row is claimed (a committed ``INSERT`` or conditional ``UPDATE``) before
LiveLike is called, so the database decides who creates each profile; the
outcome is recorded only while the claim holds. See the README's "How
provisioning works" for the states, the custom ids and transactions.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router, transaction
from django.utils import timezone

from . import cached_rows, claim_locks, client_generated, create_at_livelike, notify, tokens
from .accounts import is_deactivated
from .after_commit import after_commit
from .backoff import backoff_seconds, retry_delay
from .client import RemoteProfile, clean_text
from .conf import conf
from .exceptions import LiveLikeConflict, LiveLikeError, UserGone
from .models import LiveLikeProfile
from .provisioned import Provisioned
from .signals import profile_provisioned, provisioning_failed

logger = logging.getLogger(__name__)

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


def provision(user: AbstractBaseUser) -> Provisioned:
    """:func:`ensure_profile`, telling what this call did (for the backfill's report)."""
    state = getattr(user, "_state", None)
    if user.pk is None or (state is not None and state.adding):
        raise ValueError("ensure_profile() needs a saved user")
    row = cached_rows.cached_profile(user) if cached_rows.is_known(user) else _load(user)
    if conf.CLIENT_GENERATED:
        if row is not None and row.is_active:
            return Provisioned(_remember(user, row))
        return _remember_outcome(user, _without_a_call(user, row))
    if row is not None and not _due(row):
        return Provisioned(_remember(user, row))

    connection = transaction.get_connection(_db())
    if connection.in_atomic_block:
        _ensure_after_commit(user)
    if connection.in_atomic_block or not connection.get_autocommit():
        # A claim could still be rolled back. With autocommit off (no on_commit there)
        # a later call claims. user_id, not user=: that would cache the placeholder.
        return Provisioned(row or LiveLikeProfile(user_id=user.pk, status=Status.PENDING))
    return _remember_outcome(user, _provision(user, row))


def provision_on_login(user: AbstractBaseUser) -> None:
    """``user_logged_in``: ensure the profile when ``PROVISION_ON_LOGIN``, unless deactivated."""
    if conf.PROVISION_ON_LOGIN and not is_deactivated(user):
        with contextlib.suppress(UserGone):  # deleted meanwhile: nothing to provision
            ensure_profile(user)


# -- reading -------------------------------------------------------------------


def _db() -> str:
    return router.db_for_write(LiveLikeProfile)


def _rows() -> Any:
    """Rows on the primary: the state machine must read what it (or a rival) just wrote."""
    return LiveLikeProfile.objects.using(_db())


def _load(user: AbstractBaseUser) -> LiveLikeProfile | None:
    # Routed like any read (a replica, if the site has one): a stale answer
    # only sends us to the state machine, which works on the primary.
    row: LiveLikeProfile | None = LiveLikeProfile.objects.of_user(user.pk)
    return row


def _remember_outcome(user: AbstractBaseUser, outcome: Provisioned) -> Provisioned:
    _remember(user, outcome.row)
    return outcome


def _remember(user: AbstractBaseUser, row: LiveLikeProfile) -> LiveLikeProfile:
    cached_rows.remember(user, row)  # later reads of user.livelike_profile cost nothing
    return row


def _due(row: LiveLikeProfile) -> bool:
    """Whether the row needs work: claimable, or pending (a fresh claim is waited for).

    Active rows are done; ``revoked``, and ``conflict`` without a client
    secret to recover it, are an operator's.
    """
    return row.status == Status.PENDING or LiveLikeProfile.objects.is_claimable(row, timezone.now())


# -- the state machine -----------------------------------------------------------


def _provision(user: AbstractBaseUser, row: LiveLikeProfile | None) -> Provisioned:
    """Claim and provision, or wait (boundedly) for whoever holds the claim."""
    deadline = time.monotonic() + conf.WAIT_SECONDS
    pause = _POLL_FIRST
    while True:
        late, free = time.monotonic() >= deadline, True
        if row is None or LiveLikeProfile.objects.is_claimable(row, timezone.now()):
            # On PostgreSQL and MariaDB/MySQL the claim's owner holds a lock that wakes its
            # rivals. One held past our deadline may be leaked (a pooler): the row decides.
            with claim_locks.claiming(user.pk, _db()) as free:
                if free or late:
                    row, claim = _rows().claim(user, has_row=row is not None)
                    if claim is not None:
                        return _call_livelike(user, row, claim)
        if row is not None and (
            (free and row.status != Status.PENDING) or time.monotonic() >= deadline
        ):
            return Provisioned(row)
        # Another request holds a fresh claim (or the lock, to claim): its outcome
        # is a few hundred milliseconds away, so wait for it rather than call LiveLike.
        released = claim_locks.wait_for_release(user.pk, _db(), deadline - time.monotonic())
        if released is not None:  # woken, or at the deadline: look at the row
            row = _rows().of_user(user.pk)
            if not released or not LiveLikeProfile.objects.is_claim_live(row, timezone.now()):
                continue
            # The lock is free, the claim live: its owner died. Poll until its lease ends.
        _sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, _POLL_MAX)
        row = _rows().of_user(user.pk)


def _call_livelike(user: AbstractBaseUser, row: LiveLikeProfile, claim: uuid.UUID) -> Provisioned:
    """Ask LiveLike for the profile, then record the outcome while we hold the claim.

    Never raises: an error nobody foresaw, in the call (an answer, a setting
    or a site callable) or in recording its outcome (the database refusing
    it), is logged with its traceback and recorded as a failure, the claim
    released. A profile created meanwhile is found again by its custom id.
    """
    started = time.monotonic()
    try:
        return _attempt(user, row, claim, started)
    except Exception as error:
        logger.error(
            "LiveLike provisioning attempt raised: user=%s attempt=%s error=%s",
            row.user_id,
            row.attempts,
            type(error).__name__,
            exc_info=True,
        )
        try:
            return _record_failure(user, row, claim, error, started)
        except Exception:
            # The database itself is failing: the lease frees the row later.
            logger.exception(
                "LiveLike provisioning failure not recorded: user=%s attempt=%s (the claim "
                "is released when its lease ends)",
                row.user_id,
                row.attempts,
            )
            return Provisioned(row, error=error)


def _attempt(
    user: AbstractBaseUser, row: LiveLikeProfile, claim: uuid.UUID, started: float
) -> Provisioned:
    recovered = False
    try:
        try:
            remote = create_at_livelike.create(user, row.custom_id)
        except LiveLikeConflict:
            if not row.custom_id:
                raise  # a create without a custom id has nothing to recover by: a failure
            # An earlier attempt created it and its answer was lost.
            found, reason = create_at_livelike.recover(row.custom_id)
            if found is None:
                return _record_conflict(user, row, claim, reason, started)
            remote, recovered = found, True
    except LiveLikeError as error:  # from the create, or an outage during the lookup
        return _record_failure(user, row, claim, error, started)
    return _record_success(user, row, claim, remote, recovered, started)


def _released(
    row: LiveLikeProfile, outcome: tuple[LiveLikeProfile, bool]
) -> tuple[LiveLikeProfile, bool]:
    """``outcome`` of a release, logging when it was dropped."""
    fresh, held = outcome
    if held:
        return fresh, held
    if fresh is row:
        # The row is gone: its user was deleted meanwhile, and the erasure
        # recorded then finds this profile by its custom id (see erasure).
        logger.info(
            "LiveLike provisioning outcome dropped: user=%s attempt=%s (the row was deleted "
            "meanwhile)",
            row.user_id,
            row.attempts,
        )
    else:
        # Our lease ran out and another caller took over; its outcome stands.
        logger.warning(
            "LiveLike provisioning outcome dropped: user=%s attempt=%s status_now=%s (lease "
            "expired and the claim was taken over)",
            row.user_id,
            row.attempts,
            fresh.status,
        )
    return fresh, held


def _clean(reason: str) -> str:
    return clean_text(reason, LiveLikeProfile.max_length("last_error"))


def _record_success(
    user: AbstractBaseUser,
    row: LiveLikeProfile,
    claim: uuid.UUID,
    remote: RemoteProfile,
    recovered: bool,
    started: float,
) -> Provisioned:
    fresh, held = _released(
        row,
        _rows().release_active(
            row,
            claim,
            profile_id=remote.id,
            access_token=remote.access_token,
            nickname=remote.nickname,
        ),
    )
    if not held:
        if not row.custom_id:
            # Without a custom id nothing can find this profile again.
            logger.error(
                "LiveLike profile orphaned: user=%s profile=%s (created after this "
                "attempt's lease expired; LEASE_SECONDS is too short for LiveLike's latency)",
                row.user_id,
                remote.id,
            )
        return Provisioned(fresh)
    logger.info(
        "LiveLike profile %s: user=%s profile=%s attempt=%s duration_ms=%.0f",
        "recovered" if recovered else "created",
        row.user_id,
        remote.id,
        row.attempts,
        (time.monotonic() - started) * 1000,
    )
    notify.send(profile_provisioned, LiveLikeProfile, profile=fresh, user=user, recovered=recovered)
    return Provisioned(fresh, created=not recovered, recovered=recovered)


def _record_failure(
    user: AbstractBaseUser,
    row: LiveLikeProfile,
    claim: uuid.UUID,
    error: Exception,
    started: float,
) -> Provisioned:
    delay = retry_delay(row.attempts, error)
    if isinstance(error, LiveLikeError):
        reason = f"{type(error).__name__}: {error.summary()}"
    else:
        # Its message could hold anything; the traceback is in the log.
        reason = f"{type(error).__name__}: unexpected error, see the log"
    retry_at = timezone.now() + timedelta(seconds=delay)
    fresh, held = _released(
        row, _rows().release_unusable(row, claim, Status.FAILED, _clean(reason), retry_at)
    )
    if not held:
        return Provisioned(fresh)
    logger.warning(
        "LiveLike profile not provisioned: user=%s attempt=%s duration_ms=%.0f error=%s "
        "retry_in_s=%.0f",
        row.user_id,
        row.attempts,
        (time.monotonic() - started) * 1000,
        type(error).__name__,
        delay,
    )
    notify.send(provisioning_failed, LiveLikeProfile, profile=fresh, user=user, error=error)
    return Provisioned(fresh, error=error)


def _record_conflict(
    user: AbstractBaseUser,
    row: LiveLikeProfile,
    claim: uuid.UUID,
    reason: str,
    started: float,
) -> Provisioned:
    # A conflict is retried only with a client secret (see is_claimable), and
    # then with the backoff of a failure, so a refused minted token is not
    # asked again at every request. Without one it is due as soon as a
    # secret is set.
    retry_at = None
    if tokens.can_mint():
        retry_at = timezone.now() + timedelta(seconds=backoff_seconds(row.attempts))
    fresh, held = _released(
        row, _rows().release_unusable(row, claim, Status.CONFLICT, _clean(reason), retry_at)
    )
    if not held:
        return Provisioned(fresh)
    logger.error(
        "LiveLike profile in conflict, left for an operator: user=%s attempt=%s "
        "duration_ms=%.0f error=LiveLikeConflict reason=%s",
        row.user_id,
        row.attempts,
        (time.monotonic() - started) * 1000,
        reason,
    )
    notify.send(provisioning_failed, LiveLikeProfile, profile=fresh, user=user, error=None)
    return Provisioned(fresh)


# -- client-generated tokens ------------------------------------------------------


def _without_a_call(user: AbstractBaseUser, row: LiveLikeProfile | None) -> Provisioned:
    """``"client-generated"`` mode: the row made usable at once (see :mod:`.client_generated`)."""
    row, made = client_generated.make_usable(user, row)
    if made and row is not None:
        _announce(user, row)
    if row is None:
        if transaction.get_connection(_db()).in_atomic_block:
            # A rival's row, unseen in this transaction's snapshot: look again after it commits.
            _ensure_after_commit(user)
        # (Outside one, the row was deleted between our INSERT and our read: the next call
        # inserts it. Never on_commit there: Django would run it at once, and so recurse.)
        return Provisioned(LiveLikeProfile(user_id=user.pk, status=Status.PENDING))
    return Provisioned(row, created=made)


def _ensure_after_commit(user: AbstractBaseUser) -> None:
    """``ensure_profile(user)`` once the transaction commits (the same instance: it carries it)."""

    def ensure() -> None:
        try:
            ensure_profile(user)
        except UserGone:
            logger.info("LiveLike profile not provisioned: user=%s no longer exists", user.pk)

    after_commit("livelike_profiles.provisioning.ensure_after_commit", ensure, using=_db())


def _announce(user: AbstractBaseUser, row: LiveLikeProfile) -> None:
    """Log and signal a row made usable; after the commit, as a rollback would undo it."""

    def announce() -> None:
        logger.info("LiveLike profile ready (client-generated token): user=%s", row.user_id)
        notify.send(profile_provisioned, LiveLikeProfile, profile=row, user=user, recovered=False)

    after_commit("livelike_profiles.provisioning.announce", announce, using=_db())
