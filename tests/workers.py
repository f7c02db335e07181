"""Separate OS processes for the concurrency and crash tests.

``python -m tests.workers login --users PK,PK --times N --threads T``
    logs each user in N times through the real login view, from T threads
    (each with its own database connection), and prints ``ok``.
``python -m tests.workers login-in-sessions --pairs PK:SESSION,PK:SESSION --threads T``
    logs each user in within the session named (its cookie), from T threads.
``python -m tests.workers ensure PK``
    calls ensure_profile once for that user and prints the row's status.
``python -m tests.workers manage COMMAND [ARGS...]``
    runs a management command (e.g. ``livelike_provision``, or django-tasks-db's
    ``db_worker``), exiting as ``manage.py`` would: status 1 and the message on
    stderr for a CommandError.

The parent passes the test database's name and the ``LIVELIKE`` setting in
the environment (``WORKER_DB_NAME``, ``WORKER_LIVELIKE``), since pytest-django
created the test database under a name the settings module does not know.
``WORKER_LOG`` (a level, e.g. ``INFO``) sends log records to stderr, which the
test settings otherwise drop.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = os.environ["WORKER_DB_NAME"]
    settings.DATABASES["default"]["ATOMIC_REQUESTS"] = os.environ.get("WORKER_ATOMIC") == "1"
    settings.LIVELIKE = json.loads(os.environ["WORKER_LIVELIKE"])
    if os.environ.get("WORKER_LOG"):
        settings.LOGGING = {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"timed": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "timed"}},
            "root": {"handlers": ["stderr"], "level": os.environ["WORKER_LOG"]},
        }
    import django
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()  # the test client's "testserver" host, as in the parent


def login(user_pks: list[str], times: int, threads: int) -> None:
    """Log every user in ``times`` times, spread over ``threads`` threads started together."""
    from django.contrib.auth import get_user_model

    from tests.factories import log_in

    users = list(get_user_model()._default_manager.filter(pk__in=user_pks))
    assert len(users) == len(user_pks)
    # Interleave users so that each user's logins really run side by side.
    tasks = [user for _ in range(times) for user in users]
    _in_threads(tasks, threads, log_in)


def login_in_sessions(pairs: list[str], threads: int) -> None:
    """Log each ``USER_PK:SESSION_KEY`` pair's user in within that session, ``threads`` at once."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tests.factories import log_in

    users = get_user_model()._default_manager
    tasks = [(users.get(pk=pk), key) for pk, _, key in (pair.partition(":") for pair in pairs)]

    def in_its_session(task: tuple) -> None:
        user, key = task
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = key
        log_in(user, client)

    _in_threads(tasks, threads, in_its_session)


def _in_threads(tasks: list, threads: int, do: Callable[[Any], object]) -> None:
    """``do`` each task, the tasks dealt out to ``threads`` threads started together.

    Each thread closes its own database connection at its end; the first error
    of any thread is raised here once all have finished.
    """
    from django.db import connection

    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(share: list) -> None:
        try:
            start.wait()
            for task in share:
                do(task)
        except BaseException as error:  # reported by the parent
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(tasks[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def ensure(user_pk: str) -> str:
    """Run ensure_profile once and return the row's status."""
    from django.contrib.auth import get_user_model

    from livelike_profiles.provisioning import ensure_profile

    user = get_user_model()._default_manager.get(pk=user_pk)
    return ensure_profile(user).status


def manage(argv: list[str]) -> int:
    """Run a management command the way ``manage.py`` does."""
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *argv])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p_login = sub.add_parser("login")
    p_login.add_argument("--users", required=True)
    p_login.add_argument("--times", type=int, required=True)
    p_login.add_argument("--threads", type=int, required=True)
    p_sessions = sub.add_parser("login-in-sessions")
    p_sessions.add_argument("--pairs", required=True)
    p_sessions.add_argument("--threads", type=int, required=True)
    p_ensure = sub.add_parser("ensure")
    p_ensure.add_argument("user")
    p_manage = sub.add_parser("manage")
    p_manage.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    _setup()
    if args.command == "manage":
        return manage(args.argv)
    if args.command == "login":
        login(args.users.split(","), args.times, args.threads)
        print("ok", flush=True)
    elif args.command == "login-in-sessions":
        login_in_sessions(args.pairs.split(","), args.threads)
        print("ok", flush=True)
    else:
        print(ensure(args.user), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
