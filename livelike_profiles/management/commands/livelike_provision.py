"""``manage.py livelike_provision``: backfill LiveLike profiles for existing users.

A thin wrapper over :mod:`livelike_profiles.sync.backfill`; see docs/reference/commands.md
for the options, and that module for how several copies split the work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import time as dt_time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from livelike_profiles.sync.backfill import (
    BackfillReport,
    backfill,
    enqueue_backfill,
    locks_batches,
    needing_profile,
    select_users,
)

from ..arguments import add_users_argument, add_worker_arguments, users_option, worker_options
from ..output import progress_reporter, table


def parse_since(value: str) -> datetime:
    """An ISO date or date-time; a date means its midnight in the current time zone.

    As the database compares it: aware, in UTC, with ``USE_TZ``; naive, in the
    current time zone, without.
    """
    problem = f"--since: {value!r} is not a date (YYYY-MM-DD) or ISO date-time"
    try:
        # Both raise ValueError for a well-formed impossible date (2024-02-30).
        moment = parse_datetime(value)
        day = parse_date(value) if moment is None else None
    except ValueError as error:
        raise CommandError(f"{problem}: {error}") from None
    if moment is None:
        if day is None:
            raise CommandError(problem)
        moment = datetime.combine(day, dt_time.min)
    try:
        if not settings.USE_TZ:
            # The database takes no aware date-time then (SQLite refuses one).
            return timezone.make_naive(moment) if timezone.is_aware(moment) else moment
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        # Converted here, where it can be refused, not in the query: midnight of
        # 0001-01-01 in Tokyo is in year 0 in UTC.
        return moment.astimezone(UTC)
    except OverflowError:
        zone = "UTC" if settings.USE_TZ else timezone.get_current_timezone_name()
        raise CommandError(
            f"--since: {value!r} is out of range: in {zone} it falls outside the years 1 to 9999"
        ) from None


class Command(BaseCommand):
    help = (
        "Create LiveLike profiles for existing users who have none (active users unless "
        "--include-inactive). "
        "Safe to rerun and to run on several machines at once; exits with status 1 if any "
        "user failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--include-inactive",
            "--all",  # its older name, kept working
            action="store_true",
            dest="include_inactive",
            help="Include deactivated users (is_active=False), skipped by default. "
            "--all is an older name for it.",
        )
        parser.add_argument(
            "--since",
            metavar="DATE",
            help="Only users who logged in on or after DATE (YYYY-MM-DD or ISO date-time).",
        )
        add_users_argument(
            parser,
            help="Only these user ids (primary keys; spaces or commas between them). "
            "Inactive users named here are included.",
        )
        add_worker_arguments(
            parser,
            concurrency_help="Threads calling LiveLike at once, sharing one connection pool; "
            "each uses a database connection",
            batch_help="Users read (and, on PostgreSQL or MariaDB/MySQL, claimed) per batch",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help='Enqueue the work on LIVELIKE["TASK_BACKEND"] instead, a task per batch of '
            "--batch-size users, for the site's workers to share; returns at once.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the users who would be provisioned; change nothing, call nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        concurrency, batch_size = worker_options(options)
        since = parse_since(options["since"]) if options["since"] else None
        users = select_users(
            include_inactive=options["include_inactive"],
            since=since,
            user_pks=users_option(options, must_exist=True),
        )
        verbosity = options["verbosity"]

        if options["dry_run"]:
            self._dry_run(users, verbosity)
            return
        if options["enqueue"]:
            self._enqueue(users, batch_size, verbosity)
            return

        if verbosity >= 1:
            mode = (
                "batches claimed, so several copies may run at once"
                if locks_batches(users.db)
                else "batches not claimed on this database: run one copy at a time"
            )
            self.stdout.write(
                f"Provisioning LiveLike profiles: concurrency {concurrency}, "
                f"batches of {batch_size}, {mode}."
            )

        on_result, finish = progress_reporter(
            self.stdout, verbosity, total=lambda report: report.to_do, counts=_counts
        )
        report = backfill(
            users, concurrency=concurrency, batch_size=batch_size, on_result=on_result
        )
        finish(report)
        if verbosity >= 1:
            self._summary(report)
        if report.interrupted:
            raise CommandError("Interrupted: run the command again to go on where it stopped.")
        if report.failed:
            raise CommandError(
                f"{report.failed} user(s) failed; run the command again to retry them."
            )

    def _enqueue(self, users: Any, batch_size: int, verbosity: int) -> None:
        try:
            queued, tasks = enqueue_backfill(users, batch_size)
        except LookupError as error:
            raise CommandError(f"--enqueue: {error}.") from None
        if verbosity >= 1:
            self.stdout.write(table([("users enqueued", queued), ("tasks (batches)", tasks)]))

    def _dry_run(self, users: Any, verbosity: int) -> None:
        selected = users.count()
        todo = needing_profile(users)
        count = todo.count()
        if verbosity >= 1:
            self.stdout.write("Dry run: nothing is created or changed.")
            self.stdout.write(
                table(
                    [
                        ("users selected", selected),
                        ("would be provisioned", count),
                        ("would be skipped (profile exists)", selected - count),
                    ]
                )
            )
        if verbosity >= 2 and count:
            first = list(todo.order_by("pk").values_list("pk", flat=True)[:50])
            more = f" and {count - len(first)} more" if count > len(first) else ""
            self.stdout.write("User ids: " + ", ".join(map(str, first)) + more)

    def _summary(self, report: BackfillReport) -> None:
        rate = report.done / report.elapsed if report.elapsed > 0 else 0.0
        self.stdout.write(
            table(
                [
                    ("users selected", report.selected),
                    ("created", report.created),
                    ("failed", report.failed),
                    ("skipped (already had a profile)", report.selected - report.to_do),
                    ("skipped (done or in progress elsewhere)", report.skipped_during_run),
                    ("not reached (interrupted)", report.to_do - report.done),
                    ("seconds", f"{report.elapsed:.1f}"),
                    ("users per second", f"{rate:.1f}"),
                ]
            )
        )
        for failure in report.failures:
            self.stdout.write(
                f"  user {failure.user_pk}: {failure.outcome}: {failure.detail or '-'}"
            )
        if report.failed > len(report.failures):
            self.stdout.write(f"  ... and {report.failed - len(report.failures)} more")


def _counts(report: BackfillReport) -> str:
    return f"created {report.created}  failed {report.failed}  skipped {report.skipped_during_run}"
