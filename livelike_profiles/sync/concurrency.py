"""Running bulk work against LiveLike: batches fed to worker threads, a shared pause after a 429.

Used by the backfill (``livelike_provision``), the refresh (``livelike_sync``)
and, for its report, the erasure of the outbox.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from django.db import connections
from django.db.models import QuerySet

from ..exceptions import LiveLikeRateLimited

# How long a rate-limited run waits at most before going on, and how often one
# item is tried again after a 429 within a run.
MAX_RATE_LIMIT_PAUSE = 60.0
RATE_LIMIT_RETRIES = 3

T = TypeVar("T")
R = TypeVar("R")


class Throttle:
    """A pause shared by threads: after a 429 nobody calls LiveLike until it is over."""

    def __init__(self, max_pause: float = MAX_RATE_LIMIT_PAUSE) -> None:
        self.max_pause = max_pause
        self._until = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float | None) -> None:
        """Hold every thread for ``seconds`` (1 if LiveLike gave no Retry-After), capped."""
        wait = min(self.max_pause, 1.0 if seconds is None else max(0.0, seconds))
        with self._lock:
            self._until = max(self._until, time.monotonic() + wait)

    def wait(self) -> None:
        """Return once no pause is in force."""
        while True:
            with self._lock:
                left = self._until - time.monotonic()
            if left <= 0:
                return
            time.sleep(left)


def retry_rate_limited(
    attempt: Callable[[int], R],
    rate_limit_of: Callable[[R], LiveLikeRateLimited | None],
    throttle: Throttle | None,
) -> R:
    """``attempt(n)`` once no pause is in force; again after a 429, ``RATE_LIMIT_RETRIES`` times.

    ``rate_limit_of`` finds the 429 in what an attempt returned (``None``: not
    rate-limited). Each 429 pauses ``throttle`` (every thread sharing it) for
    its ``Retry-After``. Without a throttle there is no retry. Returns the last
    attempt's result.
    """
    for n in range(RATE_LIMIT_RETRIES + 1):
        if throttle is not None:
            throttle.wait()
        result = attempt(n)
        error = rate_limit_of(result)
        if error is None or throttle is None or n == RATE_LIMIT_RETRIES:
            return result
        throttle.pause(error.retry_after)
    raise AssertionError("unreachable")  # pragma: no cover


_STOP = object()


class Workers(Generic[T, R]):
    """``concurrency`` threads applying ``work`` to items, results in completion order.

    Each thread gets its own database connection (Django's are per thread) and
    closes it when it stops. ``work`` returning or raising is both a result:
    an exception is handed back as the result, never lost in a thread.
    """

    def __init__(self, work: Callable[[T], R], concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.work = work
        self.concurrency = concurrency
        self.cancelled = threading.Event()
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[tuple[T, R | BaseException | None]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._outstanding = 0  # items handed over whose result was not yet taken

    def __enter__(self) -> Workers[T, R]:
        for n in range(self.concurrency):
            thread = threading.Thread(target=self._run, name=f"livelike-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for _ in self._threads:
            self._tasks.put(_STOP)
        for thread in self._threads:
            thread.join()

    def map(self, items: list[T]) -> Iterator[tuple[T, R | BaseException | None]]:
        """Run ``work`` on every item; yields ``(item, result)``, ``None`` when cancelled."""
        for item in items:
            self._tasks.put(item)
        self._outstanding += len(items)
        return self.drain()

    def drain(self) -> Iterator[tuple[T, R | BaseException | None]]:
        """Yield the results still owed for items already handed over."""
        while self._outstanding:
            result = self._results.get()
            self._outstanding -= 1
            yield result

    def _run(self) -> None:
        try:
            while (item := self._tasks.get()) is not _STOP:
                if self.cancelled.is_set():
                    self._results.put((item, None))
                    continue
                try:
                    result: R | BaseException = self.work(item)
                except Exception as error:
                    result = error
                self._results.put((item, result))
        finally:
            connections.close_all()  # this thread's connections only


# -- a run over batches --------------------------------------------------------------


class _Outcome(Protocol):
    """A result that says what happened to its item (``outcome``)."""

    @property
    def outcome(self) -> Any: ...


OutcomeT = TypeVar("OutcomeT")
ResultT = TypeVar("ResultT", bound=_Outcome)


@dataclass
class RunReport(Generic[OutcomeT, ResultT]):
    """What every bulk run counts: each outcome, how many items are done, whether Ctrl-C stopped it.

    A subclass lists its ``OUTCOMES``; it keeps the first ``MAX_KEPT`` results
    whose outcome is one of ``KEPT`` (the ones an operator wants named), in ``kept``.
    """

    OUTCOMES: ClassVar[Iterable[Any]] = ()
    KEPT: ClassVar[tuple[Any, ...]] = ()
    MAX_KEPT: ClassVar[int] = 0

    done: int = 0
    counts: dict[OutcomeT, int] = field(init=False)
    kept: list[ResultT] = field(default_factory=list)
    interrupted: bool = False

    def __post_init__(self) -> None:
        self.counts = dict.fromkeys(self.OUTCOMES, 0)

    def add(self, result: ResultT) -> None:
        """Count one item's result, and keep it if it is worth naming."""
        self.count(result.outcome)
        if result.outcome in self.KEPT:
            self.keep(result)

    def count(self, outcome: OutcomeT) -> None:
        """Count one item done with ``outcome``."""
        self.done += 1
        self.counts[outcome] += 1

    def keep(self, result: ResultT) -> None:
        """Keep ``result`` to name it in the report, unless ``MAX_KEPT`` are kept already."""
        if len(self.kept) < self.MAX_KEPT:
            self.kept.append(result)


def check_batch_size(size: int) -> None:
    """Raise :class:`ValueError` for a batch size below 1, before a run starts."""
    if size < 1:
        raise ValueError("batch_size must be at least 1")


def in_pk_batches(rows: QuerySet, size: int) -> Iterator[list[Any]]:
    """``rows`` in primary-key order, ``size`` at a time, each batch read once the last is done.

    Memory stays flat however many rows there are. Each batch starts after the
    last primary key seen, not at an offset, so rows that leave ``rows``
    meanwhile (provisioned by another runner, say) make the next batch skip none.
    """
    rows = rows.order_by("pk")
    batch = list(rows[:size])
    while batch:
        yield batch
        batch = list(rows.filter(pk__gt=batch[-1].pk)[:size])


class _Interruptible(Protocol):
    interrupted: bool


def run_in_batches(
    report: _Interruptible,
    work: Callable[[T], R],
    concurrency: int,
    batches: Iterable[list[Any]],
    run_batch: Callable[[Workers[T, R], list[Any]], None],
    settle: Callable[[T, R | BaseException | None], None],
) -> None:
    """Hand each of ``batches`` to ``concurrency`` threads running ``work``, one batch at a time.

    ``run_batch(workers, batch)`` gives the threads a batch (:meth:`Workers.map`)
    and takes its results. On ``KeyboardInterrupt`` (Ctrl-C) no thread starts
    another item, ``report.interrupted`` is set, and the items a thread already
    holds finish: ``settle(item, result)`` takes each one's result. The rest
    are left for the next run. Any other exception stops the threads once the
    items handed over are done, and comes out.
    """
    with Workers(work, concurrency) as workers:
        try:
            for batch in batches:
                run_batch(workers, batch)
        except KeyboardInterrupt:
            workers.cancelled.set()
            report.interrupted = True
            for item, result in workers.drain():
                settle(item, result)
