"""Concurrent first logins of one user: rivals polling the row, against rivals woken by a lock.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python benchmarks/rivals.py
    DATABASE_URL=mysql://root@127.0.0.1:3306/test .venv/bin/python benchmarks/rivals.py

Each *round* is ``--logins`` first logins of one new user at once: the
provisioning step of each (``provision(user)``, what the login receiver runs,
on a user freshly loaded as a login loads it), from as many threads (each
keeps its own database connection across rounds, as a server's worker threads
do); one of them creates the profile, the others wait for it. The fake
LiveLike answers every call in ``--latency-ms`` (a range: uniform) of
latency. Rounds rotate through three modes, so that none always runs on a
warmer machine:

* **polling**: what SQLite does, forced here: a rival
  reads the row again after 20 ms, 40 ms... (at most 200 ms apart);
* **woken**: the claim lock (PostgreSQL's advisory lock, MariaDB/MySQL's
  ``GET_LOCK``): a rival waits on the lock held by the claim's owner and reads
  the row once it is released;
* **provisioned**: the floor: the same concurrent logins of a user whose
  profile is already active (nobody calls LiveLike, nobody waits).

Prints a markdown table: p50 and p99 per login in ms (all rounds pooled), the
p99 beyond the slowest LiveLike answer, how long after its round's owner a
rival returned (the cost of waiting itself), and the profiles created per
user (must be 1). The fake LiveLike runs in a process of its own, so that it
does not compete with the logins for this process's GIL. Works in a
throw-away database (``bench_livelike_rivals``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import setup_django, throwaway_database

MODES = ("polling", "woken", "provisioned")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def serve_fake(low: float, high: float, pipe: Any) -> None:
    """The fake LiveLike, answering after ``low``-``high`` s, in a child process.

    Sends its URL, then answers ``"counts"`` with (profiles created, POST calls)
    until ``"stop"``.
    """
    from livelike_profiles.fake import FakeLiveLike

    class Jittery(FakeLiveLike):
        @property
        def latency(self) -> float:
            return random.uniform(low, high)

    with Jittery(client_id="bench") as fake:
        pipe.send(fake.settings(TIMEOUT=10, WAIT_SECONDS=10))
        while (command := pipe.recv()) != "stop":
            if command == "counts":
                pipe.send((fake.create_count, fake.count_calls("POST")))


def measure(rounds: int, logins: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per mode: every login's ms, and each rival's ms beyond its round's owner."""
    from django.db import connection

    from livelike_profiles.provisioning import claim_locks, ensure_profile, provision
    from tests.factories import make_user

    users = [make_user(n) for n in range(len(MODES) * rounds + 1)]
    has_locks = claim_locks.has_locks
    times: dict[str, tuple[list[float], list[float]]] = {mode: ([], []) for mode in MODES}
    go, done = threading.Barrier(logins + 1), threading.Barrier(logins + 1)
    mode = [MODES[0]]
    this_round: list[tuple[float, bool]] = []

    def worker() -> None:
        try:
            for user in users:
                own = type(user)._default_manager.get(pk=user.pk)  # as the login loaded it
                go.wait()
                started = time.perf_counter()
                created = provision(own).created
                this_round.append(((time.perf_counter() - started) * 1000, created))
                done.wait()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(logins)]
    for thread in threads:
        thread.start()
    try:
        for n in range(len(users)):
            mode[0] = MODES[n % len(MODES)]
            claim_locks.has_locks = has_locks if mode[0] != "polling" else lambda using: False
            if mode[0] == "provisioned":
                ensure_profile(users[n])
            this_round.clear()
            go.wait()
            done.wait()
            if n == 0:
                continue  # warm-up (connections, the discovered application): not counted
            all_ms, lag_ms = times[mode[0]]
            all_ms.extend(ms for ms, _ in this_round)
            owner = [ms for ms, created in this_round if created]
            if owner:
                lag_ms.extend(ms - owner[0] for ms, created in this_round if not created)
    finally:
        claim_locks.has_locks = has_locks
        for thread in threads:
            thread.join()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=60, help="rounds of each mode")
    parser.add_argument("--latency-ms", type=float, nargs=2, default=[30, 50])
    args = parser.parse_args()
    low, high = (ms / 1000 for ms in args.latency_ms)

    setup_django()
    from django.conf import settings
    from django.db import connection

    from livelike_profiles.models import LiveLikeProfile

    if connection.vendor not in ("postgresql", "mysql"):  # MariaDB's vendor is "mysql"
        print("Needs PostgreSQL or MariaDB/MySQL (the lock): set DATABASE_URL.")
        return 1
    pipe, child_end = multiprocessing.Pipe()
    fake = multiprocessing.get_context("spawn").Process(
        target=serve_fake, args=(low, high, child_end), daemon=True
    )
    fake.start()
    with throwaway_database("rivals"):
        settings.LIVELIKE = pipe.recv()
        try:
            times = measure(args.rounds, args.logins)
            pipe.send("counts")
            created, creates = pipe.recv()
        finally:
            pipe.send("stop")
            fake.join(timeout=30)
        users = len(MODES) * args.rounds + 1
        rows = LiveLikeProfile.objects.filter(status=LiveLikeProfile.Status.ACTIVE).count()
        print(
            f"\n### {args.logins} concurrent first logins of one user, "
            f"{args.rounds} rounds of each mode, "
            f"LiveLike latency {args.latency_ms[0]:.0f}-{args.latency_ms[1]:.0f} ms, "
            f"{connection.vendor}\n"
        )
        print(
            "| rivals | logins | p50 ms | p99 ms | p99 beyond the slowest answer "
            "| rival after its owner p50 / p99 ms |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for mode in MODES:
            all_ms, lag_ms = times[mode]
            p99 = _percentile(all_ms, 0.99)
            lag = (
                f"{_percentile(lag_ms, 0.5):.1f} / {_percentile(lag_ms, 0.99):.1f}"
                if lag_ms
                else "-"
            )
            print(
                f"| {mode} | {len(all_ms)} | {_percentile(all_ms, 0.5):.1f} | {p99:.1f} | "
                f"{p99 - args.latency_ms[1]:+.1f} ms | {lag} |"
            )
        print(
            f"\nProfiles created at LiveLike: {created} for {users} users "
            f"({creates} create calls, {rows} active rows)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
