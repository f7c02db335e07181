"""Working beside the site's own transaction: :func:`after_commit` and :func:`savepoint`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

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


def savepoint(using: str) -> Any:
    """A savepoint inside a transaction, nothing outside one: a write that fails spares it.

    Where a write may lose a race to a unique constraint (``IntegrityError``)
    inside the site's transaction, the savepoint keeps that transaction usable.
    """
    if transaction.get_connection(using).in_atomic_block:
        return transaction.atomic(using=using)
    return contextlib.nullcontext()
