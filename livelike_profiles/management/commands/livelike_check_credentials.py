"""``manage.py livelike_check_credentials``: whether LiveLike accepts the site's credentials.

A thin wrapper over :mod:`livelike_profiles.sync.credentials`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from livelike_profiles.sync.credentials import check_credentials

_SAID = {True: "ok", False: "FAILED", None: "not tried"}


class Command(BaseCommand):
    help = (
        "Check LIVELIKE's credentials against LiveLike without creating a profile: the "
        "application (CLIENT_ID, API_URL) and the admin token (API_TOKEN); with --minted, the "
        "client secret too. Exits with status 1 if LiveLike refused any."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--minted",
            action="store_true",
            help="Also try CLIENT_SECRET, with a minted token: its first use makes one profile "
            "(the same at every run).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        findings = check_credentials(minted=options["minted"])
        width = max(len(finding.what) for finding in findings)
        for finding in findings:
            self.stdout.write(f"  {finding.what:<{width}}  {_SAID[finding.ok]}: {finding.detail}")
        failed = [f.what for f in findings if f.ok is False]
        if failed:
            raise CommandError(f"LiveLike refused: {', '.join(failed)}.")
