"""Background work on the site's task queue (issue 23): logins that wait for nobody, and workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python benchmarks/background.py

Needs PostgreSQL, gunicorn and django-tasks-db (``requirements.txt``). In one
run, in a throw-away database (``bench_livelike_background``), against the fake
LiveLike in a process of its own, with stored tokens, it prints a markdown
table for each of issue 23's measures:

* **(a)** ``--a-users`` users (100) each logging in ``--a-logins`` times at
  once (10), LiveLike at ``--latency-a-ms`` (30): 1,000 logins over real HTTP
  to gunicorn (``--gunicorn`` 4 gthread workers x ``--threads`` 8), sent back
  to back by ``--a-clients`` client threads (100: ten users in flight, ten
  logins each). Modes: provisioning off; provisioning at login without a
  task backend; with one (``TASK_BACKEND``, django-tasks-db, ``--login-workers``
  2 ``db_worker`` processes running); and ``PROVISION_ON_LOGIN = "background"``.
  p50 and p99 from each login's start to its answer; goal: p99 <= 1.15x off's.
* **(b)** a surge of ``--b-users`` (300) first logins at ``--b-rate`` (60/s,
  so in 5 s) from ``--b-clients`` (32), LiveLike at ``--latency-b-ms`` (100):
  off, provisioning at login (no backend: the issue's "before"), and
  ``"background"`` with the workers; latency from each login's scheduled
  arrival; goal: background's p99 within 30 ms of off's.
* **(c)** profiles created per second by 1, 2 and 4 ``db_worker`` processes
  (``--c-workers``), LiveLike at ``--latency-c-ms`` (100): ``--c-per-worker``
  (50) ``provision_user`` tasks per worker enqueued in one transaction (what
  background logins enqueue), timed from its commit to the last profile row
  made active; against the ideal, workers / latency.
* **(d)** a ``--d-users`` (10,000) backfill enqueued by ``livelike_provision
  --enqueue`` (batches of ``--batch-size`` 200) and drained by 1, then 2
  workers (``--d-workers``), each on 10,000 users of its own, LiveLike at
  ``--latency-d-ms`` (10: a worker runs a batch one user after another, so at
  a realistic 100 ms one worker would need 17 minutes); timed from the
  command's start to the last profile made active; at the end the fake must
  hold exactly one profile per user.

(a) and (b) run ``--a-rounds`` (5) and ``--b-rounds`` (3) rounds, the modes
in an order rotated each round, gunicorn started afresh for each phase (see
``benchmarks/background_logins.py``); a goal is met when it holds for the
p99 of all rounds pooled and for the median of the rounds' own ratios (or
differences) to provisioning off, and the table says which holds when only
one does. ``db_worker`` processes are
``benchmarks/task_workers.py``'s. Each table gives the CPU of gunicorn and of
the workers per login (from ``/proc``) and how busy the machine's CPUs were
(all processes, PostgreSQL's and other users' too), since on a small machine
gunicorn, PostgreSQL, the workers, the fake and the load generator share the
cores; the load average is printed before and after each section.
``--quick`` (about a minute: add it to the command above) shrinks every
size; ``--sections`` picks some. Every process started is stopped and the
database dropped, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import background_logins as logins
from benchmarks import task_workers as queue
from benchmarks.common import setup_django, throwaway_database
from benchmarks.first_login import add_users

QUICK = {
    "a_rounds": 1,
    "b_rounds": 1,
    "warm": 64,
    "a_users": 20,
    "b_users": 120,
    "c_per_worker": 10,
    "d_users": 500,
    "d_workers": "1,2",
    "c_workers": "1,2",
}


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def throughput(db: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """(c): ``provision_user`` tasks worked off by 1, 2, 4 workers; profiles per second."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from livelike_profiles.support import task_queue

    fake = queue.Fake(args.latency_c_ms)
    settings.LIVELIKE = queue.livelike(fake)
    results = []
    try:
        for number in (int(n) for n in args.c_workers.split(",")):
            prefix, users = f"c{number}-user-", args.c_per_worker * number
            add_users([f"{prefix}{i}" for i in range(users)])
            pks = get_user_model()._default_manager.filter(username__startswith=prefix)
            workers = queue.DbWorkers(number, db, json.dumps(settings.LIVELIKE), args.interval)
            try:
                before, cpu, ticks = fake.counts(), workers.cpu(), queue.cpu_ticks()
                with transaction.atomic():
                    for pk in pks.values_list("pk", flat=True):
                        task_queue.enqueue("provision_user", pk)
                started = time.time()
                queue.wait_for(lambda p=prefix, n=users: queue.active_rows(p) == n, "(c)", 600)
                end = queue.last_activation(prefix)
                cpu, ticks = workers.cpu() - cpu, queue.machine_busy(ticks, queue.cpu_ticks())
                queue.wait_for(lambda: not queue.busy(), "the queue", 60)
            finally:
                workers.stop()
            counts = fake.counts()
            results.append(
                {
                    "workers": number,
                    "users": users,
                    "wall": end - started,
                    "cpu_ms": cpu * 1000 / users,
                    "busy": ticks,
                    "creates": counts["creates"] - before["creates"],
                    "tasks": queue.tasks().count(),
                    "failed": queue.failed_tasks(),
                    "most": counts["most"],
                }
            )
            queue.clear_queue()
            print(f"... (c) {number} workers: {users / (end - started):.1f}/s", file=sys.stderr)
    finally:
        fake.stop()
    return results


def backfill(db: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(d): ``livelike_provision --enqueue`` of ``--d-users`` users, drained by 1 then 2 workers."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    fake = queue.Fake(args.latency_d_ms)
    settings.LIVELIKE = queue.livelike(fake)
    users_model = get_user_model()._default_manager
    results = []
    try:
        for number in (int(n) for n in args.d_workers.split(",")):
            prefix = f"d{number}-user-"
            # Only this run's users need a profile: earlier sections' without one are set aside.
            users_model.filter(livelike_profile__isnull=True).update(is_active=False)
            add_users([f"{prefix}{i}" for i in range(args.d_users)])
            workers = queue.DbWorkers(number, db, json.dumps(settings.LIVELIKE), args.interval)
            try:
                cpu, ticks, out = workers.cpu(), queue.cpu_ticks(), io.StringIO()
                started = time.time()
                call_command(
                    "livelike_provision",
                    "--enqueue",
                    "--batch-size",
                    str(args.batch_size),
                    stdout=out,
                )
                enqueued = time.time() - started
                queue.wait_for(lambda p=prefix: queue.active_rows(p) == args.d_users, "(d)", 3600)
                end = queue.last_activation(prefix)
                cpu, ticks = workers.cpu() - cpu, queue.machine_busy(ticks, queue.cpu_ticks())
                queue.wait_for(lambda: not queue.busy(), "the queue", 60)
            finally:
                workers.stop()
            numbers = dict(
                re.findall(
                    r"^\s*(users enqueued|tasks \(batches\))\s+(\d+)", out.getvalue(), re.MULTILINE
                )
            )
            results.append(
                {
                    "workers": number,
                    "users": args.d_users,
                    "enqueued": int(numbers.get("users enqueued", -1)),
                    "batches": int(numbers.get("tasks (batches)", -1)),
                    "enqueue_s": enqueued,
                    "wall": end - started,
                    "cpu_ms": cpu * 1000 / args.d_users,
                    "busy": ticks,
                    "failed": queue.failed_tasks(),
                }
            )
            queue.clear_queue()
            print(f"... (d) {number} workers: {end - started:.1f} s", file=sys.stderr)
        counts = fake.counts()
        counts["active"] = queue.active_rows("d")
    finally:
        fake.stop()
    return results, counts


def report_c(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    latency = args.latency_c_ms / 1000
    print(
        f"\n### (c) Profiles created per second by db_worker processes, LiveLike "
        f"{args.latency_c_ms:g} ms ({args.c_per_worker} provision_user tasks per worker)\n"
    )
    print(
        "| workers | users | wall s | profiles/s | ideal workers / latency | of the ideal "
        "| db_worker CPU ms/profile | machine CPU busy | created at LiveLike | tasks "
        "(with follow-ups) | failed |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        rate, ideal = r["users"] / r["wall"], r["workers"] / latency
        print(
            f"| {r['workers']} | {r['users']} | {r['wall']:.2f} | {rate:.1f} | {ideal:.0f} | "
            f"{rate / ideal:.0%} | {r['cpu_ms']:.1f} | {r['busy']:.0%} | {r['creates']} | "
            f"{r['tasks']} | {r['failed']} |"
        )


def report_d(results: list[dict[str, Any]], counts: dict[str, int], args: argparse.Namespace):
    latency = args.latency_d_ms / 1000
    print(
        f"\n### (d) A {args.d_users:,}-user backfill: livelike_provision --enqueue (batches of "
        f"{args.batch_size}), drained by db_worker processes, LiveLike {args.latency_d_ms:g} ms\n"
    )
    print(
        "| workers | users | enqueued (batches) | enqueue command s | wall s | profiles/s "
        "| latency floor N*L/workers s | db_worker CPU ms/profile | machine CPU busy | failed |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['workers']} | {r['users']} | {r['enqueued']} ({r['batches']}) | "
            f"{r['enqueue_s']:.2f} | {r['wall']:.1f} | {r['users'] / r['wall']:.0f} | "
            f"{r['users'] * latency / r['workers']:.0f} | {r['cpu_ms']:.2f} | {r['busy']:.0%} | "
            f"{r['failed']} |"
        )
    users = sum(r["users"] for r in results)
    one_each = counts["profiles"] == counts["users"] == users and counts["most"] == 1
    print(
        f"\nAt the fake LiveLike: {counts['profiles']} profiles ({counts['creates']} created) for "
        f"{counts['users']} users (custom ids), at most {counts['most']} per user; "
        f"{counts['active']} active rows for {users} users: "
        + ("exactly one profile per user." if one_each else "**NOT one profile per user.**")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: about a minute")
    parser.add_argument("--sections", default="abcd", help="which of a, b, c, d to run")
    parser.add_argument("--a-rounds", type=int, default=5, help="(a): rounds of each mode")
    parser.add_argument("--b-rounds", type=int, default=3, help="(b): rounds of each mode")
    parser.add_argument("--gunicorn", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument(
        "--warm",
        type=int,
        help="unmeasured warm-up logins (default 8 x threads x gunicorn workers)",
    )
    parser.add_argument("--login-workers", type=int, default=2, help="(a), (b): db_workers")
    parser.add_argument("--interval", type=float, default=0.1, help="db_worker's idle poll, s")
    parser.add_argument("--a-users", type=int, default=100)
    parser.add_argument("--a-logins", type=int, default=10, help="concurrent logins per user")
    parser.add_argument("--a-clients", type=int, default=100)
    parser.add_argument(
        "--a-rate",
        type=float,
        default=0,
        help="logins per second, each user's --a-logins due together (0: back to back)",
    )
    parser.add_argument("--latency-a-ms", type=float, default=30)
    parser.add_argument("--b-users", type=int, default=300)
    parser.add_argument("--b-rate", type=float, default=60, help="first logins per second")
    parser.add_argument("--b-clients", type=int, default=32)
    parser.add_argument("--latency-b-ms", type=float, default=100)
    parser.add_argument("--c-workers", default="1,2,4")
    parser.add_argument("--c-per-worker", type=int, default=50)
    parser.add_argument("--latency-c-ms", type=float, default=100)
    parser.add_argument("--d-users", type=int, default=10_000)
    parser.add_argument("--d-workers", default="1,2")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--latency-d-ms", type=float, default=10)
    args = parser.parse_args()
    if args.quick:
        given = {a[2:].split("=")[0].replace("-", "_") for a in sys.argv[1:] if a[:2] == "--"}
        for key, value in QUICK.items():
            if key not in given:
                setattr(args, key, value)
    if args.warm is None:
        args.warm = 8 * args.gunicorn * args.threads
    # Ctrl-C or a plain kill stops the run cleanly (servers, workers, fake, database).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        print("Needs PostgreSQL: set DATABASE_URL=postgres://...")
        return 1
    started, loads = time.perf_counter(), {"start": load()}
    ticks = queue.cpu_ticks()
    time.sleep(3)  # how busy the machine is before the run: other users' work
    idle_busy = queue.machine_busy(ticks, queue.cpu_ticks())
    results: dict[str, Any] = {}
    try:
        with throwaway_database("background"):
            db = connection.settings_dict["NAME"]
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                version = cursor.fetchone()[0]
            if "a" in args.sections:
                args.latency_ms, args.burst, args.rounds = (
                    args.latency_a_ms,
                    args.a_logins,
                    args.a_rounds,
                )
                a = logins.a_logins(args.a_users, args.a_logins)
                results["a"] = logins.run_section(
                    "a", logins.A_MODES, a, args.a_rate, args.a_clients, db, args
                )
                loads["a"] = load()
            if "b" in args.sections:
                args.latency_ms, args.burst, args.rounds = args.latency_b_ms, 1, args.b_rounds
                b = logins.b_logins(args.b_users)
                results["b"] = logins.run_section(
                    "b", logins.B_MODES, b, args.b_rate, args.b_clients, db, args
                )
                loads["b"] = load()
            if "c" in args.sections:
                results["c"] = throughput(db, args)
                loads["c"] = load()
            if "d" in args.sections:
                results["d"] = backfill(db, args)
                loads["d"] = load()
    except KeyboardInterrupt:
        print("Interrupted: processes stopped, database dropped.", file=sys.stderr)
        return 130
    print(
        f"\nPostgreSQL {version}; {os.cpu_count()} CPUs; gunicorn {args.gunicorn} gthread workers "
        f"x {args.threads} threads, {args.login_workers} db_workers during (a) and (b); "
        f"{time.perf_counter() - started:.0f} s in all. Load average (1/5/15 min): "
        + ", ".join(f"{when} {value}" for when, value in loads.items())
        + f" (after each section; the benchmark's own threads count). Machine CPU busy in the "
        f"3 s before the run: {idle_busy:.0%}."
    )
    if "a" in results:
        logins.report_a(results["a"], args)
    if "b" in results:
        logins.report_b(results["b"], args)
    if "c" in results:
        report_c(results["c"], args)
    if "d" in results:
        report_d(*results["d"], args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
