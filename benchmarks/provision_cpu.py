r"""The CPU time of one ``provision(user)`` call, in this thread only: first and repeat.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
        .venv/bin/python benchmarks/provision_cpu.py

What a login's receiver (and a backfill's thread) spends in the app itself,
without the login around it: ``time.thread_time()`` around each call, so
neither the fake LiveLike's threads (it runs in this process, with no
latency) nor the database server count. *first*: a user with no row (the
lookup, the claim, the create call, the outcome recorded); *repeat*: the same
users loaded afresh, their profile active (one ``SELECT``). ``--rounds``
passes of ``--users`` users each; prints the median of the passes' means, and
every pass. Works in a throw-away database (``bench_livelike_provision_cpu``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import setup_django, throwaway_database


def one_pass(first: int, users: int) -> tuple[float, float]:
    """Mean CPU ms of ``provision`` for ``users`` new users, then for the same users again."""
    from livelike_profiles.provisioning import provision
    from tests.factories import make_user

    made = [make_user(n) for n in range(first, first + users)]
    model = type(made[0])
    cpu_first = 0.0
    for user in made:
        started = time.thread_time()
        provision(user)
        cpu_first += time.thread_time() - started
    cpu_repeat = 0.0
    for user in made:
        fresh = model._default_manager.get(pk=user.pk)  # as the next login loads it
        started = time.thread_time()
        provision(fresh)
        cpu_repeat += time.thread_time() - started
    return cpu_first * 1000 / users, cpu_repeat * 1000 / users


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    setup_django()
    from django.conf import settings
    from django.db import connection

    from livelike_profiles.fake import FakeLiveLike
    from livelike_profiles.models import LiveLikeProfile

    with throwaway_database("provision_cpu"), FakeLiveLike(client_id="bench") as fake:
        settings.LIVELIKE = fake.settings(TIMEOUT=10)
        one_pass(0, 50)  # warm-up: imports, connections, discovery; not counted
        passes = [one_pass(args.users * (n + 1), args.users) for n in range(args.rounds)]
        active = LiveLikeProfile.objects.filter(status=LiveLikeProfile.Status.ACTIVE).count()
    print(
        f"\n### CPU of provision(user) in the calling thread, {connection.vendor}, "
        f"{args.rounds} passes of {args.users} users\n"
    )
    print("| call | median of passes, ms | each pass, ms |")
    print("| --- | ---: | --- |")
    for label, index in (("first (creates the profile)", 0), ("repeat (profile active)", 1)):
        each = [p[index] for p in passes]
        print(
            f"| {label} | {statistics.median(each):.3f} | "
            + ", ".join(f"{x:.3f}" for x in each)
            + " |"
        )
    print(f"\n{active} active rows for {50 + args.users * args.rounds} users.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
