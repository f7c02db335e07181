"""What the server database says about locks, for the tests on PostgreSQL and MariaDB/MySQL.

Each helper asks the database itself (``pg_locks``, ``IS_USED_LOCK``...) on the
calling thread's connection, never the app's own bookkeeping.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from livelike_profiles.provisioning import claim_locks


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _name(purpose: str, user_pk: Any) -> str:
    return claim_locks.lock_name(purpose, user_pk, str(connection.settings_dict["NAME"]))


def lock_holder(purpose: str, user_pk: Any) -> int | None:
    """The server session (backend pid, connection id) holding the user's lock, if any."""
    with connection.cursor() as cursor:
        if _on_postgres():
            # A 64-bit key is stored as two 32-bit halves.
            key = claim_locks.advisory_lock_key(purpose, user_pk) & 0xFFFFFFFFFFFFFFFF
            cursor.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
                [key >> 32, key & 0xFFFFFFFF],
            )
            found = cursor.fetchone()
            return found[0] if found else None
        cursor.execute("SELECT IS_USED_LOCK(%s)", [_name(purpose, user_pk)])
        return cursor.fetchone()[0]


def claim_lock_holder(user: Any) -> int | None:
    """The server session holding the user's claim lock, if any."""
    return lock_holder("claim", user.pk)


def terminate(session: int) -> None:
    """End another server session, as a crash or an administrator would."""
    with connection.cursor() as cursor:
        if _on_postgres():
            cursor.execute("SELECT pg_terminate_backend(%s)", [session])
        else:
            cursor.execute(f"KILL CONNECTION {int(session)}")


@contextmanager
def claim_lock_held_here(user: Any) -> Iterator[None]:
    """Hold the user's claim lock on this connection, with no claim (as a pooler leaks one)."""
    with connection.cursor() as cursor:
        if _on_postgres():
            key = claim_locks.advisory_lock_key("claim", user.pk)
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
            unlock: tuple[str, Any] = ("SELECT pg_advisory_unlock(%s)", key)
        else:
            name = _name("claim", user.pk)
            cursor.execute("SELECT GET_LOCK(%s, 0)", [name])
            assert cursor.fetchone()[0] == 1
            unlock = ("SELECT RELEASE_LOCK(%s)", name)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(unlock[0], [unlock[1]])


# MariaDB/MySQL fill INNODB_TRX from a cache they refresh only when it was not read
# for 0.1 s: polled more often than that, it answers the same forever.
_INNODB_CACHE_IDLE = 0.12
_innodb_read_at = 0.0


def someone_waits_for_a_row_lock() -> bool:
    """Whether a transaction of this database waits for another's row lock right now.

    On MariaDB/MySQL it first lets the server's cache of transactions expire
    (see ``_INNODB_CACHE_IDLE``): the answer is then never older than the call.
    """
    global _innodb_read_at
    with connection.cursor() as cursor:
        if _on_postgres():
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        else:
            time.sleep(max(0.0, _innodb_read_at + _INNODB_CACHE_IDLE - time.monotonic()))
            # The server's transactions, of every database: keep this one's.
            cursor.execute(
                "SELECT count(*) FROM information_schema.INNODB_TRX AS trx"
                " JOIN information_schema.PROCESSLIST AS process"
                " ON process.ID = trx.trx_mysql_thread_id"
                " WHERE trx.trx_state = 'LOCK WAIT' AND process.DB = DATABASE()"
            )
            _innodb_read_at = time.monotonic()
        return cursor.fetchone()[0] > 0
