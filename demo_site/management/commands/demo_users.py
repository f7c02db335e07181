"""Create the demo's users (idempotent): two fans and a superuser."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from demo_site.run import ADMIN, DEMO_USERS


class Command(BaseCommand):
    help = "Create the demo users alice and bob, and the superuser admin (passwords in run.py)."

    def handle(self, *args, **options) -> None:
        users = get_user_model().objects
        for username, password in DEMO_USERS:
            if not users.filter(username=username).exists():
                users.create_user(username=username, password=password)
        if not users.filter(username=ADMIN[0]).exists():
            users.create_superuser(username=ADMIN[0], password=ADMIN[1], email="")
