"""Exactly one LiveLike profile per user: the provisioning state machine.

:func:`ensure_profile` is the only code that may create a remote profile. The
database decides who makes that call, never a process-local lock, so the
guarantee holds across threads, worker processes and hosts sharing one
database:

1. A row per user (``user`` is one-to-one) is *claimed* and committed before
   LiveLike is called: inserted as ``pending``, or taken over by one
   conditional ``UPDATE`` when it is ``failed`` and due, or ``pending`` with an
   expired lease (its process died). Exactly one caller wins a claim; the
   others wait for its outcome, boundedly, then return the row as it is.
2. The winner asks LiveLike, outside any transaction, then records the outcome
   with an ``UPDATE`` that only applies while it still holds the claim.
3. With custom ids (the default) the create is idempotent: the custom id is
   made once per row, at its first claim (a keyed hash of the primary key and
   a random nonce), and stored; a retry after a lost answer or a crash sends
   the stored id, gets 409 and recovers the same profile with the admin
   token, instead of creating a second one. It is never recomputed from the
   primary key, so a new user who is given a deleted user's primary key gets
   a row, a custom id and a profile of their own.

States: ``pending`` (claimed, call in flight) -> ``active``, or ``failed``
(retried after a capped exponential backoff with jitter), or ``conflict``
(LiveLike has a profile for the custom id that could not be recovered: left
for an operator, never "solved" by creating another). Every attempt ends in
one of these with the claim released, whatever LiveLike answered or the
site's ``NICKNAME`` callable returned: an error nobody foresaw is logged with
its traceback and recorded as a failure.

Inside a transaction (``ATOMIC_REQUESTS``, ``TestCase``) nothing is claimed or
called: a claim that could still roll back decides nothing, and a user created
in that same transaction is invisible to everyone else. Provisioning is then
scheduled with ``transaction.on_commit`` and the row is returned as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import random
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, OperationalError, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import tokens
from .client import MAX_RETRY_AFTER, RemoteProfile, clean_text, get_client
from .conf import conf
from .exceptions import (
    LiveLikeConfigurationError,
    LiveLikeConflict,
    LiveLikeError,
    LiveLikeRateLimited,
    LiveLikeRejected,
    LiveLikeTokenRejected,
    LiveLikeUnavailable,
)
from .models import LiveLikeProfile
from .nicknames import nickname_for
from .signals import profile_provisioned, provisioning_failed

logger = logging.getLogger(__name__)

Status = LiveLikeProfile.Status

# How often a caller waiting for another's claim looks at the row again.
_POLL_FIRST, _POLL_MAX = 0.02, 0.2
# Module attribute so a test can act at the very moment a caller waits.
_sleep = time.sleep


# The longest backoff ever written, whatever the settings say: far beyond any
# sane RETRY_MAX_SECONDS, and far from datetime's limits.
_LONGEST_DELAY = 10 * 366 * 86400.0
# Past this many failures the backoff is at its cap for any sane settings;
# capping the exponent keeps 2 ** attempts from overflowing a float.
_MAX_BACKOFF_EXPONENT = 32


def new_custom_id(user: AbstractBaseUser) -> str:
    """A new custom id for the user's row: HMAC-SHA256 of the pk and a random nonce.

    Made once per row, at its first claim, and stored: every later attempt
    sends the stored value, never a recomputed one. So identity follows the
    row: a newcomer given a deleted user's primary key gets a custom id (and a
    profile) of their own. Keyed and random, so nobody can guess a future
    user's custom id, create that profile first and keep its token.
    """
    key = conf.CUSTOM_ID_SECRET.encode()
    nonce = secrets.token_hex(16)
    message = f"livelike_profiles.custom_id:{user.pk}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def cached_profile(user: AbstractBaseUser) -> LiveLikeProfile | None:
    """The user's row without a query, if ``user.livelike_profile`` was already loaded."""
    state = getattr(user, "_state", None)
    return state.fields_cache.get("livelike_profile") if state is not None else None


@dataclass(frozen=True)
class Provisioned:
    """What one call of :func:`provision` did.

    ``row`` is what :func:`ensure_profile` returns; ``created`` and
    ``recovered`` say this call made the profile usable (``recovered``: by
    finding, by its custom id, a profile whose creation answer was lost);
    ``error`` is the failure this call recorded, if any.
    """

    row: LiveLikeProfile
    created: bool = False
    recovered: bool = False
    error: BaseException | None = None


def ensure_profile(user: AbstractBaseUser) -> LiveLikeProfile:
    """Return the user's LiveLike profile row, creating the remote profile if there is none.

    Never raises for LiveLike trouble. When no usable profile can be had now
    (LiveLike failing, backoff not over, another request still creating it
    after ``WAIT_SECONDS``, a conflict or revoked token left for an operator,
    or called inside a transaction) the row is returned as it is, and
    ``profile.is_active`` is ``False``: callers test ``is_active`` before
    using ``profile_id`` or ``access_token``.

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
    cache = state.fields_cache if state is not None else {}
    row = cache["livelike_profile"] if "livelike_profile" in cache else _load(user)
    if conf.CLIENT_GENERATED:
        if row is not None and row.is_active:
            return Provisioned(_remember(user, row))
        return _remember_outcome(user, _ready_without_a_call(user, row))
    if row is not None and not _due(row):
        return Provisioned(_remember(user, row))

    if transaction.get_connection(_db()).in_atomic_block:
        # The same instance, so that after the commit it carries the outcome.
        # A function, not a partial: Django logs a robust callback's error by
        # its __qualname__, which a partial lacks (the logging would raise).
        def provision_after_commit() -> None:
            ensure_profile(user)

        transaction.on_commit(provision_after_commit, using=_db(), robust=True)
        # user_id, not user=: assigning the user would cache this unsaved
        # placeholder as user.livelike_profile.
        return Provisioned(row or LiveLikeProfile(user_id=user.pk, status=Status.PENDING))
    return _remember_outcome(user, _provision(user, row))


def provision_on_login(user: AbstractBaseUser) -> None:
    """The ``user_logged_in`` receiver's work: ensure the profile when ``PROVISION_ON_LOGIN``."""
    if conf.PROVISION_ON_LOGIN:
        ensure_profile(user)


def backoff_seconds(attempts: int) -> float:
    """Delay before retry number ``attempts + 1``: capped exponential, with jitter.

    The jitter (a random half to all of the step) keeps many users who failed
    in the same outage from all retrying in the same second.
    """
    exponent = min(max(0, attempts - 1), _MAX_BACKOFF_EXPONENT)
    step = min(conf.RETRY_MAX_SECONDS, conf.RETRY_BASE_SECONDS * 2.0**exponent)
    return step * random.uniform(0.5, 1.0)  # noqa: S311 - not for security


def retry_delay(attempts: int, error: BaseException) -> float:
    """Seconds before the next attempt after ``error``: the backoff, or a longer ``Retry-After``.

    Always finite and bounded, whatever the error carries.
    """
    delay = backoff_seconds(attempts)
    retry_after = error.retry_after if isinstance(error, LiveLikeRateLimited) else None
    if retry_after is not None and not math.isnan(retry_after):
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    if not math.isfinite(delay):  # only absurd settings get here
        delay = _LONGEST_DELAY
    return min(max(0.0, delay), _LONGEST_DELAY)


# -- reading -------------------------------------------------------------------


def _db() -> str:
    return router.db_for_write(LiveLikeProfile)


def _rows() -> Any:
    """Rows on the primary: the state machine must read what it (or a rival) just wrote."""
    return LiveLikeProfile.objects.using(_db())


def _load(user: AbstractBaseUser) -> LiveLikeProfile | None:
    # Routed like any read (a replica, if the site has one): a stale answer
    # only sends us to the state machine, which works on the primary.
    return LiveLikeProfile.objects.filter(user_id=user.pk).first()


def _remember_outcome(user: AbstractBaseUser, outcome: Provisioned) -> Provisioned:
    _remember(user, outcome.row)
    return outcome


def _remember(user: AbstractBaseUser, row: LiveLikeProfile) -> LiveLikeProfile:
    # Later reads of user.livelike_profile then cost nothing (model instances only).
    state = getattr(user, "_state", None)
    if state is not None:
        state.fields_cache["livelike_profile"] = row
    return row


# Who may claim a row: failed and past its backoff, or pending with a dead
# lease (its process died). The same rule twice, side by side: once in Python
# (to skip a pointless write) and once in SQL (where it decides).
# A conflict whose profile has a custom id is claimable too once a client
# secret is set: a token minted for that custom id recovers it.
def _claimable(row: LiveLikeProfile, now: Any) -> bool:
    if row.status == Status.FAILED:
        return row.next_attempt_at is None or row.next_attempt_at <= now
    if row.status == Status.PENDING:
        return row.lease_expires_at is None or row.lease_expires_at <= now
    if row.status == Status.CONFLICT:
        due = row.next_attempt_at is None or row.next_attempt_at <= now
        return due and bool(row.custom_id) and tokens.can_mint()
    return False


def _claimable_q(now: Any) -> Q:
    failed_and_due = Q(status=Status.FAILED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    lease_dead = Q(status=Status.PENDING) & (
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
    )
    if tokens.can_mint():
        recoverable = Q(status=Status.CONFLICT, custom_id__isnull=False) & (
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )
        return failed_and_due | lease_dead | recoverable
    return failed_and_due | lease_dead


def _due(row: LiveLikeProfile) -> bool:
    """Whether the row needs work: claimable, or pending (a fresh claim is waited for).

    Active rows are done; ``revoked``, and ``conflict`` without a client
    secret to recover it, are an operator's.
    """
    return row.status == Status.PENDING or _claimable(row, timezone.now())


# -- the state machine -----------------------------------------------------------


def _provision(user: AbstractBaseUser, row: LiveLikeProfile | None) -> Provisioned:
    """Claim and provision, or wait (boundedly) for whoever holds the claim."""
    deadline = time.monotonic() + conf.WAIT_SECONDS
    pause = _POLL_FIRST
    while True:
        if row is None or _claimable(row, timezone.now()):
            row, claim = _claim(user, row)
            if claim is not None:
                return _call_livelike(user, row, claim)
        if row.status != Status.PENDING or time.monotonic() >= deadline:
            return Provisioned(row)
        # Another request holds a fresh claim: its outcome is a few hundred
        # milliseconds away, so look again shortly rather than call LiveLike.
        _sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, _POLL_MAX)
        row = _rows().get(user_id=user.pk)


def _claim(
    user: AbstractBaseUser, row: LiveLikeProfile | None
) -> tuple[LiveLikeProfile, uuid.UUID | None]:
    """Claim the user's row; returns it with our claim id, or as it now is with ``None``."""
    now = timezone.now()
    claim = uuid.uuid4()
    claimed = {
        "status": Status.PENDING,
        "claim": claim,
        "lease_expires_at": now + timedelta(seconds=conf.LEASE_SECONDS),
        "updated_at": now,
    }
    if row is None:
        # We run in autocommit (see ensure_profile): the INSERT commits at once.
        # The custom id is made here, once for the row's life (see new_custom_id).
        custom_id = {"custom_id": new_custom_id(user)} if conf.CUSTOM_IDS else {}
        try:
            row = _rows().create(user_id=user.pk, attempts=1, **custom_id, **claimed)
            return row, claim
        except IntegrityError:
            pass  # another caller inserted it first: take it over only if due

    # One conditional UPDATE: the database lets exactly one caller match it.
    try:
        taken = (
            _rows()
            .filter(_claimable_q(now), user_id=user.pk)
            .update(attempts=F("attempts") + 1, **claimed)
        )
    except OperationalError:
        # REPEATABLE READ / SERIALIZABLE: a rival's concurrent claim made ours
        # fail to serialize. That rival holds the claim; we lost it.
        taken = 0
    row = _rows().get(user_id=user.pk)
    if not taken:
        return row, None
    if conf.CUSTOM_IDS and not row.custom_id:
        # First claimed while CUSTOM_IDS was off: from now on keep one id.
        row.custom_id = new_custom_id(user)
        _rows().filter(pk=row.pk, claim=claim).update(custom_id=row.custom_id)
    return row, claim


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
            remote = _create(user, row.custom_id)
        except LiveLikeConflict:
            # An earlier attempt created it and its answer was lost.
            remote, reason = _recover(row.custom_id)
            if remote is None:
                return _record_conflict(user, row, claim, reason, started)
            recovered = True
    except LiveLikeError as error:  # from the create, or an outage during the lookup
        return _record_failure(user, row, claim, error, started)
    return _record_success(user, row, claim, remote, recovered, started)


def _create(user: AbstractBaseUser, custom_id: str) -> RemoteProfile:
    """Create the profile (by custom id when the row has one), nickname permitting."""
    client = get_client()

    def create(nickname: str | None) -> RemoteProfile:
        if custom_id:
            return client.create_profile_by_custom_id(custom_id, nickname=nickname)
        return client.create_profile(nickname=nickname)

    nickname = nickname_for(user)
    try:
        return create(nickname)
    except LiveLikeRejected as error:
        if nickname is None or error.status_code != 400:
            raise
        # LiveLike refused the site's nickname (and created nothing): a user
        # without their nickname beats a user without a profile.
        logger.warning(
            "LiveLike refused the nickname for user=%s, creating without: %s",
            user.pk,
            error.summary(),
        )
        return create(None)


def _recover(custom_id: str) -> tuple[RemoteProfile | None, str]:
    """Find the profile an earlier attempt created; ``(None, reason)`` if it cannot be used.

    Raises :class:`LiveLikeUnavailable` for an outage: that is retried later
    (the 409 will come again), not a conflict.
    """
    if tokens.can_mint():
        return _recover_with_minted_token(custom_id)
    try:
        remote = get_client().get_profile_by_custom_id(custom_id)
    except LiveLikeConfigurationError:
        return None, (
            "409 for the custom id, and no API_TOKEN to look the profile up "
            '(setting LIVELIKE["CLIENT_SECRET"] recovers it)'
        )
    except LiveLikeUnavailable:
        raise
    except LiveLikeError as error:
        return None, f"409 for the custom id, and the lookup failed: {error.summary()}"
    if not remote.access_token:
        return None, (
            "409 for the custom id, and LiveLike's lookup answer has no access token "
            '(setting LIVELIKE["CLIENT_SECRET"] recovers it)'
        )
    return remote, ""


def _recover_with_minted_token(custom_id: str) -> tuple[RemoteProfile | None, str]:
    """Read the custom id's profile with a token minted for it: the same profile, now usable.

    LiveLike's lookup by custom id answers without a token, and only LiveLike
    can issue one of its own; a token the site signs for that custom id acts
    as that very profile. The row then stores no token and mints one on use.
    """
    try:
        remote = get_client().get_own_profile(tokens.mint(custom_id).token)
    except LiveLikeUnavailable:
        raise
    except LiveLikeTokenRejected as error:
        return None, (
            f"409 for the custom id, and LiveLike refused the minted token ({error.summary()}): "
            'check LIVELIKE["CLIENT_SECRET"] and CLIENT_ID'
        )
    except LiveLikeError as error:
        return None, f"409 for the custom id, and reading it failed: {error.summary()}"
    return RemoteProfile(id=remote.id, nickname=remote.nickname, custom_id=custom_id), ""


def _release(row: LiveLikeProfile, claim: uuid.UUID, **fields: Any) -> tuple[LiveLikeProfile, bool]:
    """Write the outcome if we still hold the claim; the row as it now is, and whether we did."""
    fields.update(claim=None, lease_expires_at=None, updated_at=timezone.now())
    if _rows().filter(pk=row.pk, claim=claim).update(**fields):
        for name, value in fields.items():
            setattr(row, name, value)
        return row, True
    fresh = _rows().get(pk=row.pk)
    # Our lease ran out and another caller took over; its outcome stands.
    logger.warning(
        "LiveLike provisioning outcome dropped: user=%s attempt=%s status_now=%s (lease "
        "expired and the claim was taken over)",
        row.user_id,
        row.attempts,
        fresh.status,
    )
    return fresh, False


def _record_success(
    user: AbstractBaseUser,
    row: LiveLikeProfile,
    claim: uuid.UUID,
    remote: RemoteProfile,
    recovered: bool,
    started: float,
) -> Provisioned:
    fresh, held = _release(
        row,
        claim,
        status=Status.ACTIVE,
        profile_id=remote.id,
        access_token=remote.access_token,
        nickname=remote.nickname[:255],
        last_error="",
        next_attempt_at=None,
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
    _send(profile_provisioned, profile=fresh, user=user, recovered=recovered)
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
    fresh, held = _release(
        row,
        claim,
        status=Status.FAILED,
        last_error=clean_text(reason, 255),
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
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
    _send(provisioning_failed, profile=fresh, user=user, error=error)
    return Provisioned(fresh, error=error)


def _record_conflict(
    user: AbstractBaseUser,
    row: LiveLikeProfile,
    claim: uuid.UUID,
    reason: str,
    started: float,
) -> Provisioned:
    # A conflict is retried only with a client secret (see _claimable), and
    # then with the backoff of a failure, so a refused minted token is not
    # asked again at every request. Without one it is due as soon as a
    # secret is set.
    retry_at = None
    if tokens.can_mint():
        retry_at = timezone.now() + timedelta(seconds=backoff_seconds(row.attempts))
    fresh, held = _release(
        row,
        claim,
        status=Status.CONFLICT,
        last_error=clean_text(reason, 255),
        next_attempt_at=retry_at,
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
    _send(provisioning_failed, profile=fresh, user=user, error=None)
    return Provisioned(fresh)


# -- client-generated tokens ------------------------------------------------------


def _ready_without_a_call(user: AbstractBaseUser, row: LiveLikeProfile | None) -> Provisioned:
    """``"client-generated"`` mode: make the user's row usable at once, calling nobody.

    The token is minted on use and names the profile by the row's custom id,
    so LiveLike creates the profile at its first use, exactly once whoever
    uses it first. A row from before (``"stored"`` mode) that is ``failed``,
    in ``conflict`` or ``pending`` with a dead lease keeps its custom id, and
    with it its profile. A live claim (a create in flight in a process still
    in ``"stored"`` mode) is left to finish, and a ``revoked`` row to an
    operator: its profile may be gone at LiveLike, and a minted token would
    then create a second one.
    """
    if row is None:
        row, inserted = _insert_usable(user)
        if row is None:  # a rival's row, unseen in this transaction's snapshot
            return Provisioned(LiveLikeProfile(user_id=user.pk, status=Status.PENDING))
        if row.is_active:
            return Provisioned(row, created=inserted)
    now = timezone.now()
    takeable = Q(status__in=[Status.FAILED, Status.CONFLICT]) | Q(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now), status=Status.PENDING
    )
    # Never a fresh custom id for a row that already names a profile.
    takeable &= Q(custom_id__isnull=False) | Q(profile_id__isnull=True)
    if not row.custom_id and row.profile_id is None:  # first claimed with CUSTOM_IDS off
        _rows().filter(takeable, pk=row.pk, custom_id__isnull=True).update(
            custom_id=new_custom_id(user)
        )
    taken = (
        _rows()
        .filter(takeable, pk=row.pk)
        .update(
            status=Status.ACTIVE,
            claim=None,
            lease_expires_at=None,
            next_attempt_at=None,
            last_error="",
            updated_at=now,
        )
    )
    row = _rows().get(pk=row.pk)
    if taken:
        _announce(user, row)
    return Provisioned(row, created=bool(taken))


def _insert_usable(user: AbstractBaseUser) -> tuple[LiveLikeProfile | None, bool]:
    """INSERT the user's usable row, and ``True``; or a rival's row (``None`` if unseen).

    Inside a transaction the INSERT runs in a savepoint, so a lost race
    leaves the transaction usable; and a rival's committed row may be
    invisible to its snapshot (REPEATABLE READ): the row is then looked at
    again once the transaction commits.
    """
    nickname = nickname_for(user)
    fields = {
        "user_id": user.pk,
        "custom_id": new_custom_id(user),
        "status": Status.ACTIVE,
        # The site's nickname reaches LiveLike with the first call that learns
        # the profile id (learn_profile_id), never at login.
        "nickname": nickname or "",
        "nickname_sync_due": bool(nickname),
    }
    in_transaction = transaction.get_connection(_db()).in_atomic_block
    try:
        if in_transaction:
            with transaction.atomic(using=_db()):
                row = _rows().create(**fields)
        else:
            row = _rows().create(**fields)
    except IntegrityError:
        rival = _rows().filter(user_id=user.pk).first()
        if rival is None:

            def ensure_after_commit() -> None:
                ensure_profile(user)

            transaction.on_commit(ensure_after_commit, using=_db(), robust=True)
        return rival, False
    _announce(user, row)
    return row, True


def _announce(user: AbstractBaseUser, row: LiveLikeProfile) -> None:
    """Log and signal a row made usable; after the commit, as a rollback would undo it."""

    def announce() -> None:
        logger.info("LiveLike profile ready (client-generated token): user=%s", row.user_id)
        _send(profile_provisioned, profile=row, user=user, recovered=False)

    transaction.on_commit(announce, using=_db(), robust=True)


def learn_profile_id(row: LiveLikeProfile) -> LiveLikeProfile:
    """Store the LiveLike profile id of a row that mints its tokens, the first time it is needed.

    One call with a minted token: ``GET {profile_url}``, or the ``PATCH`` of
    the site's nickname when one is due (which answers the profile too; if
    LiveLike refuses the nickname, a ``GET`` follows). That first use is also
    what makes LiveLike create the profile. An outage or a refusal leaves the
    id unknown (logged) and is not asked again before ``next_attempt_at``
    (the backoff of a failed attempt): the token is usable all the same.
    Never raises for LiveLike trouble.
    """
    now = timezone.now()
    if row.profile_id or not row.uses_minted_tokens:
        return row
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return row
    fields: dict[str, Any] = {"updated_at": now, "next_attempt_at": None}
    try:
        remote = _read_own_profile(row, fields)
    except LiveLikeError as error:
        logger.warning(
            "LiveLike profile id not learned: user=%s error=%s %s",
            row.user_id,
            type(error).__name__,
            error.summary(),
        )
        delay = retry_delay(row.attempts + 1, error)
        _rows().filter(pk=row.pk).update(next_attempt_at=now + timedelta(seconds=delay))
        return row
    fields["profile_id"] = remote.id
    if "nickname_sync_due" in fields or not row.nickname:
        fields.setdefault("nickname", remote.nickname)
        fields.setdefault("nickname_sync_due", False)
    try:
        with _savepoint():
            learned = _rows().filter(pk=row.pk, profile_id__isnull=True).update(**fields)
    except IntegrityError:
        logger.error(
            "LiveLike profile id not stored: user=%s profile=%s is another row's already",
            row.user_id,
            remote.id,
        )
        return row
    if not learned:
        return _rows().get(pk=row.pk)
    for name, value in fields.items():
        setattr(row, name, value)
    logger.info("LiveLike profile id learned: user=%s profile=%s", row.user_id, remote.id)
    return row


def _read_own_profile(row: LiveLikeProfile, fields: dict[str, Any]) -> RemoteProfile:
    """The row's profile as LiveLike answers it, pushing the site's nickname if one is due.

    Adds to ``fields`` what the answer means for the row's nickname.
    """
    client = get_client()
    token = row.access_token
    if row.nickname_sync_due and row.nickname:
        try:
            remote = client.update_own_profile(token, nickname=row.nickname)
        except LiveLikeTokenRejected:
            raise
        except LiveLikeRejected as error:
            if error.status_code != 400:
                raise
            # Refused, as a create would be: keep LiveLike's own nickname.
            logger.warning(
                "LiveLike refused the nickname for user=%s: %s", row.user_id, error.summary()
            )
        else:
            fields.update(nickname=remote.nickname or row.nickname, nickname_sync_due=False)
            return remote
        fields["nickname_sync_due"] = False
    return client.get_own_profile(token)


def _savepoint() -> Any:
    """A savepoint inside a transaction (a failed write then spares it), nothing outside one."""
    if transaction.get_connection(_db()).in_atomic_block:
        return transaction.atomic(using=_db())
    return contextlib.nullcontext()


def _send(signal: Any, **kwargs: Any) -> None:
    for receiver, result in signal.send_robust(sender=LiveLikeProfile, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "A receiver of a livelike_profiles signal raised: %r",
                receiver,
                exc_info=result,
            )
