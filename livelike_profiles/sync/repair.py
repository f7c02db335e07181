"""A working profile again for a ``revoked`` or ``conflict`` row, or one whose token is lost.

The admin's "Give a working profile again…" and ``livelike_sync --repair``.
:func:`plan` says what would be done to a row, :func:`repair` does it:

- **the same profile**: a token the site signs with ``CLIENT_SECRET`` for the
  row's custom id acts as the profile LiveLike has for that custom id. LiveLike
  *creates* a profile at the first use of such a token for a custom id it does
  not know, so this is done only once the admin token's lookup by custom id
  (which creates nothing) shows LiveLike still has it, the row's own if the
  row knows its id. The row becomes ``active`` and mints its tokens.
- **a new profile**: only when the operator allows it. The old profile's
  points, history and nickname stay behind at LiveLike. The row starts over
  with a new custom id and is provisioned through ``ensure_profile``.
- **nothing**: any other row (an active one, or one provisioning retries).

Never raises for LiveLike trouble: a lookup that fails changes nothing, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, router
from django.db.models import Q, QuerySet

from ..conf import conf
from ..exceptions import LiveLikeError, LiveLikeRejected, UnreadableTokenError, describe_error
from ..livelike.client import RemoteProfile, get_client
from ..models import LiveLikeProfile
from ..provisioning.custom_ids import new_custom_id
from ..support.transactions import savepoint
from ..tokens import minting as tokens
from .backfill import Outcome as Provisioned
from .backfill import provision_user
from .concurrency import RunReport, check_batch_size, in_pk_batches

Status = LiveLikeProfile.Status

#: What a row that needs nothing from an operator is left to, by status.
NOTHING_TO_DO: dict[str, str] = {
    Status.ACTIVE: "active and usable: nothing to repair",
    Status.PENDING: (
        "being created, or waiting for its first attempt: nothing to repair "
        '("Provision or retry now" takes over a claim whose process died)'
    ),
    Status.FAILED: (
        "retried automatically after its backoff: nothing to repair "
        '("Provision or retry now", or livelike_provision, retries it at once)'
    ),
}

RECOVERED_BY_PROVISIONING = (
    "a conflict that provisioning recovers by itself now that CLIENT_SECRET is set (LiveLike's "
    '409 shows it has the profile, and a minted token reads it): "Provision or retry now", '
    "or livelike_provision, does it at once"
)

STARTED_OVER = "Started over by an operator: the next attempt creates a new LiveLike profile"


class Action(StrEnum):
    """What :func:`repair` would do to a row."""

    SAME_PROFILE = "same profile"  # mint tokens for the profile LiveLike still has
    NEW_PROFILE = "new profile"  # start over, if the operator allows it
    NOTHING = "nothing"  # nothing to repair
    UNKNOWN = "unknown"  # LiveLike could not be asked: nothing is done now


@dataclass(frozen=True)
class Plan:
    """What would be done to ``row``, why, and what it would lose (never a token)."""

    row: LiveLikeProfile
    action: Action
    reason: str
    loses: str = ""
    profile_id: str | None = None  # SAME_PROFILE: the profile kept


class RepairOutcome(StrEnum):
    """What :func:`repair` did to a row."""

    KEPT = "kept"  # the same profile, its tokens minted from now on
    REPLACED = "replaced"  # started over, and the new profile made
    STARTED_OVER = "started over"  # started over; making the new profile failed, retried later
    REFUSED = "refused"  # needs a new profile, which the operator did not allow: nothing done
    NOTHING = "nothing"  # nothing to repair
    ERROR = "error"  # LiveLike could not be asked, or the profile is another row's: nothing done
    CHANGED = "changed"  # the row changed meanwhile: left to the newer writer


@dataclass(frozen=True)
class RepairResult:
    """One row's repair; ``detail`` is a short, token-free description."""

    profile_pk: Any
    user_pk: Any
    outcome: RepairOutcome
    detail: str = ""


# -- the plan --------------------------------------------------------------------------


def needs_repair(row: LiveLikeProfile) -> bool:
    """Whether the row is an operator's: ``revoked``, ``conflict``, or its token is lost.

    A ``conflict`` is one even with a client secret (provisioning would
    recover it too); an active row only when its stored token cannot be
    decrypted and nothing can be minted in its place.
    """
    if row.status in (Status.REVOKED, Status.CONFLICT):
        return True
    return row.status == Status.ACTIVE and has_unreadable_token(row)


def has_unreadable_token(row: LiveLikeProfile) -> bool:
    """Whether no token can be had for the row: stored under a key no longer configured."""
    try:
        row.credential()
    except UnreadableTokenError:
        return True
    return False


def _recovered_by_provisioning(row: LiveLikeProfile) -> bool:
    """A ``conflict`` provisioning recovers (with a client secret), none of ours to check first.

    Without ``API_TOKEN`` there is no lookup to check the profile with here;
    provisioning's create by custom id checks it instead (a 409: it exists).
    """
    return (
        row.status == Status.CONFLICT
        and bool(row.custom_id)
        and tokens.can_mint()
        and not conf.API_TOKEN
    )


@dataclass(frozen=True)
class _Found:
    """What LiveLike has for the row's custom id; ``asked`` false (and ``why``) if not asked."""

    profile: RemoteProfile | None = None
    asked: bool = True
    why: str = ""


def plan(row: LiveLikeProfile) -> Plan:
    """What :func:`repair` would do to ``row`` now: one lookup at LiveLike at most, no write."""
    if not needs_repair(row):
        return Plan(row, Action.NOTHING, NOTHING_TO_DO.get(row.status, "nothing to repair"))
    if _recovered_by_provisioning(row):
        return Plan(row, Action.NOTHING, RECOVERED_BY_PROVISIONING)
    try:
        found = _look_up(row)
    except LiveLikeError as error:
        reason = (
            f"LiveLike could not be asked whether it still has the profile "
            f"({describe_error(error, in_report=True)}): nothing is done; try again later"
        )
        return Plan(row, Action.UNKNOWN, reason)
    return _same_profile(row, found) or _new_profile(row, found)


def _look_up(row: LiveLikeProfile) -> _Found:
    """The profile LiveLike has for the row's custom id (the admin token's lookup creates none)."""
    if not row.custom_id:
        return _Found(asked=False, why="the row has no custom id to mint a token for")
    if not conf.API_TOKEN:
        return _Found(asked=False, why='no LIVELIKE["API_TOKEN"] to look the profile up with')
    try:
        return _Found(get_client().get_profile_by_custom_id(row.custom_id))
    except LiveLikeRejected as error:
        if error.status_code == 404 and error.errors:  # LiveLike's own JSON 404: it has none
            return _Found(None)
        raise


def _same_profile(row: LiveLikeProfile, found: _Found) -> Plan | None:
    """The plan to keep the profile: LiveLike has it, it is the row's, tokens can be minted."""
    profile = found.profile
    if profile is None or not tokens.can_mint():
        return None
    if row.profile_id and profile.id != row.profile_id:
        return None
    reason = (
        f"LiveLike still has profile {profile.id} for the row's custom id: tokens minted "
        "with CLIENT_SECRET act as it"
    )
    return Plan(row, Action.SAME_PROFILE, reason, profile_id=profile.id)


def _new_profile(row: LiveLikeProfile, found: _Found) -> Plan:
    """The plan to start over: why the profile cannot be kept, and what is lost."""
    return Plan(row, Action.NEW_PROFILE, _why_not_kept(row, found), _what_is_lost(row, found))


def _why_not_kept(row: LiveLikeProfile, found: _Found) -> str:
    prefix = ""
    if row.status == Status.ACTIVE:  # only one whose token is unreadable needs repair
        prefix = (
            "the stored token cannot be decrypted with any configured key (if the key "
            "still exists, put it back in SECRET_KEY_FALLBACKS or ENCRYPTION_KEYS instead); "
        )
    if not row.custom_id:
        why = found.why
    elif not tokens.can_mint():
        why = 'no LIVELIKE["CLIENT_SECRET"] to mint a token for the profile LiveLike has'
    elif not found.asked:
        why = (
            f"{found.why}: nothing shows LiveLike still has the profile, and a minted token "
            "would silently create a new one if it has not"
        )
    elif found.profile is None:
        why = "LiveLike has no profile for the row's custom id any more"
    else:
        why = (
            f"LiveLike's profile for the row's custom id is {found.profile.id}, "
            f"not the row's {row.profile_id}"
        )
    return prefix + why


def _what_is_lost(row: LiveLikeProfile, found: _Found) -> str:
    if found.asked and found.profile is None and row.custom_id:
        return (
            "Nothing more: the old profile is gone from LiveLike already, and with it "
            "its points, history and nickname."
        )
    old = found.profile.id if found.profile else row.profile_id
    named = f"The old profile ({old})" if old else "The profile LiveLike has for the old custom id"
    return (
        f"{named} stays at LiveLike, unused: its points, history and nickname are not "
        "carried over to the new one."
    )


# -- carrying it out -------------------------------------------------------------------


def repair(row: LiveLikeProfile, *, allow_new_profiles: bool = False) -> RepairResult:
    """Plan and carry out the repair of ``row`` (read just now); a new profile only if allowed."""
    return carry_out(plan(row), allow_new_profiles=allow_new_profiles)


def carry_out(plan: Plan, *, allow_new_profiles: bool = False) -> RepairResult:
    """Do what ``plan`` says; each write is conditional on the row as it was planned."""
    row = plan.row
    if plan.action == Action.SAME_PROFILE and plan.profile_id:
        return _keep(row, plan.profile_id)
    if plan.action == Action.NEW_PROFILE and allow_new_profiles:
        return _start_over(row)
    if plan.action == Action.NEW_PROFILE:
        detail = f"needs a new profile, not allowed: {plan.reason}"
        return _result(row, RepairOutcome.REFUSED, detail)
    if plan.action == Action.UNKNOWN:
        return _result(row, RepairOutcome.ERROR, plan.reason)
    return _result(row, RepairOutcome.NOTHING, plan.reason)


def _keep(row: LiveLikeProfile, profile_id: str) -> RepairResult:
    try:
        with savepoint(router.db_for_write(LiveLikeProfile)):
            written = LiveLikeProfile.objects.keep_profile_minting(row, profile_id)
    except IntegrityError:
        return _result(row, RepairOutcome.ERROR, f"profile {profile_id} is another row's")
    if not written:
        return _result(row, RepairOutcome.CHANGED, "the row changed meanwhile; left as it is")
    return _result(
        row, RepairOutcome.KEPT, f"profile {profile_id} kept; its tokens are minted from now on"
    )


def _start_over(row: LiveLikeProfile) -> RepairResult:
    user = row.user
    custom_id = new_custom_id(user) if conf.CUSTOM_IDS else None
    if not LiveLikeProfile.objects.start_over(row, custom_id, STARTED_OVER):
        return _result(row, RepairOutcome.CHANGED, "the row changed meanwhile; left as it is")
    # Asked by an operator, for this one user: PROVISION_IF is not (the admin's actions).
    provisioned = provision_user(user, status=Status.FAILED, honour_provision_if=False)
    now = LiveLikeProfile.objects.of_pk(row.pk)
    if provisioned.outcome in (Provisioned.CREATED, Provisioned.ACTIVE) and now is not None:
        made = now.profile_id or "(its id is learned at its token's first use)"
        return _result(row, RepairOutcome.REPLACED, f"new profile {made}")
    detail = provisioned.detail or str(provisioned.outcome)
    return _result(row, RepairOutcome.STARTED_OVER, f"making the new profile: {detail}")


def _result(row: LiveLikeProfile, outcome: RepairOutcome, detail: str) -> RepairResult:
    return RepairResult(row.pk, row.user_id, outcome, detail)


# -- many rows (the command) ---------------------------------------------------------------


def repairable() -> QuerySet[LiveLikeProfile]:
    """The rows an operator may have to repair: ``revoked``, ``conflict``, and tokens maybe lost.

    Active rows with a stored token are included only where none can be
    minted in its place (no client secret, or no custom id): whether their
    token decrypts is seen row by row.
    """
    lost = Q(status=Status.ACTIVE) & ~Q(access_token="")
    if tokens.can_mint():
        lost &= Q(custom_id__isnull=True)
    return LiveLikeProfile.objects.filter(Q(status__in=[Status.REVOKED, Status.CONFLICT]) | lost)


@dataclass
class RepairReport(RunReport[RepairOutcome, RepairResult]):
    """Counts of a repair run."""

    OUTCOMES = RepairOutcome

    @property
    def failed(self) -> int:
        """Rows left without a working profile that the operator asked to repair."""
        return sum(
            self.counts[outcome]
            for outcome in (
                RepairOutcome.REFUSED,
                RepairOutcome.ERROR,
                RepairOutcome.STARTED_OVER,
            )
        )


def repair_rows(
    rows: QuerySet[LiveLikeProfile],
    *,
    allow_new_profiles: bool = False,
    batch_size: int = 200,
    on_result: Callable[[RepairResult], None] | None = None,
) -> RepairReport:
    """Repair each row of ``rows`` in turn, in primary-key order; ``on_result`` after each.

    Ctrl-C stops before the next row; the report then says ``interrupted``.
    """
    check_batch_size(batch_size)
    report = RepairReport()
    try:
        for batch in in_pk_batches(rows.select_related("user"), batch_size):
            for row in batch:
                result = repair(row, allow_new_profiles=allow_new_profiles)
                report.add(result)
                if on_result is not None:
                    on_result(result)
    except KeyboardInterrupt:
        report.interrupted = True
    return report
