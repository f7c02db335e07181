"""Sections (a) and (b) of ``benchmarks/background.py``: logins over HTTP, with and without a queue.

Each *phase* (one mode, one round) adds its users, starts gunicorn (gthread
workers, persistent database connections: ``benchmarks/first_login.py``'s
servers) with the mode's ``LIVELIKE``, warms it with first logins that are not
measured (the fake answering at once, their provisioning finished before the
surge), then sends the measured logins with the fake answering in
``--latency-ms``. After the surge the fake answers at once again, the phase
waits until every user's profile is active (nothing due on the queue, nothing
running), checks the profiles at the fake, stops gunicorn and empties the
queue (the lease-end follow-ups left for later would find nothing to do). The
``db_worker`` processes run through every phase of a section, idle in the
modes that enqueue nothing, so that every mode runs on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import task_workers as queue
from benchmarks.first_login import Gunicorn, add_users, free_port, percentile, surge

OFF = "off"
# Section (a): the modes, each a LIVELIKE of its own (over the stored-mode defaults).
A_MODES: dict[str, dict[str, Any]] = {
    OFF: {"PROVISION_ON_LOGIN": False, "TASK_BACKEND": None},
    "inline, no task backend": {"PROVISION_ON_LOGIN": True, "TASK_BACKEND": None},
    "inline, task backend": {"PROVISION_ON_LOGIN": True},
    "background, task backend": {"PROVISION_ON_LOGIN": "background"},
}
BACKGROUND = "background, task backend"
B_MODES = {name: A_MODES[name] for name in (OFF, "inline, no task backend", BACKGROUND)}
A_GOAL = 1.15  # issue 23: p99 within 1.15x the p99 of the same load with provisioning off
B_GOAL_MS = 30  # issue 23: background first logins' p99 within 30 ms of provisioning off


def run_phase(
    mode: str,
    overrides: dict[str, Any],
    round_: int,
    logins: list[str],
    rate: float,
    clients: int,
    fake: queue.Fake,
    workers: queue.DbWorkers,
    db: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One mode, one round: warm gunicorn up, time ``logins``, wait for the profiles, stop."""
    provisions = bool(overrides["PROVISION_ON_LOGIN"])
    prefix = f"{args.section}{round_}-{mode.replace(', ', '-').replace(' ', '_')}-"
    warm = [f"{prefix}warm-{i}" for i in range(args.warm)]
    users = sorted({f"{prefix}{name}" for name in logins})
    add_users(warm + users)
    settings = json.dumps(queue.livelike(fake, **overrides))
    port = free_port()
    fake.latency(0)
    server = Gunicorn(
        port, db, argparse.Namespace(workers=args.gunicorn, threads=args.threads), settings
    )
    try:
        server.wait_ready()
        surge(port, warm, 0, args.gunicorn * args.threads)
        if provisions:
            queue.wait_for(
                lambda: queue.active_rows(f"{prefix}warm-") == len(warm) and not queue.busy(),
                "the warm-up's profiles",
                120,
            )
        queue.clear_queue()
        fake.latency(args.latency_ms)
        counts_before, cpu_before = fake.counts(), float(server.ask("cpu").split()[0])
        workers_before, ticks_before = workers.cpu(), queue.cpu_ticks()
        load = os.getloadavg()[0]
        started = time.perf_counter()
        measured = [f"{prefix}{name}" for name in logins]
        latencies = surge(port, measured, rate, clients, burst=args.burst)
        wall = time.perf_counter() - started
        ticks_surge = queue.cpu_ticks()
        cpu_after = float(server.ask("cpu").split()[0])
        fake.latency(0)
        if provisions:
            queue.wait_for(
                lambda: queue.active_rows(f"{prefix}user") == len(users) and not queue.busy(),
                "the surge's profiles",
                300,
            )
        workers_after, counts = workers.cpu(), fake.counts()
    finally:
        server.stop()
    result = {
        "mode": mode,
        "round": round_,
        "latencies": [x * 1000 for x in latencies],
        "wall": wall,
        "cpu_ms": (cpu_after - cpu_before) * 1000 / len(logins),
        "worker_cpu_ms": (workers_after - workers_before) * 1000 / len(logins),
        "busy": queue.machine_busy(ticks_before, ticks_surge),
        "load": load,
        "users": len(users),
        "active": queue.active_rows(f"{prefix}user"),
        "creates": counts["creates"] - counts_before["creates"],
        "tasks": queue.tasks().count(),
        "most": counts["most"],
    }
    queue.clear_queue()
    print(
        f"... ({args.section}) round {round_ + 1} {mode}: p50 "
        f"{percentile(result['latencies'], 0.5):.0f} ms, p99 "
        f"{percentile(result['latencies'], 0.99):.0f} ms, machine {result['busy']:.0%} busy",
        file=sys.stderr,
    )
    return result


def run_section(
    section: str,
    modes: dict[str, dict[str, Any]],
    logins: list[str],
    rate: float,
    clients: int,
    db: str,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """``args.rounds`` rounds of every mode, in an order rotated each round."""
    args.section = section
    fake = queue.Fake(args.latency_ms)
    workers = queue.DbWorkers(
        args.login_workers, db, json.dumps(queue.livelike(fake)), args.interval
    )
    results = []
    try:
        names = list(modes)
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for mode in names[shift:] + names[:shift]:
                results.append(
                    run_phase(
                        mode, modes[mode], round_, logins, rate, clients, fake, workers, db, args
                    )
                )
        most = fake.counts()["most"]
    finally:
        workers.stop()
        fake.stop()
    for result in results:
        result["most_overall"] = most
    return results


def pooled(results: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    runs = [r for r in results if r["mode"] == mode]
    latencies = [x for r in runs for x in r["latencies"]]
    logins = len(latencies)
    return {
        "logins": logins,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "cpu": sum(r["cpu_ms"] * len(r["latencies"]) for r in runs) / logins,
        "workers": sum(r["worker_cpu_ms"] * len(r["latencies"]) for r in runs) / logins,
        "busy": statistics.mean(r["busy"] for r in runs),
        "rate": logins / sum(r["wall"] for r in runs),
        "users": sum(r["users"] for r in runs),
        "active": sum(r["active"] for r in runs),
        "creates": sum(r["creates"] for r in runs),
        "tasks": sum(r["tasks"] for r in runs),
        "load": statistics.mean(r["load"] for r in runs),
    }


def per_round(results: list[dict[str, Any]], modes: list[str]) -> list[dict[str, Any]]:
    """Each round's order and each mode's p99 in it."""
    rounds = sorted({r["round"] for r in results})
    return [
        {
            "order": [r["mode"] for r in results if r["round"] == n],
            "p99": {
                r["mode"]: percentile(r["latencies"], 0.99) for r in results if r["round"] == n
            },
        }
        for n in rounds
    ]


def report_a(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Section (a)'s tables: each mode against provisioning off, goal p99 <= 1.15x."""
    modes = list(A_MODES)
    stats = {mode: pooled(results, mode) for mode in modes}
    rounds = per_round(results, modes)
    off = stats[OFF]
    print(
        f"\n### (a) {args.a_users} users x {args.a_logins} concurrent logins, LiveLike "
        f"{args.latency_a_ms:g} ms: {len(rounds)} rounds per mode, {args.a_clients} clients, "
        + (
            f"a user's logins due together, {args.a_rate:g} logins/s"
            if args.a_rate
            else "back to back"
        )
        + "\n"
    )
    print(
        "| mode | logins | p50 ms | p99 ms | p99 / off, pooled | p99 / off, median of rounds "
        "| logins/s | gunicorn CPU ms/login | db_worker CPU ms/login | machine CPU busy "
        "| profiles created (users) | tasks | goal <= 1.15x |"
    )
    print("| --- |" + " ---: |" * 11 + " --- |")
    for mode in modes:
        s = stats[mode]
        ratios = [r["p99"][mode] / r["p99"][OFF] for r in rounds]
        median = statistics.median(ratios)
        goal = "-" if mode == OFF else verdict(s["p99"] / off["p99"] <= A_GOAL, median <= A_GOAL)
        created = "-" if mode == OFF else f"{s['creates']} ({s['users']}, {s['active']} active)"
        print(
            f"| {mode} | {s['logins']} | {s['p50']:.0f} | {s['p99']:.0f} | "
            f"{s['p99'] / off['p99']:.2f}x | {median:.2f}x | {s['rate']:.0f} | {s['cpu']:.2f} | "
            f"{s['workers']:.2f} | {s['busy']:.0%} | {created} | {s['tasks']} | {goal} |"
        )
    print_rounds(rounds, modes)


def report_b(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Section (b)'s tables: each mode against provisioning off, goal p99 within 30 ms."""
    modes = list(B_MODES)
    stats = {mode: pooled(results, mode) for mode in modes}
    rounds = per_round(results, modes)
    off = stats[OFF]
    print(
        f"\n### (b) A surge of stored-mode first logins: {args.b_users} in "
        f"{args.b_users / args.b_rate:g} s ({args.b_rate:g}/s), LiveLike {args.latency_b_ms:g} ms, "
        f"{len(rounds)} rounds per mode, {args.b_clients} clients\n"
    )
    print(
        "| mode | logins | p50 ms | p99 ms | p99 - off, pooled | p99 - off, median of rounds "
        "| gunicorn CPU ms/login | db_worker CPU ms/login | machine CPU busy "
        "| profiles created (users) | tasks | goal p99 within 30 ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for mode in modes:
        s = stats[mode]
        added = statistics.median(r["p99"][mode] - r["p99"][OFF] for r in rounds)
        within = s["p99"] - off["p99"] <= B_GOAL_MS
        goal = "-" if mode != BACKGROUND else verdict(within, added <= B_GOAL_MS)
        created = "-" if mode == OFF else f"{s['creates']} ({s['users']}, {s['active']} active)"
        print(
            f"| {mode} | {s['logins']} | {s['p50']:.0f} | {s['p99']:.0f} | "
            f"{s['p99'] - off['p99']:+.0f} ms | {added:+.0f} ms | {s['cpu']:.2f} | "
            f"{s['workers']:.2f} | {s['busy']:.0%} | {created} | {s['tasks']} | {goal} |"
        )
    print_rounds(rounds, modes)


def verdict(pooled: bool, median: bool) -> str:
    """The goal judged on the pooled p99 and on the median of the rounds' figures."""
    if pooled and median:
        return "met"
    if not pooled and not median:
        return "NOT met"
    return f"pooled {'met' if pooled else 'NOT met'}, median {'met' if median else 'NOT met'}"


def print_rounds(rounds: list[dict[str, Any]], modes: list[str]) -> None:
    print("\nEach round's p99 ms, in the order run:\n")
    print("| round | order | " + " | ".join(modes) + " |")
    print("| ---: | --- |" + " ---: |" * len(modes))
    for n, r in enumerate(rounds):
        order = " > ".join(str(modes.index(mode) + 1) for mode in r["order"])
        print(f"| {n + 1} | {order} | " + " | ".join(f"{r['p99'][m]:.0f}" for m in modes) + " |")
    print("\n(order: the modes' column numbers, first to last)")


def a_logins(users: int, logins: int) -> list[str]:
    """Each user ``logins`` times in a row: the clients that pick them up log in at once."""
    return [f"user-{u}" for u in range(users) for _ in range(logins)]


def b_logins(users: int) -> list[str]:
    return [f"user-{u}" for u in range(users)]
