"""How fast ``livelike_provision`` backfills, and whether its memory stays flat.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python benchmarks/backfill.py

Against the fake LiveLike (run as a separate process, so it does not compete
with the command for the GIL) with ``--latency-ms`` of latency per request, it
backfills ``--users`` users at ``--concurrency`` threads and compares the wall
time with the ideal ``N * L / C``; then a sequential run (``--concurrency 1``)
on ``--sequential-users`` users, scaled to N; then peak memory (the maximum
resident set size of the command's process) at each of ``--memory-sizes``;
then ``--copies`` copies of the command at once on N more users, sharing the
C threads between them (what several machines do, on one). Each run is a
fresh process running the command on users who have no profile yet. Prints a
markdown table, with the command's CPU time (user + system, the fake's not
counted) per user provisioned.

It works in a throw-away database that it creates and drops (PostgreSQL, or
SQLite without ``DATABASE_URL``; on SQLite batches are not claimed).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

BENCH_DB = "bench_livelike_backfill"


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(args: argparse.Namespace) -> int:
    """One run of the command in this process; prints a JSON line with its figures."""
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = args.db
    settings.LIVELIKE = json.loads(args.livelike)
    import django

    django.setup()
    from django.core.management import call_command

    from livelike_profiles.models import LiveLikeProfile

    LiveLikeProfile.objects.exists()  # connect before the clock starts
    rss_before = _maxrss_mb()
    out = io.StringIO()
    start, cpu_start = time.time(), time.process_time()
    call_command(
        "livelike_provision",
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        stdout=out,
    )
    end, cpu = time.time(), time.process_time() - cpu_start
    created = int(re.search(r"^\s+created\s+(\d+)$", out.getvalue(), re.MULTILINE).group(1))
    result = {
        "start": start,
        "end": end,
        "cpu": cpu,
        "created": created,
        "rss_before": rss_before,
        "rss": _maxrss_mb(),
    }
    print(json.dumps(result), flush=True)
    return 0


def add_users(count: int, start: int) -> None:
    """Insert ``count`` active users without profiles (bulk, unusable passwords)."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    chunk = 2000
    for first in range(start, start + count, chunk):
        model._default_manager.bulk_create(
            model(username=f"bench{n}", password="!")
            for n in range(first, min(first + chunk, start + count))
        )


def run_commands(db: str, livelike: dict, concurrency: int, batch_size: int, copies: int) -> dict:
    """Run ``copies`` copies of the command at once, each in its own process."""
    command = [sys.executable, __file__, "--child", "--db", db, "--livelike", json.dumps(livelike)]
    command += ["--concurrency", str(concurrency), "--batch-size", str(batch_size)]
    children = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(copies)
    ]
    results = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"the command failed:\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "wall": max(r["end"] for r in results) - min(r["start"] for r in results),
        "created": sum(r["created"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
        "rss_before": max(r["rss_before"] for r in results),
        "rss": max(r["rss"] for r in results),
    }


def start_fake(latency_ms: float) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = subprocess.Popen(
        [sys.executable, "-m", "livelike_profiles.fake", "--port", str(port)]
        + ["--client-id", "bench", "--admin-token", "bench-admin"]
        + ["--latency-ms", str(latency_ms)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = fake.stdout.readline()  # printed once it listens
    if "serving" not in line:
        fake.kill()
        raise SystemExit(f"the fake LiveLike did not start: {line!r}")
    return fake, f"http://127.0.0.1:{port}/api/v1/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--sequential-users", type=int, default=400)
    parser.add_argument("--memory-sizes", default="10000,50000")
    parser.add_argument(
        "--copies",
        type=int,
        default=2,
        help="also run this many copies at once, splitting --concurrency (1: skip)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--livelike", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    # Ctrl-C or a plain kill still stops the fake and drops the database (the finally
    # below), even where the shell started the run with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    import django
    from django.conf import settings

    tmp = tempfile.mkdtemp()
    test = settings.DATABASES["default"].setdefault("TEST", {})
    sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    test["NAME"] = os.path.join(tmp, "bench.sqlite3") if sqlite else BENCH_DB
    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    fake, url = start_fake(args.latency_ms)
    livelike = {"CLIENT_ID": "bench", "API_URL": url, "API_TOKEN": "bench-admin", "TIMEOUT": 30}
    next_user = 0
    runs: list[tuple[str, int, int, dict]] = []
    load_before = os.getloadavg()[0]
    try:
        sizes = [int(size) for size in args.memory_sizes.split(",") if size]

        def run(label: str, users: int, concurrency: int, copies: int = 1) -> dict:
            nonlocal next_user
            add_users(users, next_user)
            next_user += users
            result = run_commands(db, livelike, concurrency, args.batch_size, copies)
            if result["created"] != users:
                raise SystemExit(f"{label}: created {result['created']} of {users}")
            runs.append((label, users, concurrency * copies, result))
            print(f"... {label}: {users} users in {result['wall']:.1f} s", file=sys.stderr)
            return result

        run("sequential", args.sequential_users, 1)
        run("concurrent", args.users, args.concurrency)
        for size in sizes:
            if size != args.users:
                run(f"memory at {size}", size, args.concurrency)
        if args.copies > 1:
            label = f"{args.copies} copies x {args.concurrency // args.copies} threads"
            run(label, args.users, args.concurrency // args.copies, args.copies)
    finally:
        fake.terminate()
        fake.wait(timeout=30)
        connection.creation.destroy_test_db(old_name, verbosity=0)

    latency = args.latency_ms / 1000
    print(
        f"\n### Backfill, fake LiveLike latency {args.latency_ms:g} ms, "
        f"batches of {args.batch_size}, {connection.vendor}, {os.cpu_count()} CPUs "
        f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n"
    )
    print(
        "| run | users | concurrency | wall s | ideal N*L/C s | ideal / wall "
        "| users/s | CPU ms/user | peak RSS MB (before run) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, users, concurrency, result in runs:
        ideal = users * latency / concurrency
        print(
            f"| {label} | {users} | {concurrency} | {result['wall']:.1f} | {ideal:.1f} | "
            f"{ideal / result['wall']:.0%} | {users / result['wall']:.0f} | "
            f"{result['cpu'] * 1000 / users:.2f} | "
            f"{result['rss']:.1f} ({result['rss_before']:.1f}) |"
        )
    seq = runs[0][3]
    scaled = seq["wall"] * args.users / args.sequential_users
    main_run = runs[1][3]
    print(
        f"\nSequential, scaled to {args.users} users: {scaled:.0f} s "
        f"(measured on {args.sequential_users}); concurrency {args.concurrency} is "
        f"{scaled / main_run['wall']:.1f}x faster."
    )
    by_size = {
        users: result["rss"]
        for label, users, _, result in runs
        if label == "concurrent" or label.startswith("memory")
    }
    if len(sizes) >= 2 and all(size in by_size for size in sizes):
        low, high = sizes[0], sizes[-1]
        print(
            f"Peak memory from {low} to {high} users: {by_size[low]:.1f} MB -> "
            f"{by_size[high]:.1f} MB ({by_size[high] - by_size[low]:+.1f} MB)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
