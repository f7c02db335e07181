"""Create the demo's users (idempotent): two fans and a superuser."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from demo_site.run import ADMIN, DEMO_USERS
from livelike_profiles.models import LiveLikeProfile


class Command(BaseCommand):
    help = "Create the demo users alice and bob, and the superuser admin (passwords in run.py)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--forget-profiles",
            action="store_true",
            help="Delete every LiveLike profile row: the fake LiveLike `make demo` starts "
            "holds none of an earlier run's profiles.",
        )

    def handle(self, *args, **options) -> None:
        users = get_user_model().objects
        for username, password in DEMO_USERS:
            if not users.filter(username=username).exists():
                users.create_user(username=username, password=password)
        if not users.filter(username=ADMIN[0]).exists():
            users.create_superuser(username=ADMIN[0], password=ADMIN[1], email="")
        if options["forget_profiles"]:
            # The fake keeps its profiles in memory: rows of an earlier run name profiles
            # (and stored tokens) it no longer knows. Each user gets one anew at next use.
            forgotten, _ = LiveLikeProfile.objects.all().delete()
            if forgotten:
                self.stdout.write(
                    f"Forgot {forgotten} LiveLike profile(s) of an earlier run: the fake "
                    "LiveLike starts empty."
                )
