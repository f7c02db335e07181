"""``manage.py livelike_sync``: erase deleted users' profiles, then refresh the others.

A thin wrapper over :mod:`livelike_profiles.erasure` and
:mod:`livelike_profiles.refresh_from_livelike`. It never creates or replaces a
profile: a revoked token is marked and reported, for an operator.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from livelike_profiles.conf import MAX_SECONDS
from livelike_profiles.erasure import Erased, ErasureReport, erase_due
from livelike_profiles.refresh_from_livelike import SyncOutcome, SyncReport, sync_profiles, syncable

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
        "ever re-created. Exits with status 1 if any profile could not be checked or erased."
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
        add_users_argument(
            parser, help="Only the profiles of these user ids (spaces or commas between them)."
        )
        add_worker_arguments(
            parser,
            concurrency_help="Calls to LiveLike at once",
            batch_help="Profiles read per batch",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        concurrency, batch_size = worker_options(options)
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
