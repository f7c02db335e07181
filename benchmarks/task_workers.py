"""For ``benchmarks/background.py``: the fake LiveLike, real ``db_worker`` processes, the queue.

* :class:`Fake`: the fake LiveLike in a process of its own (so that it does
  not compete for the benchmark's GIL), its latency changed between phases,
  counting the profiles it holds per custom id (one per user, or a bug);
* :class:`DbWorkers`: django-tasks-db's ``manage.py db_worker`` processes on
  the benchmark's database (``python -m benchmarks.task_workers`` runs one:
  Django set up as the benchmark's servers are, persistent database
  connections, then ``db_worker``), their CPU time read from ``/proc``;
* the queue's state (:func:`busy`, :func:`clear_queue`, :func:`failed_tasks`),
  and :func:`machine_busy`, the share of the machine's CPU time in use.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
from benchmarks.first_login import ADMIN_TOKEN, CLIENT_ID, cpu_seconds  # noqa: E402

BACKEND = "database"  # the TASKS alias of django_tasks_db's backend in tests/settings.py


# The fake LiveLike.


def _serve_fake(latency: float, pipe: Any) -> None:
    """The fake, in a child process: sends its URL, then answers commands until ``stop``."""
    from livelike_profiles.fake import FakeLiveLike

    with FakeLiveLike(CLIENT_ID, ADMIN_TOKEN, latency=latency) as fake:
        pipe.send(fake.url)
        while (command := pipe.recv())[0] != "stop":
            if command[0] == "latency":
                fake.latency = command[1]
                pipe.send(None)
            elif command[0] == "counts":
                per_user = Counter(p.custom_id for p in fake.profiles)
                pipe.send(
                    {
                        "creates": fake.create_count,
                        "profiles": sum(per_user.values()),
                        "users": len(per_user),
                        "most": max(per_user.values(), default=0),
                    }
                )


class Fake:
    """The fake LiveLike in a process of its own, driven over a pipe."""

    def __init__(self, latency_ms: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve_fake, args=(latency_ms / 1000, child_end), daemon=True
        )
        self.process.start()
        self.url: str = self.pipe.recv()

    def latency(self, ms: float) -> None:
        self.pipe.send(("latency", ms / 1000))
        self.pipe.recv()

    def counts(self) -> dict[str, int]:
        """Profiles created, held, users (custom ids) holding one, and the most any user holds."""
        self.pipe.send(("counts",))
        return self.pipe.recv()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.pipe.send(("stop",))
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


def livelike(fake: Fake, **overrides: Any) -> dict[str, Any]:
    """A ``LIVELIKE`` setting pointing at ``fake``: stored tokens, the task backend's alias."""
    return {
        "CLIENT_ID": CLIENT_ID,
        "API_URL": fake.url,
        "API_TOKEN": ADMIN_TOKEN,
        "TIMEOUT": 10,
        "ACCESS_TOKENS": "stored",
        "TASK_BACKEND": BACKEND,
        **overrides,
    }


# Real db_worker processes.


class DbWorkers:
    """``number`` ``db_worker`` processes on database ``db``, with ``LIVELIKE`` ``settings``."""

    def __init__(self, number: int, db: str, settings: str, interval: float) -> None:
        env = {**os.environ, "LL_BENCH_DB": db, "LL_BENCH_LIVELIKE": settings}
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.task_workers", f"bench-{n}", str(interval)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(number)
        ]
        for process in self.processes:  # each says "ready" once connected, before db_worker
            if process.stdout.readline().strip() != "ready":
                self.stop()
                raise SystemExit("a db_worker did not start: see above")

    def cpu(self) -> float:
        """CPU seconds (user + system) the workers used so far."""
        total = 0.0
        for process in self.processes:
            with contextlib.suppress(OSError):
                total += cpu_seconds(process.pid)
        return total

    def stop(self) -> None:
        """SIGTERM (db_worker ends its task, then exits); SIGKILL if that takes too long."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_worker(worker_id: str, interval: str) -> None:
    """One worker: Django as the benchmark's servers have it, then ``manage.py db_worker``."""
    from benchmarks.first_login import configure

    configure(os.environ["LL_BENCH_DB"], os.environ["LL_BENCH_LIVELIKE"])
    from django.core.management import call_command
    from django.db import connection

    connection.ensure_connection()
    print("ready", flush=True)
    call_command(
        "db_worker",
        "--backend",
        BACKEND,
        "--worker-id",
        worker_id,
        "--interval",
        interval,
        "--no-startup-delay",
        "--no-reload",
    )


# The queue, the profile rows, the machine.


def _status() -> Any:
    from livelike_profiles.support import task_queue

    return task_queue.framework().TaskResultStatus


def tasks() -> Any:
    """django-tasks-db's queue: one row per task enqueued."""
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(backend_name=BACKEND)


def busy() -> bool:
    """Whether a task is due now or running (a follow-up left for later is neither)."""
    return tasks().ready().exists() or tasks().filter(status=_status().RUNNING).exists()


def clear_queue() -> int:
    """Delete what is left on the queue but failures (follow-ups for later, results): how many.

    Only once every profile it was about is active: the follow-ups (for a
    lease's end, should a worker die) would find nothing to do, and each
    phase then starts on an empty queue.
    """
    return tasks().exclude(status=_status().FAILED).delete()[0]


def failed_tasks() -> int:
    return tasks().filter(status=_status().FAILED).count()


def active_rows(prefix: str) -> int:
    """Active profile rows of the users whose name starts with ``prefix``."""
    from livelike_profiles.models import LiveLikeProfile

    return LiveLikeProfile.objects.filter(
        user__username__startswith=prefix, status=LiveLikeProfile.Status.ACTIVE
    ).count()


def last_activation(prefix: str) -> float:
    """When the last of those rows was saved (its ``updated_at``, a worker's clock: this one's)."""
    from django.db.models import Max

    from livelike_profiles.models import LiveLikeProfile

    rows = LiveLikeProfile.objects.filter(user__username__startswith=prefix)
    return rows.aggregate(last=Max("updated_at"))["last"].timestamp()


def wait_for(condition: Callable[[], Any], what: str, seconds: float) -> None:
    """Poll ``condition`` until it holds; fail the run after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(0.02)  # a poll's pause: the condition decides


def cpu_ticks() -> tuple[int, int]:
    """The machine's CPU time so far, in ticks: busy (all but idle and iowait), and all."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def machine_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time in use between two :func:`cpu_ticks` (all processes)."""
    return (after[0] - before[0]) / max(1, after[1] - before[1])


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the benchmark stops its workers itself
    run_worker(sys.argv[1], sys.argv[2])
