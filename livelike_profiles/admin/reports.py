"""What the admin actions tell the operator: one message per outcome, and history entries.

Messages name the users concerned (capped) and never carry a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ..models import LiveLikeProfile
from ..sync.backfill import Outcome, UserResult
from ..sync.refresh import SyncOutcome, SyncResult
from ..sync.repair import RepairOutcome, RepairResult

# More is a job for manage.py livelike_provision or livelike_sync: an action
# calls LiveLike from the request.
MAX_ROWS_PER_ACTION = 100
MAX_NAMED_PER_MESSAGE = 20

_PROVISION_MESSAGES = {
    Outcome.CREATED: (messages.SUCCESS, _("LiveLike profile created")),
    Outcome.ACTIVE: (messages.INFO, _("Already active, nothing to do")),
    Outcome.FAILED: (messages.ERROR, _("Failed, will be retried")),
    Outcome.CONFLICT: (
        messages.WARNING,
        _(
            "In conflict: never solved by creating another profile here; the action "
            '"Give a working profile again…" is the operator\'s tool'
        ),
    ),
    Outcome.REVOKED: (
        messages.WARNING,
        _(
            'Token revoked: the action "Give a working profile again…" keeps the profile '
            "where it can, and replaces it only if you confirm"
        ),
    ),
    Outcome.BUSY: (messages.INFO, _("Being created by another request right now")),
    Outcome.SCHEDULED: (messages.INFO, _("Scheduled for when the current transaction commits")),
    Outcome.GONE: (messages.INFO, _("The user was deleted meanwhile")),
    Outcome.EXCLUDED: (messages.INFO, _('LIVELIKE["PROVISION_IF"] gives this account none')),
}

_SYNC_MESSAGES = {
    SyncOutcome.REFRESHED: (messages.SUCCESS, _("Refreshed from LiveLike")),
    SyncOutcome.REVOKED: (messages.WARNING, _("LiveLike refuses the token: marked revoked")),
    SyncOutcome.RESTORED: (messages.SUCCESS, _("The token works again: active again")),
    SyncOutcome.MISMATCH: (messages.ERROR, _("The token reads another profile: left as it is")),
    SyncOutcome.UNREADABLE: (
        messages.ERROR,
        _("The stored token cannot be decrypted (a key is missing)"),
    ),
    SyncOutcome.ERROR: (messages.ERROR, _("LiveLike failed: left as it is")),
    SyncOutcome.CHANGED: (messages.INFO, _("Changed meanwhile: left as it is")),
    SyncOutcome.SKIPPED: (messages.INFO, _("Not active: nothing to refresh")),
}


_REPAIR_MESSAGES = {
    RepairOutcome.KEPT: (
        messages.SUCCESS,
        _("Working again with the same profile (its tokens are now minted)"),
    ),
    RepairOutcome.REPLACED: (
        messages.SUCCESS,
        _(
            "Working again with a new profile (the old one's points, history and nickname stay "
            "behind)"
        ),
    ),
    RepairOutcome.STARTED_OVER: (
        messages.WARNING,
        _("Started over for a new profile; making it failed and is retried later"),
    ),
    RepairOutcome.REFUSED: (
        messages.WARNING,
        _("Needs a new profile, which was not allowed: left as it is"),
    ),
    RepairOutcome.NOTHING: (messages.INFO, _("Nothing to repair")),
    RepairOutcome.ERROR: (messages.ERROR, _("Not repaired, nothing changed")),
    RepairOutcome.CHANGED: (messages.INFO, _("Changed meanwhile: left as it is")),
}

# The history entry of each row a repair changed.
_REPAIR_HISTORY = {
    RepairOutcome.KEPT: _("Given a working profile again: the same profile, tokens minted"),
    RepairOutcome.REPLACED: _("Given a working profile again: a new profile"),
    RepairOutcome.STARTED_OVER: _("Started over for a new profile"),
}


def limited(modeladmin: Any, request: HttpRequest, queryset: Any) -> list[Any] | None:
    """The selected objects, or ``None`` (with a message) when there are too many for a request."""
    objects = list(queryset[: MAX_ROWS_PER_ACTION + 1])
    if len(objects) > MAX_ROWS_PER_ACTION:
        modeladmin.message_user(
            request,
            gettext(
                "At most %(limit)d rows at a time here; nothing was done. For more, use "
                "manage.py livelike_provision or livelike_sync."
            )
            % {"limit": MAX_ROWS_PER_ACTION},
            messages.ERROR,
        )
        return None
    return objects


def report_provisioning(
    modeladmin: Any, request: HttpRequest, results: list[UserResult], users: dict[Any, Any]
) -> None:
    """One message per outcome naming its users; a history entry on each profile created."""
    for outcome, group in _grouped(results, lambda r: r.outcome).items():
        level, text = _PROVISION_MESSAGES[outcome]
        named = _named(text, [users.get(r.user_pk) for r in group], group)
        modeladmin.message_user(request, named, level)
    created = [r.user_pk for r in results if r.outcome == Outcome.CREATED]
    _log(
        request,
        LiveLikeProfile.objects.filter(user_id__in=created),
        _("Provisioned from the admin"),
    )


def report_refresh(
    modeladmin: Any,
    request: HttpRequest,
    rows: list[LiveLikeProfile],
    results: list[SyncResult],
    was_active: set[Any],
) -> None:
    """One message per outcome naming its users; history for the status changes only.

    ``was_active``: the primary keys of the rows that were active before the
    refresh (a row found still revoked is not a change).
    """
    by_pk = {row.pk: row for row in rows}
    for outcome, group in _grouped(results, lambda r: r.outcome).items():
        level, text = _SYNC_MESSAGES[outcome]
        named = _named(text, [by_pk[r.profile_pk].user for r in group], group)
        modeladmin.message_user(request, named, level)
    for outcome in (SyncOutcome.REVOKED, SyncOutcome.RESTORED):
        changed = [
            by_pk[r.profile_pk]
            for r in results
            if r.outcome == outcome
            and (outcome != SyncOutcome.REVOKED or r.profile_pk in was_active)
        ]
        _log(request, changed, _SYNC_MESSAGES[outcome][1])


def report_repair(
    modeladmin: Any, request: HttpRequest, rows: list[LiveLikeProfile], results: list[RepairResult]
) -> None:
    """One message per outcome naming its users; a history entry on each row changed."""
    by_pk = {row.pk: row for row in rows}
    for outcome, group in _grouped(results, lambda r: r.outcome).items():
        level, text = _REPAIR_MESSAGES[outcome]
        named = _named(text, [by_pk[r.profile_pk].user for r in group], group)
        modeladmin.message_user(request, named, level)
    for outcome, message in _REPAIR_HISTORY.items():
        _log(request, [by_pk[r.profile_pk] for r in results if r.outcome == outcome], message)


def _log(request: HttpRequest, rows: Iterable[LiveLikeProfile], message: Any) -> None:
    """Admin history entries for ``rows`` (who did what; never anything secret)."""
    rows = list(rows)
    if rows and request.user.pk is not None:  # always: the admin needs a logged-in user
        LogEntry.objects.log_actions(
            user_id=request.user.pk, queryset=rows, action_flag=CHANGE, change_message=str(message)
        )


def _grouped(results: Iterable[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = {}
    for result in results:
        grouped.setdefault(key(result), []).append(result)
    return grouped


def _named(
    text: Any, users: list[Any], results: list[UserResult | SyncResult | RepairResult]
) -> str:
    """``text``, then the users it applies to (and their error, for failures), capped."""
    parts = []
    for user, result in list(zip(users, results, strict=True))[:MAX_NAMED_PER_MESSAGE]:
        name = user.get_username() if user is not None else str(result.user_pk)
        detail = getattr(result, "detail", "")
        parts.append(f"{name} ({detail})" if detail else name)
    more = len(users) - MAX_NAMED_PER_MESSAGE
    if more > 0:
        parts.append(ngettext("and %d more", "and %d more", more) % more)
    return f"{text}: {', '.join(parts)}"
