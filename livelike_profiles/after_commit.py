"""Work to do once the current transaction commits: :func:`after_commit`."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction


def after_commit(name: str, work: Callable[[], object], *, using: str) -> None:
    """Run ``work()`` once ``using``'s current transaction commits; never, if it rolls back.

    Outside a transaction Django runs it at once. Robust: an exception it
    raises is logged (by ``name``) and never reaches the code that committed.
    Django names a failing callback by its ``__qualname__``, which a
    ``partial`` or a bound method may lack (the logging itself then raises):
    the callback is given ``name``.
    """

    def run() -> None:
        work()

    run.__qualname__ = run.__name__ = name
    transaction.on_commit(run, using=using, robust=True)
