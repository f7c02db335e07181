"""``manage.py livelike_sync``: erase deleted users' profiles, then refresh the others.

A thin wrapper over :mod:`livelike_profiles.erasure.erasing` and
:mod:`livelike_profiles.sync.refresh`. It never creates or replaces a
profile: a revoked token is marked and reported, for an operator. That
operator's tool is ``--repair`` (:mod:`livelike_profiles.sync.repair`, run instead
of the sync): the same profile where a minted token can be checked to act as
it, a new one only with ``--allow-new-profiles``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from livelike_profiles.conf import MAX_SECONDS
from livelike_profiles.erasure.erasing import Erased, ErasureReport, erase_due
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.sync.refresh import SyncOutcome, SyncReport, sync_profiles, syncable
from livelike_profiles.sync.repair import RepairOutcome, RepairReport, RepairResult, repair_rows
from livelike_profiles.sync.repair import repairable as repairable_rows

from ..arguments import add_users_argument, add_worker_arguments, users_option, worker_options
from ..output import progress_reporter, table

# Ten years: more is no different (nothing synced before then), and NaN, infinity or
# 1e300 hours would fail in the date arithmetic with a traceback.
MAX_STALE_HOURS = MAX_SECONDS // 3600


class Command(BaseCommand):
    help = (
        "Erase at LiveLike the profiles of deleted users still owed (ON_USER_DELETE), then "
        "refresh nickname and status of active LiveLike profiles from LiveLike. A token "
        "LiveLike refuses (401/403) marks the row 'revoked' and is reported; nothing is "
        "ever re-created. Exits with status 1 if any profile could not be checked or erased. "
        "With --repair, instead: give revoked and conflict rows (and tokens no key decrypts) a "
        "working profile again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--include-revoked",
            action="store_true",
            help="Also re-check rows marked revoked (one whose token works again is restored).",
        )
        parser.add_argument(
            "--stale-hours",
            type=float,
            metavar="H",
            help="Only profiles not synced in the last H hours (rerun with it to resume).",
        )
        parser.add_argument(
            "--repair",
            action="store_true",
            help=(
                "Instead of syncing: give each revoked or conflict row (and each active row whose "
                "token no configured key decrypts) a working profile again. The same profile, "
                "its tokens minted, where CLIENT_SECRET can mint and LiveLike (asked with "
                "API_TOKEN) still has it; otherwise the row is listed with what a new profile "
                "would lose."
            ),
        )
        parser.add_argument(
            "--allow-new-profiles",
            action="store_true",
            help=(
                "With --repair: start the rows that cannot keep their profile over with a new "
                "one. The old profile's points, history and nickname are not carried over."
            ),
        )
        add_users_argument(
            parser, help="Only the profiles of these user ids (spaces or commas between them)."
        )
        add_worker_arguments(
            parser,
            concurrency_help="Calls to LiveLike at once (--repair: one row at a time)",
            batch_help="Profiles read per batch",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        concurrency, batch_size = worker_options(options)
        if options["repair"] or options["allow_new_profiles"]:
            self._repair(options, batch_size)
            return
        rows = syncable(
            include_revoked=options["include_revoked"], stale_before=_stale_before(options)
        )
        user_pks = users_option(options, must_exist=True)
        if user_pks is not None:
            rows = rows.filter(user_id__in=user_pks)
        verbosity = options["verbosity"]
        # Deleted users' profiles first: they are owed to LiveLike (a --users run
        # is about those users only, and deleted users have none).
        erasures = self._erase(verbosity) if user_pks is None else None

        on_result, finish = progress_reporter(
            self.stdout, verbosity, total=lambda report: report.total, counts=_counts
        )
        report = sync_profiles(
            rows, concurrency=concurrency, batch_size=batch_size, on_result=on_result
        )
        finish(report)
        if verbosity >= 1:
            self._summary(report)
        if report.interrupted:
            raise CommandError("Interrupted: run again (with --stale-hours to skip done rows).")
        if problems := _problems(erasures, report):
            raise CommandError("; ".join(problems) + "; see above.")

    def _repair(self, options: dict[str, Any], batch_size: int) -> None:
        """``--repair``: each row, what was done to it, then counts; status 1 if any is left."""
        _check_repair_options(options)
        rows = repairable_rows()
        user_pks = users_option(options, must_exist=True)
        if user_pks is not None:
            # Named users: whatever their rows' status (those with nothing to repair say so).
            rows = LiveLikeProfile.objects.filter(user_id__in=user_pks)
        verbosity = options["verbosity"]

        def said(result: RepairResult) -> None:
            if verbosity >= 1:
                self.stdout.write(_repair_line(result))

        allow = options["allow_new_profiles"]
        report = repair_rows(rows, allow_new_profiles=allow, batch_size=batch_size, on_result=said)
        if verbosity >= 1:
            self._repair_summary(report)
        if report.interrupted:
            raise CommandError("Interrupted: run again to go on with the rows left.")
        if report.failed:
            raise CommandError(_repair_problems(report))

    def _repair_summary(self, report: RepairReport) -> None:
        rows: list[tuple[str, Any]] = [("rows looked at", report.done)]
        rows += [(REPAIR_LABELS[outcome], report.counts[outcome]) for outcome in RepairOutcome]
        self.stdout.write(table(rows))

    def _erase(self, verbosity: int) -> ErasureReport:
        """Work off the erasures due, say how it went, and stop here if it was interrupted."""
        erasures = erase_due()
        if verbosity >= 1:
            self._erasure_summary(erasures)
        if erasures.interrupted:
            raise CommandError("Interrupted: run the command again to go on where it stopped.")
        return erasures

    def _erasure_summary(self, report: ErasureReport) -> None:
        rows: list[tuple[str, Any]] = [
            ("deleted users' profiles erased", report.counts[Erased.ERASED]),
            ("already gone at LiveLike", report.counts[Erased.GONE]),
            ("erasures failed (retried later)", report.counts[Erased.FAILED]),
            ("erasures still pending", report.remaining),
        ]
        if report.interrupted:
            rows.append(("not reached (interrupted)", report.not_reached))
        self.stdout.write(table(rows))

    def _summary(self, report: SyncReport) -> None:
        labels = {
            SyncOutcome.REFRESHED: "refreshed",
            SyncOutcome.REVOKED: "token refused (revoked)",
            SyncOutcome.RESTORED: "token works again (restored)",
            SyncOutcome.MISMATCH: "token reads another profile",
            SyncOutcome.UNREADABLE: "token unreadable (key missing)",
            SyncOutcome.ERROR: "LiveLike error",
            SyncOutcome.CHANGED: "changed meanwhile (left as is)",
            SyncOutcome.SKIPPED: "skipped",
        }
        rows: list[tuple[str, Any]] = [("profiles checked", report.total)]
        rows += [(labels[outcome], report.counts[outcome]) for outcome in SyncOutcome]
        if report.interrupted:
            rows.append(("not reached (interrupted)", report.total - report.done))
        self.stdout.write(table(rows))
        for result in report.notable:
            self.stdout.write(
                f"  user {result.user_pk} (profile row {result.profile_pk}): "
                f"{labels[result.outcome]}: {result.detail}"
            )
        more = sum(report.counts[o] for o in SyncReport.NOTABLE) - len(report.notable)
        if more > 0:
            self.stdout.write(f"  ... and {more} more")
        if report.counts[SyncOutcome.REVOKED]:
            self.stdout.write(
                "  Revoked rows: livelike_sync --repair gives them a working profile again."
            )


REPAIR_LABELS = {
    RepairOutcome.KEPT: "same profile kept (tokens minted)",
    RepairOutcome.REPLACED: "new profile made",
    RepairOutcome.STARTED_OVER: "started over, new profile not made yet",
    RepairOutcome.REFUSED: "need a new profile (--allow-new-profiles)",
    RepairOutcome.NOTHING: "nothing to repair",
    RepairOutcome.ERROR: "could not be repaired now",
    RepairOutcome.CHANGED: "changed meanwhile (left as is)",
}


def _check_repair_options(options: dict[str, Any]) -> None:
    """Usage errors (status 2): options of the sync with ``--repair``, or its own without it."""
    if not options["repair"]:
        raise CommandError("--allow-new-profiles goes with --repair", returncode=2)
    if options["include_revoked"] or options["stale_hours"] is not None:
        raise CommandError(
            "--repair does not sync: --include-revoked and --stale-hours do not apply",
            returncode=2,
        )


def _repair_line(result: RepairResult) -> str:
    return (
        f"  user {result.user_pk} (profile row {result.profile_pk}): "
        f"{REPAIR_LABELS[result.outcome]}: {result.detail}"
    )


def _repair_problems(report: RepairReport) -> str:
    problems = []
    if refused := report.counts[RepairOutcome.REFUSED]:
        problems.append(
            f"{refused} row(s) need a new profile: rerun with --allow-new-profiles to make them "
            "(their old profiles' points, history and nickname are not carried over)"
        )
    if errors := report.counts[RepairOutcome.ERROR]:
        problems.append(f"{errors} row(s) could not be repaired now")
    if waiting := report.counts[RepairOutcome.STARTED_OVER]:
        problems.append(f"{waiting} new profile(s) not made yet (retried later)")
    return "; ".join(problems) + "; see above."


def _stale_before(options: dict[str, Any]) -> datetime | None:
    """``--stale-hours`` as the moment before which a sync is stale (``None``: not given)."""
    hours = options["stale_hours"]
    if hours is None:
        return None
    if not 0 <= hours <= MAX_STALE_HOURS:  # NaN fails it too
        raise CommandError(f"--stale-hours must be from 0 to {MAX_STALE_HOURS:,}")
    return timezone.now() - timedelta(hours=hours)


def _problems(erasures: ErasureReport | None, report: SyncReport) -> list[str]:
    """What makes the command exit with status 1: failed erasures, profiles not checked."""
    problems = []
    if erasures is not None and erasures.failed:
        problems.append(f"{erasures.failed} erasure(s) failed and will be retried")
    if report.failed:
        problems.append(f"{report.failed} profile(s) could not be checked")
    return problems


def _counts(report: SyncReport) -> str:
    return (
        f"refreshed {report.counts[SyncOutcome.REFRESHED]}  "
        f"revoked {report.counts[SyncOutcome.REVOKED]}  failed {report.failed}"
    )
