"""LiveLike -> database: ``manage.py livelike_sync`` and the admin's "Refresh" action.

Each profile is read with its own token; the answer refreshes the nickname
and ``synced_at``, and a 401/403 marks the row ``revoked``. Nothing here
creates or replaces a profile (see the README's ``livelike_sync`` section).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import IntegrityError
from django.db.models import Q, QuerySet

from . import tokens
from .client import RemoteProfile
from .client_generated import read_own_profile, sends_nickname_first, settled_nickname
from .concurrency import Throttle, Workers, retry_rate_limited
from .exceptions import (
    LiveLikeError,
    LiveLikeRateLimited,
    LiveLikeTokenRejected,
    UnreadableTokenError,
)
from .models import LiveLikeProfile

Status = LiveLikeProfile.Status

# Every field a pass reads of a row (custom_id: whether its token is minted), so that
# a deferred one never costs a query per row.
_FIELDS = (
    "user_id",
    "status",
    "profile_id",
    "custom_id",
    "access_token",
    "nickname",
    "nickname_sync_due",
)


class SyncOutcome(StrEnum):
    """What a refresh found."""

    REFRESHED = "refreshed"  # read; nickname (and status) up to date now
    REVOKED = "revoked"  # LiveLike refuses the token (401/403); row marked revoked
    RESTORED = "restored"  # a revoked token works again; row active again
    MISMATCH = "mismatch"  # the token reads another profile than the row's: left alone
    UNREADABLE = "unreadable"  # the stored token cannot be decrypted: key missing
    ERROR = "error"  # LiveLike failed (outage, garbage): row left as it was
    CHANGED = "changed"  # the row changed while we asked: left to the newer writer
    SKIPPED = "skipped"  # nothing to refresh (not active, no token)


@dataclass(frozen=True)
class SyncResult:
    """One profile's refresh; ``detail`` is a short, token-free description."""

    profile_pk: Any
    user_pk: Any
    outcome: SyncOutcome
    detail: str = ""


def syncable(*, include_revoked: bool = False, stale_before: datetime | None = None) -> QuerySet:
    """The rows a sync reads: active ones (and revoked ones to re-check), optionally stale only."""
    statuses = [Status.ACTIVE, Status.REVOKED] if include_revoked else [Status.ACTIVE]
    has_token = ~Q(access_token="")
    if tokens.can_mint():  # rows with a custom id can mint one
        has_token |= Q(custom_id__isnull=False)
    rows = LiveLikeProfile.objects.filter(has_token, status__in=statuses)
    if stale_before is not None:
        rows = rows.filter(Q(synced_at__isnull=True) | Q(synced_at__lt=stale_before))
    return rows


def fetch(row: LiveLikeProfile, token: str, throttle: Throttle | None = None) -> RemoteProfile:
    """Read the profile ``token`` belongs to; after a 429, wait (all threads) and try again.

    The first read of a minted token's profile sends the site's pending
    nickname (see :func:`~.client_generated.read_own_profile`).
    """

    def attempt(n: int) -> RemoteProfile | LiveLikeRateLimited:
        try:
            return read_own_profile(row, token)
        except LiveLikeRateLimited as error:
            return error

    answer = retry_rate_limited(attempt, _rate_limit_of, throttle)
    if isinstance(answer, LiveLikeRateLimited):
        raise answer
    return answer


def _rate_limit_of(answer: RemoteProfile | LiveLikeRateLimited) -> LiveLikeRateLimited | None:
    return answer if isinstance(answer, LiveLikeRateLimited) else None


def refresh_profile(row: LiveLikeProfile) -> SyncResult:
    """Refresh one row from LiveLike now (the admin action)."""
    token = _token(row)
    if isinstance(token, SyncResult):
        return token
    try:
        answer: RemoteProfile | LiveLikeError = fetch(row, token)
    except LiveLikeError as error:
        answer = error
    return apply(row, answer)


def apply(row: LiveLikeProfile, answer: RemoteProfile | BaseException) -> SyncResult:
    """Record what LiveLike answered for ``row``; returns the outcome."""
    if isinstance(answer, LiveLikeTokenRejected) and row.uses_minted_tokens:
        # A token the site signed was refused: the settings are wrong, not the profile.
        detail = "LiveLike refused a minted token: check CLIENT_SECRET and CLIENT_ID"
        detail = LiveLikeProfile.fit("last_error", f"{detail} ({_describe(answer)})")
        return _result(row, SyncOutcome.ERROR, detail)
    if isinstance(answer, LiveLikeTokenRejected):
        detail = _describe(answer)
        if row.status == Status.REVOKED:
            return _result(row, SyncOutcome.REVOKED, "still refused: " + detail)
        written = LiveLikeProfile.objects.mark_revoked(row, detail)
        return _result(row, SyncOutcome.REVOKED if written else SyncOutcome.CHANGED, detail)
    if isinstance(answer, BaseException):
        return _result(row, SyncOutcome.ERROR, _describe(answer))
    learned = not row.profile_id and row.uses_minted_tokens
    if answer.id != row.profile_id and not learned:
        return _result(
            row, SyncOutcome.MISMATCH, f"the token reads profile {answer.id}, not {row.profile_id}"
        )

    restore = row.status == Status.REVOKED
    outcome = SyncOutcome.RESTORED if restore else SyncOutcome.REFRESHED
    nickname_sent = sends_nickname_first(row)  # as fetch() decided: the row is unchanged
    nickname: str | None = LiveLikeProfile.fit("nickname", answer.nickname)
    if nickname_sent:
        nickname = settled_nickname(row, answer)
        detail = f"nickname {nickname!r} (the site's, sent)"
    elif nickname != row.nickname and not row.nickname_sync_due:
        detail = f"nickname {row.nickname!r} -> {nickname!r}"
    else:
        nickname, detail = None, f"nickname {row.nickname!r}"
    try:
        written = LiveLikeProfile.objects.record_refresh(
            row,
            # A minted token's profile: the first read names it.
            profile_id=answer.id if learned else None,
            restore=restore,
            nickname=nickname,
            nickname_sent=nickname_sent,
        )
    except IntegrityError:  # only a learned id can collide: another row has it
        return _result(row, SyncOutcome.MISMATCH, f"profile {answer.id} is another row's")
    if not written:
        return _result(row, SyncOutcome.CHANGED, "the row changed meanwhile; left as it is")
    return _result(row, outcome, detail)


# -- the command's loop -------------------------------------------------------------


@dataclass
class SyncReport:
    """Counts of a sync run, and the rows worth naming (revoked, failed...)."""

    total: int = 0
    done: int = 0
    counts: dict[SyncOutcome, int] = field(default_factory=lambda: dict.fromkeys(SyncOutcome, 0))
    notable: list[SyncResult] = field(default_factory=list)
    interrupted: bool = False

    MAX_NOTABLE = 50
    NOTABLE = (
        SyncOutcome.REVOKED,
        SyncOutcome.RESTORED,
        SyncOutcome.MISMATCH,
        SyncOutcome.UNREADABLE,
        SyncOutcome.ERROR,
    )

    @property
    def failed(self) -> int:
        """Rows that could not be checked."""
        return sum(
            self.counts[o]
            for o in (SyncOutcome.ERROR, SyncOutcome.UNREADABLE, SyncOutcome.MISMATCH)
        )

    def add(self, result: SyncResult) -> None:
        """Count one row's result."""
        self.done += 1
        self.counts[result.outcome] += 1
        if result.outcome in self.NOTABLE and len(self.notable) < self.MAX_NOTABLE:
            self.notable.append(result)


def sync_profiles(
    rows: QuerySet,
    *,
    concurrency: int = 4,
    batch_size: int = 200,
    on_result: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Refresh every row of ``rows`` from LiveLike, ``concurrency`` calls at a time.

    Rows are read in primary-key order, a batch at a time (memory stays flat).
    ``on_result`` is called after each row, in the calling thread. Threads only call
    LiveLike; the calling thread reads and writes the database.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = SyncReport(total=rows.count())
    throttle = Throttle()

    def work(task: tuple[LiveLikeProfile, str]) -> RemoteProfile:
        return fetch(task[0], task[1], throttle)

    after = None
    with Workers(work, concurrency) as workers:
        try:
            while batch := _next_batch(rows, after, batch_size):
                after = batch[-1].pk
                tasks = []
                for row in batch:
                    token = _token(row)
                    if isinstance(token, SyncResult):
                        _add(report, token, on_result)
                    else:
                        tasks.append((row, token))
                for (row, _), answer in workers.map(tasks):
                    if answer is not None:
                        _add(report, apply(row, answer), on_result)
        except KeyboardInterrupt:
            workers.cancelled.set()
            report.interrupted = True
            for (row, _), answer in workers.drain():
                if answer is not None:
                    _add(report, apply(row, answer), on_result)
    return report


def _next_batch(rows: QuerySet, after: Any, size: int) -> list[LiveLikeProfile]:
    batch = rows.order_by("pk").only(*_FIELDS)
    if after is not None:
        batch = batch.filter(pk__gt=after)
    return list(batch[:size])


def _add(
    report: SyncReport, result: SyncResult, on_result: Callable[[SyncReport], None] | None
) -> None:
    report.add(result)
    if on_result is not None:
        on_result(report)


def _token(row: LiveLikeProfile) -> str | SyncResult:
    """The row's plain token, or the result explaining why there is none to use."""
    if row.status not in (Status.ACTIVE, Status.REVOKED):
        return _result(row, SyncOutcome.SKIPPED, f"status {row.status}: nothing to refresh")
    try:
        token = row.access_token
    except UnreadableTokenError:
        return _result(
            row, SyncOutcome.UNREADABLE, "the stored token cannot be decrypted (a key is missing)"
        )
    if not token:
        return _result(row, SyncOutcome.SKIPPED, "no token stored")
    return token


def _describe(error: BaseException) -> str:
    """The error's class, status and LiveLike's words: short, and never a token or URL."""
    parts = [type(error).__name__]
    if isinstance(error, LiveLikeError):
        if error.status_code is not None:
            parts.append(f"HTTP {error.status_code}")
        parts.append(error.detail or error.description)
    else:
        parts.append(str(error))
    return LiveLikeProfile.fit("last_error", ": ".join(part for part in parts if part))


def _result(row: LiveLikeProfile, outcome: SyncOutcome, detail: str = "") -> SyncResult:
    return SyncResult(row.pk, row.user_id, outcome, detail)
