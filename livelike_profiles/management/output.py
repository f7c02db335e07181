"""What the management commands print: a progress line and small tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from django.core.management.base import OutputWrapper


class _Report(Protocol):
    """What the progress line reads of a report: how many users are done."""

    @property
    def done(self) -> int: ...


R = TypeVar("R", bound=_Report)


class Progress:
    """A progress line through ``self.stdout``: redrawn in place on a terminal,
    otherwise one line per tenth of the work (a log file gets ten lines, not a million).
    """

    BAR_WIDTH = 24
    REDRAW_SECONDS = 0.2

    def __init__(self, out: OutputWrapper, total: int, *, tty: bool | None = None) -> None:
        self.out = out
        self.total = total
        self.tty = out.isatty() if tty is None else tty
        self._drawn_at = 0.0
        self._next_tenth = 1
        self._dirty = False

    def update(self, done: int, counts: str, *, final: bool = False) -> None:
        """Show ``done`` of ``total`` and the ``counts`` text, if it is time to."""
        if self.tty:
            now = time.monotonic()
            if final or now - self._drawn_at >= self.REDRAW_SECONDS:
                self._drawn_at = now
                self.out.write("\r" + self.line(done, counts), ending="")
                self.out.flush()
                self._dirty = True
            return
        tenth = done * 10 // self.total if self.total else 10
        if tenth >= self._next_tenth or (final and done and self._next_tenth <= 10):
            self._next_tenth = tenth + 1
            self.out.write(self.line(done, counts))

    def close(self) -> None:
        """End the redrawn line, so what follows starts on a line of its own."""
        if self._dirty:
            self.out.write("")
            self._dirty = False

    def line(self, done: int, counts: str) -> str:
        fraction = done / self.total if self.total else 1.0
        filled = int(fraction * self.BAR_WIDTH)
        bar = "#" * filled + "-" * (self.BAR_WIDTH - filled)
        return f"[{bar}] {fraction:4.0%} {done}/{self.total}  {counts}"


def table(rows: list[tuple[str, Any]]) -> str:
    """A two-column plain-text table, numbers right-aligned."""
    width = max(len(label) for label, _ in rows)
    values = [str(value) for _, value in rows]
    value_width = max(len(value) for value in values)
    return "\n".join(
        f"  {label:<{width}}  {value:>{value_width}}"
        for (label, _), value in zip(rows, values, strict=True)
    )


def progress_reporter(
    out: OutputWrapper,
    verbosity: int,
    *,
    total: Callable[[R], int],
    counts: Callable[[R], str],
) -> tuple[Callable[[R], None] | None, Callable[[R], None]]:
    """An ``on_result`` callback drawing a :class:`Progress` (``None`` at verbosity 0),
    and a ``finish(report)`` that draws the last state and ends the line.

    The bar is created at the first result, when the report knows its total.
    """
    bars: list[Progress] = []

    def on_result(report: R) -> None:
        if not bars:
            bars.append(Progress(out, total(report)))
        bars[0].update(report.done, counts(report))

    def finish(report: R) -> None:
        if bars:
            bars[0].update(report.done, counts(report), final=True)
            bars[0].close()

    return (on_result if verbosity >= 1 else None), finish
