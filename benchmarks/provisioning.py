"""What provisioning costs a login, and whether it ever creates a second profile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python benchmarks/provisioning.py
    DATABASE_URL=mysql://root@127.0.0.1:3306/test .venv/bin/python benchmarks/provisioning.py

Prints markdown tables:

1. Login through Django's real login view, against the fake LiveLike with
   ``--latency-ms`` of latency: with ``PROVISION_ON_LOGIN`` off (the baseline),
   a first login (provisions), a repeat login (already active). Medians and
   95th percentiles in ms, SQL queries and remote calls per login, and the
   overhead beyond the baseline (and, for first logins, beyond the latency).
2. ``--users`` users x ``--logins`` concurrent logins spread over
   ``--processes`` OS processes (PostgreSQL or MariaDB/MySQL): profiles created per user.

It works in a throw-away database (``test_<name>``) that it creates and drops.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import ROOT, setup_django, throwaway_database


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_logins(fake, samples: int, latency: float) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import log_in, make_user

    base = fake.settings(TIMEOUT=10)
    results = {}
    next_user = [10_000]

    def run(label: str, provision: bool, prepare) -> None:
        settings.LIVELIKE = {**base, "PROVISION_ON_LOGIN": provision}
        times, queries, calls = [], [], []
        for _ in range(samples):
            next_user[0] += 1
            user = make_user(next_user[0])
            prepare(user)
            before = len(fake.calls)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                log_in(user)
                times.append((time.perf_counter() - started) * 1000)
            queries.append(len(captured.captured_queries))
            calls.append(len(fake.calls) - before)
        results[label] = (times, queries, calls)

    def provision_first(user) -> None:
        from livelike_profiles.provisioning import ensure_profile

        settings.LIVELIKE = {**base, "PROVISION_ON_LOGIN": True}
        ensure_profile(user)

    # Warm up: imports, the discovered application resource, the connection pool.
    run("warm-up", True, lambda user: None)
    run("baseline (PROVISION_ON_LOGIN off)", False, lambda user: None)
    run("first login (provisions)", True, lambda user: None)
    run("repeat login (profile active)", True, provision_first)

    baseline = statistics.median(results["baseline (PROVISION_ON_LOGIN off)"][0])
    baseline_queries = statistics.median(results["baseline (PROVISION_ON_LOGIN off)"][1])
    print(
        f"\n### Login cost, fake LiveLike latency {latency * 1000:.0f} ms, {samples} logins each\n"
    )
    print("| login | median ms | p95 ms | queries | remote calls | overhead vs baseline |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for label, (times, queries, calls) in results.items():
        if label == "warm-up":
            continue
        median = statistics.median(times)
        extra_queries = statistics.median(queries) - baseline_queries
        remote = statistics.median(calls)
        overhead = median - baseline
        note = f"{overhead:+.1f} ms, {extra_queries:+.0f} queries"
        if remote:
            note += f"; {overhead - remote * latency * 1000:+.1f} ms beyond the latency"
        print(
            f"| {label} | {median:.1f} | {_percentile(times, 0.95):.1f} | "
            f"{statistics.median(queries):.0f} | {remote:.0f} | {note} |"
        )


def measure_processes(fake, users: int, logins: int, processes: int, threads: int) -> None:
    from django.db import connection

    from livelike_profiles.models import LiveLikeProfile
    from tests.factories import make_user

    fake.reset()
    fake.latency = 0.02
    people = [make_user(n) for n in range(users)]
    env = dict(os.environ)
    env["WORKER_DB_NAME"] = str(connection.settings_dict["NAME"])
    env["WORKER_LIVELIKE"] = json.dumps(fake.settings(TIMEOUT=10, WAIT_SECONDS=10))
    pks = ",".join(str(user.pk) for user in people)
    started = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.workers", "login", "--users", pks]
            + ["--times", str(logins // processes), "--threads", str(threads)],
            cwd=ROOT,
            env=env,
        )
        for _ in range(processes)
    ]
    failed = sum(worker.wait() != 0 for worker in workers)
    wall = time.perf_counter() - started
    active = LiveLikeProfile.objects.filter(
        user__in=people, status=LiveLikeProfile.Status.ACTIVE
    ).count()
    print(
        f"\n### {users} users x {logins} concurrent logins, {processes} processes x "
        f"{threads} threads, {connection.vendor}\n"
    )
    print(
        "| logins | wall s | creates at LiveLike | create attempts | active rows "
        "| creates / users | failed workers |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total = users * (logins // processes) * processes
    print(
        f"| {total} | {wall:.1f} | {fake.create_count} | {fake.count_calls('POST')} | {active} | "
        f"{fake.create_count / users:.3f} | {failed} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    setup_django()
    from django.db import connection

    from livelike_profiles.fake import FakeLiveLike

    with throwaway_database("provisioning"), FakeLiveLike(client_id="bench") as fake:
        fake.latency = args.latency_ms / 1000
        measure_logins(fake, args.samples, args.latency_ms / 1000)
        if connection.vendor in ("postgresql", "mysql"):  # MariaDB's vendor is "mysql"
            measure_processes(fake, args.users, args.logins, args.processes, args.threads)
        else:
            print("\n(The multi-process run needs PostgreSQL or MariaDB/MySQL: set DATABASE_URL.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
