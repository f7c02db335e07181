"""LiveLike -> database: ``manage.py livelike_sync`` and the admin's "Refresh" action.

Each profile is read with its own token; the answer refreshes the nickname
and ``synced_at``, and a 401/403 marks the row ``revoked``. Nothing here
creates or replaces a profile (see docs/reference/commands.md and docs/how-to/runbooks.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import IntegrityError
from django.db.models import Q, QuerySet

from ..exceptions import (
    LiveLikeError,
    LiveLikeRateLimited,
    LiveLikeTokenRejected,
    UnreadableTokenError,
    describe_error,
)
from ..livelike.client import RemoteProfile
from ..models import LiveLikeProfile
from ..provisioning.client_generated import read_own_profile, sends_nickname_first, settled_nickname
from ..tokens import minting as tokens
from .concurrency import (
    RunReport,
    Throttle,
    Workers,
    check_batch_size,
    in_pk_batches,
    retry_rate_limited,
    run_in_batches,
)

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
    """Record what LiveLike answered for ``row``; returns the outcome.

    An error is recorded as such (a refused token marks the row ``revoked``).
    A profile is recorded only if it is the row's: the one it names, or, for
    a row that mints its tokens and never learned its id, the one LiveLike
    just read (its id is stored then).
    """
    if isinstance(answer, BaseException):
        return _failed(row, answer)
    learned = not row.profile_id and row.uses_minted_tokens
    if answer.id != row.profile_id and not learned:
        return _result(
            row, SyncOutcome.MISMATCH, f"the token reads profile {answer.id}, not {row.profile_id}"
        )
    return _refreshed(row, answer, learned)


def _failed(row: LiveLikeProfile, error: BaseException) -> SyncResult:
    """The result of a failed read: a refused token is revoked, unless the site minted it."""
    detail = describe_error(error, in_report=True)
    if not isinstance(error, LiveLikeTokenRejected):
        return _result(row, SyncOutcome.ERROR, _fit(detail))
    if row.uses_minted_tokens:
        # A token the site signed was refused: the settings are wrong, not the profile.
        problem = "LiveLike refused a minted token: check CLIENT_SECRET and CLIENT_ID"
        return _result(row, SyncOutcome.ERROR, _fit(f"{problem} ({_fit(detail)})"))
    detail = _fit(detail)
    if row.status == Status.REVOKED:
        return _result(row, SyncOutcome.REVOKED, "still refused: " + detail)
    written = LiveLikeProfile.objects.mark_revoked(row, detail)
    return _result(row, SyncOutcome.REVOKED if written else SyncOutcome.CHANGED, detail)


def _refreshed(row: LiveLikeProfile, answer: RemoteProfile, learned: bool) -> SyncResult:
    """Write the profile LiveLike read to ``row``, unless the row changed meanwhile."""
    restore = row.status == Status.REVOKED
    nickname, nickname_sent, detail = _nickname_update(row, answer)
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
    return _result(row, SyncOutcome.RESTORED if restore else SyncOutcome.REFRESHED, detail)


def _nickname_update(row: LiveLikeProfile, answer: RemoteProfile) -> tuple[str | None, bool, str]:
    """The nickname to store (``None``: keep the row's), whether the site's was sent, and a note.

    LiveLike's nickname is taken, unless the site's own is waiting to be
    pushed (``nickname_sync_due``): the push settles it, not this read. A read
    that sent the site's (:func:`.sends_nickname_first`) stores what LiveLike answered.
    """
    if sends_nickname_first(row):  # as fetch() decided: the row is unchanged
        nickname = settled_nickname(row, answer)
        return nickname, True, f"nickname {nickname!r} (the site's, sent)"
    nickname = LiveLikeProfile.fit("nickname", answer.nickname)
    if nickname != row.nickname and not row.nickname_sync_due:
        return nickname, False, f"nickname {row.nickname!r} -> {nickname!r}"
    return None, False, f"nickname {row.nickname!r}"


# -- the command's loop -------------------------------------------------------------


@dataclass
class SyncReport(RunReport[SyncOutcome, SyncResult]):
    """Counts of a sync run, and the rows worth naming (revoked, failed...) in ``notable``."""

    OUTCOMES = SyncOutcome
    KEPT = NOTABLE = (
        SyncOutcome.REVOKED,
        SyncOutcome.RESTORED,
        SyncOutcome.MISMATCH,
        SyncOutcome.UNREADABLE,
        SyncOutcome.ERROR,
    )
    MAX_KEPT = MAX_NOTABLE = 50

    total: int = 0

    @property
    def notable(self) -> list[SyncResult]:
        """The first ``MAX_NOTABLE`` results whose outcome is one of ``NOTABLE``."""
        return self.kept

    @property
    def failed(self) -> int:
        """Rows that could not be checked."""
        return sum(
            self.counts[o]
            for o in (SyncOutcome.ERROR, SyncOutcome.UNREADABLE, SyncOutcome.MISMATCH)
        )


_Task = tuple[LiveLikeProfile, str]  # a row, and its plain token


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
    check_batch_size(batch_size)
    report = SyncReport(total=rows.count())
    throttle = Throttle()

    def work(task: _Task) -> RemoteProfile:
        return fetch(task[0], task[1], throttle)

    def add(result: SyncResult) -> None:
        report.add(result)
        if on_result is not None:
            on_result(report)

    def settle(task: _Task, answer: RemoteProfile | BaseException | None) -> None:
        if answer is not None:  # None: cancelled before its call
            add(apply(task[0], answer))

    def run_batch(workers: Workers[_Task, RemoteProfile], batch: list[LiveLikeProfile]) -> None:
        tasks = []
        for row in batch:
            token = _token(row)
            if isinstance(token, SyncResult):
                add(token)
            else:
                tasks.append((row, token))
        for task, answer in workers.map(tasks):
            settle(task, answer)

    batches = in_pk_batches(rows.only(*_FIELDS), batch_size)
    run_in_batches(report, work, concurrency, batches, run_batch, settle)
    return report


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


def _fit(detail: str) -> str:
    return LiveLikeProfile.fit("last_error", detail)


def _result(row: LiveLikeProfile, outcome: SyncOutcome, detail: str = "") -> SyncResult:
    return SyncResult(row.pk, row.user_id, outcome, detail)
