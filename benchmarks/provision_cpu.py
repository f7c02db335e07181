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

Then where a first call's CPU goes: each step it takes, timed alone through
the package's own functions over fresh users (the row's ``SELECT``, the
claim lock taken and released, the claim's ``INSERT``, the create call to
LiveLike, the outcome's ``UPDATE``), and what is left of the whole call.
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


WARM_UP = 50  # users provisioned before anything is timed

STEPS = (
    ("the row's SELECT (of_user)", "select"),
    ("the claim lock, taken and released (2 statements; none on SQLite)", "lock"),
    ("the claim's INSERT", "insert"),
    ("the create call to LiveLike (requests)", "create"),
    ("the outcome's UPDATE (token encrypted)", "update"),
)


def steps_pass(first: int, users: int) -> dict[str, float]:
    """Mean CPU ms of each step of a first ``provision``, each timed alone over ``users`` users."""
    from django.db import router

    from livelike_profiles.livelike.client import get_client
    from livelike_profiles.models import LiveLikeProfile
    from livelike_profiles.provisioning import claim_locks
    from tests.factories import make_user

    made = [make_user(n) for n in range(first, first + users)]
    rows = LiveLikeProfile.objects
    using = router.db_for_write(LiveLikeProfile)
    client = get_client()
    claims: list = []
    created: list = []

    def select(user):
        rows.of_user(user.pk)

    def lock(user):
        with claim_locks.claiming(user.pk, using):
            pass

    def insert(user):
        claims.append(rows.claim(user, has_row=False))

    def create(user):
        created.append(client.create_profile_by_custom_id(claims[len(created)][0].custom_id))

    def update(user):
        (row, claim), remote = claims.pop(0), created.pop(0)
        rows.release_active(
            row,
            claim,
            profile_id=remote.id,
            access_token=remote.access_token,
            nickname=remote.nickname,
        )

    spent = {}
    for step, work in zip(
        (key for _, key in STEPS), (select, lock, insert, create, update), strict=True
    ):
        started = time.thread_time()
        for user in made:
            work(user)
        spent[step] = (time.thread_time() - started) * 1000 / users
    return spent


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
        one_pass(0, WARM_UP)  # imports, connections, discovery; not counted
        firsts = range(WARM_UP, WARM_UP + 2 * args.users * args.rounds, args.users)
        passes = [one_pass(first, args.users) for first in firsts[: args.rounds]]
        active = LiveLikeProfile.objects.filter(status=LiveLikeProfile.Status.ACTIVE).count()
        steps = [steps_pass(first, args.users) for first in firsts[args.rounds :]]
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
    print(f"\n{active} active rows for {WARM_UP + args.users * args.rounds} users.")

    first = statistics.median(p[0] for p in passes)
    print(f"\n### Where a first call's CPU goes: each step alone, {args.rounds} passes\n")
    print("| step | median of passes, ms | share of a first call |")
    print("| --- | ---: | ---: |")
    total = 0.0
    for label, key in STEPS:
        median = statistics.median(s[key] for s in steps)
        total += median
        print(f"| {label} | {median:.3f} | {median / first:.0%} |")
    print(
        f"| the rest of provision() (the difference) | {first - total:.3f} | "
        f"{(first - total) / first:.0%} |"
    )
    print(f"| a first call, whole (above) | {first:.3f} | 100% |")
    if first < total:
        print("\nThe steps add up to more than the whole call: too few --users for steady figures.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
