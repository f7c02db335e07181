"""A pool of real ``db_worker`` processes (django-tasks-db) working off the test database's queue.

Each worker is ``python -m tests.workers manage db_worker`` (see ``tests/workers.py``): it
runs against the database pytest-django created, with the ``LIVELIKE`` setting it was
started with, and logs to a file the pool shows when a wait times out. Waits are for
conditions, polled until a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

from django.db import connection
from django.utils import timezone

from livelike_profiles.support import task_queue

ROOT = Path(__file__).resolve().parents[1]
BACKEND = "database"  # the TASKS alias of django_tasks_db's backend in tests/settings.py
# How long an idle worker sleeps before looking at the queue again.
POLL_INTERVAL = 0.05

T = TypeVar("T")


def task_results() -> Any:
    """django-tasks-db's queue: one row per task enqueued (imported late: it needs the app)."""
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(backend_name=BACKEND)


def _status() -> Any:
    framework = task_queue.framework()
    assert framework is not None, "these tests need django.tasks or django-tasks"
    return framework.TaskResultStatus


class Worker:
    """One ``db_worker`` process, known by its ``worker_id`` (what the queue's rows record)."""

    def __init__(self, worker_id: str, log: Path, env: dict[str, str]) -> None:
        self.worker_id = worker_id
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.workers", "manage", "db_worker"]
                + ["--backend", BACKEND, "--worker-id", worker_id]
                + ["--interval", str(POLL_INTERVAL), "--no-startup-delay", "--no-reload"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def started(self) -> bool:
        """Whether it is looking at the queue (its first log line says so)."""
        return "Starting worker" in self.log.read_text()

    def kill(self) -> None:
        """SIGKILL: dead at once, mid-task or not, as when a machine goes away."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (db_worker finishes its task, then exits); SIGKILL if that takes too long."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text().splitlines()[-lines:]
        state = "running" if self.alive else f"exited {self.process.returncode}"
        return f"--- worker {self.worker_id} ({state}), last lines of {self.log}:\n" + "\n".join(
            text
        )


class Workers:
    """``db_worker`` processes on the test database, ``livelike`` their ``LIVELIKE`` setting."""

    def __init__(self, livelike: dict[str, Any], log_dir: Path) -> None:
        self.livelike = livelike
        self.log_dir = log_dir
        self.env = dict(os.environ)
        self.env["DJANGO_SETTINGS_MODULE"] = os.environ.get(
            "DJANGO_SETTINGS_MODULE", "tests.settings"
        )
        self.env["WORKER_DB_NAME"] = str(connection.settings_dict["NAME"])
        self.env["WORKER_LIVELIKE"] = json.dumps(livelike)
        self.env["WORKER_LOG"] = "INFO"
        self.all: list[Worker] = []
        self._ids = count(1)

    @property
    def live(self) -> list[Worker]:
        return [worker for worker in self.all if worker.alive]

    def start(self, number: int) -> None:
        """Start ``number`` more workers and wait until each looks at the queue."""
        new = []
        for _ in range(number):
            worker_id = f"worker-{next(self._ids)}"
            new.append(Worker(worker_id, self.log_dir / f"{worker_id}.log", self.env))
        self.all += new
        self.wait_for(lambda: all(worker.started for worker in new), "the workers to start")

    def keep(self, number: int) -> None:
        """Start workers until ``number`` are alive (after one was killed)."""
        self.start(max(0, number - len(self.live)))

    def kill(self, worker_id: str) -> None:
        (worker,) = [worker for worker in self.live if worker.worker_id == worker_id]
        worker.kill()

    def stop(self) -> None:
        for worker in self.all:
            worker.stop()

    def running_tasks(self) -> list[Any]:
        """The queue's rows a live worker is running (a killed worker's stay ``RUNNING``)."""
        live = {worker.worker_id for worker in self.live}
        running = task_results().filter(status=_status().RUNNING)
        return [row for row in running if row.worker_ids and row.worker_ids[-1] in live]

    def idle(self) -> bool:
        """Nothing due on the queue, and no live worker running anything."""
        due = task_results().ready().exists()
        return not due and not self.running_tasks()

    def settle(self, seconds: float = 30) -> None:
        """Run what waits on the queue now, as if its time had come, until nothing is left.

        The tasks left for later (a follow-up for a lease's end, a retry) run
        and must find nothing to do; none may have failed (raised).
        """
        ready = task_results().filter(status=_status().READY)

        def nothing_left() -> bool:
            ready.update(run_after=timezone.now())
            return not ready.exists() and not self.running_tasks()

        self.wait_for(nothing_left, "the queue to be worked off", seconds)
        failed = task_results().filter(status=_status().FAILED)
        assert not failed.exists(), "a task raised:\n" + "\n".join(row.traceback for row in failed)

    def quiesce(self, seconds: float = 30) -> None:
        """Drop what waits on the queue, let running tasks end: none runs into the next test."""
        ready = task_results().filter(status=_status().READY)

        def quiet() -> bool:
            ready.delete()
            return not self.running_tasks()

        self.wait_for(quiet, "the workers to finish their tasks", seconds)

    def wait_for(self, condition: Callable[[], T], what: str, seconds: float = 30) -> T:
        """``condition()``'s first true value, polled until ``seconds`` have passed.

        Fails with the workers' last log lines; fails at once if a worker died
        that nobody killed.
        """
        deadline = time.monotonic() + seconds
        while True:
            value = condition()
            if value:
                return value
            dead = [w for w in self.all if not w.alive and w.process.returncode != -signal.SIGKILL]
            if dead or time.monotonic() > deadline:
                reason = "a worker died" if dead else f"timed out after {seconds:g}s"
                raise AssertionError(
                    f"{reason} waiting for {what}\n" + "\n".join(w.tail() for w in self.all)
                )
            time.sleep(0.02)  # a poll's pause, not a synchronisation: the condition decides
