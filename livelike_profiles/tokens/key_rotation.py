"""Re-encrypt every stored access token with the current key: ``manage.py livelike_rotate_keys``.

Checks first that every token is readable (otherwise changes nothing), then
re-encrypts, batch by batch, those not yet under the first key; no token is
decrypted into a variable (see docs/how-to/rotate-keys.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from ..models import LiveLikeProfile
from .encryption import Ciphertext, is_readable, uses_current_key

MAX_LISTED = 50


@dataclass(frozen=True)
class StoredToken:
    """Where a token is stored, without the token."""

    pk: Any
    user_id: Any


class UnreadableTokens(Exception):
    """Stored tokens no configured key can decrypt; ``rows`` lists the first ``MAX_LISTED``."""

    def __init__(self, count: int, rows: list[StoredToken]) -> None:
        self.count = count
        self.rows = rows
        listed = ", ".join(f"pk={row.pk} (user {row.user_id})" for row in rows)
        more = f" and {count - len(rows)} more" if count > len(rows) else ""
        super().__init__(
            f"{count} stored LiveLike access token(s) cannot be decrypted with any configured "
            f"key: {listed}{more}. Nothing was changed. Put the missing key back "
            '(SECRET_KEY_FALLBACKS, or LIVELIKE["ENCRYPTION_KEYS"] after the first) and run '
            "again."
        )


@dataclass
class RotationReport:
    """What a rotation found and did."""

    stored: int = 0  # rows holding a token
    current: int = 0  # already under the first key before this run
    to_rotate: int = 0
    rotated: int = 0
    changed: int = 0  # rewritten by someone else meanwhile (already current)
    unreadable: list[StoredToken] = field(default_factory=list)


def check(batch_size: int = 500) -> RotationReport:
    """Classify every stored token: current key, older key, or unreadable. Changes nothing."""
    report = RotationReport()
    unreadable = 0
    for pk, user_id, ciphertext in _stored(batch_size):
        report.stored += 1
        if uses_current_key(ciphertext):
            report.current += 1
        elif is_readable(ciphertext):
            report.to_rotate += 1
        else:
            unreadable += 1
            if len(report.unreadable) < MAX_LISTED:
                report.unreadable.append(StoredToken(pk, user_id))
    if unreadable:
        raise UnreadableTokens(unreadable, report.unreadable)
    return report


def rotate(
    batch_size: int = 500,
    *,
    dry_run: bool = False,
    on_progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Check, then re-encrypt every token not under the first key; raises :class:`UnreadableTokens`.

    With ``dry_run`` only the check runs and the report says what would change.
    """
    report = check(batch_size)
    if dry_run or not report.to_rotate:
        return report
    for batch in _batches(batch_size, stale_only=True):
        # One transaction per batch: one commit for many small updates.
        with transaction.atomic():
            for pk, _user_id, ciphertext in batch:
                if uses_current_key(ciphertext) or not is_readable(ciphertext):
                    continue  # rotated meanwhile; or unreadable since the check: left alone
                if LiveLikeProfile.objects.replace_ciphertext(pk, ciphertext):
                    report.rotated += 1
                else:
                    report.changed += 1
        if on_progress is not None:
            on_progress(report)
    return report


def _stored(batch_size: int) -> Iterator[tuple[Any, Any, Ciphertext]]:
    for batch in _batches(batch_size):
        yield from batch


def _batches(batch_size: int, *, stale_only: bool = False) -> Iterator[list[tuple[Any, Any, Any]]]:
    """``(pk, user_id, ciphertext)`` of rows with a token, a batch at a time, by primary key.

    ``stale_only`` leaves out, per batch, the rows already under the first key.
    """
    rows = LiveLikeProfile.objects.exclude(access_token="").order_by("pk")
    after = None
    while True:
        page = rows if after is None else rows.filter(pk__gt=after)
        batch = list(page.values_list("pk", "user_id", "access_token")[:batch_size])
        if not batch:
            return
        after = batch[-1][0]
        if stale_only:
            batch = [row for row in batch if not uses_current_key(row[2])]
        yield batch
