"""``manage.py livelike_rotate_keys``: re-encrypt every stored token with the current key.

A thin wrapper over :mod:`livelike_profiles.tokens.key_rotation`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from livelike_profiles.tokens.key_rotation import RotationReport, UnreadableTokens, rotate

from ..output import Progress, table


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored LiveLike access token with the current (first) key, so older "
        "keys can be retired. Refuses, changing nothing, if any token cannot be decrypted by "
        "a configured key. Safe to interrupt and rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            metavar="N",
            help="Rows read and updated per batch, one transaction each (default 500).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only check and count; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        verbosity = options["verbosity"]
        progress: Progress | None = None

        def on_progress(report: RotationReport) -> None:
            nonlocal progress
            if progress is None:
                progress = Progress(self.stdout, report.to_rotate)
            done = report.rotated + report.changed
            progress.update(done, f"re-encrypted {report.rotated}")

        try:
            report = rotate(
                options["batch_size"],
                dry_run=options["dry_run"],
                on_progress=on_progress if verbosity >= 1 else None,
            )
        except UnreadableTokens as error:
            raise CommandError(str(error)) from None
        if progress is not None:
            progress.close()
        if verbosity < 1:
            return
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
        self.stdout.write(
            table(
                [
                    ("tokens stored", report.stored),
                    ("already under the current key", report.current),
                    (
                        "would be re-encrypted" if options["dry_run"] else "re-encrypted",
                        report.to_rotate if options["dry_run"] else report.rotated,
                    ),
                    ("rewritten meanwhile (already current)", report.changed),
                ]
            )
        )
