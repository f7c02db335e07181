"""Locks that wake the rivals of a claim and split a backfill's batches between runners.

PostgreSQL: session advisory locks. MariaDB/MySQL: named locks (``GET_LOCK``).
The caller about to claim a user's row takes a lock named after the user
first, and holds it until the attempt's outcome is recorded; a rival finding
the claim live waits on that lock (bounded by what is left of
``WAIT_SECONDS``) and reads the row again as soon as it is free. The lock only
wakes waiters: who creates the profile is still decided by the row (see
``LiveLikeProfileQuerySet.claim``), so a lost lock can cost a wait, never a
second profile. SQLite has no such lock: rivals poll the row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any

from django.db import DatabaseError, connections, transaction

logger = logging.getLogger("livelike_profiles.claim_locks")

_POSTGRES, _MYSQL = "postgresql", "mysql"  # Django's vendor names (MariaDB's is "mysql")


def advisory_lock_key(purpose: str, pk: Any) -> int:
    """A 64-bit advisory lock key: this app's namespace, ``purpose`` and the user's pk, hashed."""
    digest = hashlib.blake2b(f"livelike_profiles.{purpose}:{pk}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def lock_name(purpose: str, pk: Any, database: str) -> str:
    """A MariaDB/MySQL named lock for ``purpose`` and the user's pk, under 64 characters.

    Named locks are the server's, not a database's (PostgreSQL's advisory
    locks are per database), so the database's name is part of the hash: two
    sites, or two test runs, on one server never share a lock. MySQL refuses
    names longer than 64 characters, so the pk (any length) is hashed too.
    """
    digest = hashlib.blake2b(f"{database}\0{purpose}\0{pk}".encode(), digest_size=16)
    return f"livelike_profiles.{purpose[:8]}.{digest.hexdigest()}"


def _name(connection: Any, purpose: str, pk: Any) -> str:
    return lock_name(purpose, pk, str(connection.settings_dict["NAME"]))


def has_locks(using: str) -> bool:
    """Whether ``using`` has this module's locks (PostgreSQL, MariaDB/MySQL).

    There rivals of a claim are woken by a lock instead of polling the row, and
    backfill runners hold their batches.
    """
    return connections[using].vendor in (_POSTGRES, _MYSQL)


@contextmanager
def claiming(user_pk: Any, using: str) -> Iterator[bool]:
    """Hold the user's claim lock while inside, if it is free: yields whether we may claim.

    ``False``: another caller holds it, mid-attempt (it claims, or has claimed,
    the row): wait for it as a rival. Always ``True`` without locks. Run in
    autocommit: a session lock (on both databases it outlives any transaction,
    committed or rolled back), released on the way out whatever happens, and
    if even the unlock fails the connection is closed, which releases it too,
    so that no lock outlives this block on a persistent connection.
    """
    if not has_locks(using):
        yield True
        return
    connection = connections[using]
    if connection.vendor == _POSTGRES:
        lock: Any = _key(user_pk)
        sql = "SELECT pg_try_advisory_lock(%s)"
    else:
        lock = _name(connection, "claim", user_pk)
        sql = "SELECT GET_LOCK(%s, 0)"  # 0: do not wait; 1 taken, 0 held elsewhere
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, [lock])
            (held,) = cursor.fetchone()
    except DatabaseError as error:
        # Refused: a MariaDB Galera cluster has no named locks. Rivals poll instead.
        logger.warning("LiveLike claim lock refused by the database: %s", type(error).__name__)
        held = None
    if held is None:
        # No lock to hold (refused above, or MariaDB/MySQL's NULL: the session
        # killed, say). The row decides alone; nothing to release.
        yield True
        return
    if not held:
        yield False
        return
    try:
        yield True
    finally:
        _unlock(connection, lock)


def _key(user_pk: Any) -> int:
    return advisory_lock_key("claim", user_pk)


def _unlock(connection: Any, lock: Any) -> None:
    sql = (
        "SELECT pg_advisory_unlock(%s)"
        if connection.vendor == _POSTGRES
        else "SELECT RELEASE_LOCK(%s)"
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, [lock])
            (released,) = cursor.fetchone()
        if not released:
            # Taken on another server session: a pooler multiplexing connections
            # (PgBouncer in transaction mode, ProxySQL) leaks it there. Rivals then
            # wait up to WAIT_SECONDS.
            logger.warning(
                "LiveLike claim lock not held by this database session at its release "
                "(a connection pooler multiplexing sessions?)"
            )
    except Exception:
        # Most likely the connection is already gone, and the lock with it.
        logger.warning(
            "LiveLike claim lock not released: closing the database connection to release it",
            exc_info=True,
        )
        connection.close()


class LockWait(Enum):
    """How a wait for the user's claim lock ended (:func:`wait_for_release`)."""

    WOKEN = "woken"  # free now: the attempt ended, or its process died (the row tells which)
    TIMED_OUT = "timed out"  # still held when the time ran out
    NO_LOCKS = "no locks"  # none on this database (or refused): poll the row instead


def wait_for_release(user_pk: Any, using: str, seconds: float) -> LockWait:
    """Wait up to ``seconds`` until no caller holds the user's claim lock.

    Nothing stays held: PostgreSQL's shared lock is a transaction's, let go
    at once; MariaDB/MySQL's is exclusive, let go by the very statement that
    got it.
    """
    if not has_locks(using):
        return LockWait.NO_LOCKS
    milliseconds = int(seconds * 1000)
    if milliseconds < 1:
        # PostgreSQL's lock_timeout of 0, and MySQL's negative timeout, wait forever.
        return LockWait.TIMED_OUT
    connection = connections[using]
    try:
        if connection.vendor == _MYSQL:
            return _wait_named(connection, user_pk, milliseconds / 1000)
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{milliseconds}ms"])
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_key(user_pk)])
    except DatabaseError as error:
        cause = error.__cause__  # psycopg's sqlstate, psycopg2's pgcode
        if getattr(cause, "sqlstate", getattr(cause, "pgcode", None)) == "55P03":  # lock timeout
            return LockWait.TIMED_OUT
        # A statement_timeout (max_statement_time) shorter than the wait, say: poll the row.
        logger.warning("LiveLike claim lock not waited for: %s", type(error).__name__)
        return LockWait.NO_LOCKS
    return LockWait.WOKEN


def _wait_named(connection: Any, user_pk: Any, seconds: float) -> LockWait:
    # No shared named locks: the rival takes the exclusive one, and RELEASE_LOCK
    # in the same statement lets it go before any other rival's turn. The rivals
    # are woken one after another, each a round trip apart. MariaDB waits
    # fractions of a second (since 10.1.2); older servers round to whole seconds.
    name = _name(connection, "claim", user_pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE GET_LOCK(%s, %s) WHEN 1 THEN RELEASE_LOCK(%s) ELSE 0 END",
            [name, seconds, name],
        )
        (released,) = cursor.fetchone()
    return LockWait.WOKEN if released == 1 else LockWait.TIMED_OUT


# -- a backfill's batch ----------------------------------------------------------------


@contextmanager
def holding_unheld(user_pks: Sequence[Any], using: str) -> Iterator[set[Any]]:
    """Lock the users no other runner holds; yields their pks, held until the block ends.

    Never waits: a user another runner holds is left to it. PostgreSQL: one
    transaction over the block, whose commit (or rollback) releases the
    transaction-scoped locks. MariaDB/MySQL: named locks outlive transactions,
    so they are released explicitly on the way out, whatever happens (and the
    connection closed if even that fails). Without locks, every user.
    """
    connection = connections[using]
    if not user_pks or not has_locks(using):
        yield set(user_pks)
    elif connection.vendor == _POSTGRES:
        with transaction.atomic(using=using):
            yield _try_advisory_xact_locks(connection, user_pks)
    else:
        names = {_name(connection, "backfill", pk): pk for pk in user_pks}
        try:
            held = _try_named_locks(connection, list(names))
        except DatabaseError as error:
            # Refused (a Galera cluster has no named locks), or failed midway with some
            # taken: closing the connection lets those go. This batch is not held:
            # another runner may take its users too, and the row decides for each.
            logger.warning(
                "LiveLike backfill batch not locked, the database refused: %s",
                type(error).__name__,
            )
            connection.close()
            yield set(user_pks)
            return
        try:
            yield {names[name] for name in held}
        finally:
            _release_named_locks(connection, held)


def _try_advisory_xact_locks(connection: Any, user_pks: Sequence[Any]) -> set[Any]:
    keys = {advisory_lock_key("backfill", pk): pk for pk in user_pks}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key FROM unnest(%s::bigint[]) AS key WHERE pg_try_advisory_xact_lock(key)",
            [list(keys)],
        )
        return {keys[key] for (key,) in cursor.fetchall()}


def _try_named_locks(connection: Any, names: list[str]) -> list[str]:
    # One statement, one column per user: a batch costs one round trip, not one per user.
    columns = ", ".join(["GET_LOCK(%s, 0)"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}", names)
        taken = cursor.fetchone()
    return [name for name, got in zip(names, taken, strict=True) if got == 1]


def _release_named_locks(connection: Any, names: list[str]) -> None:
    if not names:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(['RELEASE_LOCK(%s)'] * len(names))}", names)
    except Exception:
        logger.warning(
            "LiveLike backfill locks not released: closing the database connection to release them",
            exc_info=True,
        )
        connection.close()
