"""MariaDB/MySQL's named locks: one per database and user, within MySQL's 64 characters."""

from __future__ import annotations

import uuid

from livelike_profiles.provisioning.claim_locks import lock_name


def test_lock_names_fit_mysql_and_belong_to_one_database():
    pks = [1, uuid.UUID(int=1), "x" * 300]  # an integer, a UUID, any long string
    databases = ["site_a", "site_b", "d" * 64]  # named locks are the server's, shared by all
    names = {
        lock_name(purpose, pk, db)
        for purpose in ("claim", "backfill")
        for pk in pks
        for db in databases
    }
    assert len(names) == 2 * len(pks) * len(databases)
    assert all(len(name) <= 64 for name in names)
