"""Waking the rivals of a claim on PostgreSQL, instead of letting them poll the row.

The caller about to claim a user's row takes a session advisory lock keyed on
the user first, and holds it until the attempt's outcome is recorded; a rival
finding the claim live waits on that lock (shared, bounded by what is left of
``WAIT_SECONDS``) and reads the row again as soon as it is free. The lock only
wakes waiters: who creates the profile is still decided by the row (see
``LiveLikeProfileQuerySet.claim``), so a lost lock can cost a wait, never a
second profile. Other databases have no such lock here: rivals poll the row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connections, transaction

logger = logging.getLogger(__name__)


def advisory_lock_key(purpose: str, pk: Any) -> int:
    """A 64-bit advisory lock key: this app's namespace, ``purpose`` and the user's pk, hashed."""
    digest = hashlib.blake2b(f"livelike_profiles.{purpose}:{pk}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _key(user_pk: Any) -> int:
    return advisory_lock_key("claim", user_pk)


def has_locks(using: str) -> bool:
    """Whether rivals on ``using`` are woken by the lock (PostgreSQL), not by polling."""
    return connections[using].vendor == "postgresql"


@contextmanager
def claiming(user_pk: Any, using: str) -> Iterator[bool]:
    """Hold the user's claim lock while inside, if it is free: yields whether we may claim.

    ``False``: another caller holds it, mid-attempt (it claims, or has claimed,
    the row): wait for it as a rival. Always ``True`` without locks. Run in
    autocommit: a session lock, released on the way out whatever happens, and
    if even the unlock fails the connection is closed, which releases it too,
    so that no lock outlives this block on a persistent connection.
    """
    if not has_locks(using):
        yield True
        return
    connection = connections[using]
    key = _key(user_pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (held,) = cursor.fetchone()
    if not held:
        yield False
        return
    try:
        yield True
    finally:
        _unlock(connection, key)


def _unlock(connection: Any, key: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            (released,) = cursor.fetchone()
        if not released:
            # Taken on another server session: a pooler in transaction mode
            # (PgBouncer's) leaks it there. Rivals then wait up to WAIT_SECONDS.
            logger.warning(
                "LiveLike claim lock not held by this database session at its release "
                "(a connection pooler in transaction mode?)"
            )
    except Exception:
        # Most likely the connection is already gone, and the lock with it.
        logger.warning(
            "LiveLike claim lock not released: closing the database connection to release it",
            exc_info=True,
        )
        connection.close()


def wait_for_release(user_pk: Any, using: str, seconds: float) -> bool | None:
    """Wait up to ``seconds`` until no caller holds the user's claim lock.

    ``True``: it is free (the attempt ended, or its process died: read the
    row to know which); ``False``: still held when ``seconds`` ran out;
    ``None``: no locks on this database (poll the row instead). Nothing stays
    held: the shared lock is a transaction's, let go at once.
    """
    if not has_locks(using):
        return None
    milliseconds = int(seconds * 1000)
    if milliseconds < 1:
        return False  # a lock_timeout of 0 would wait forever
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{milliseconds}ms"])
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_key(user_pk)])
    except DatabaseError as error:
        cause = error.__cause__  # psycopg's sqlstate, psycopg2's pgcode
        if getattr(cause, "sqlstate", getattr(cause, "pgcode", None)) == "55P03":  # lock timeout
            return False
        # A statement_timeout shorter than the wait, say: poll the row instead.
        logger.warning("LiveLike claim lock not waited for: %s", type(error).__name__)
        return None
    return True
