"""One row per LiveLike profile and per custom id, enforced by the database on every backend.

MariaDB and MySQL cannot create conditional unique constraints (Django skips
them with ``models.W036``), so "no id yet" is NULL and the columns are plainly
unique: every database lets NULLs repeat and refuses a repeated value.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from livelike_profiles.models import LiveLikeProfile
from tests.factories import make_users

APP = "livelike_profiles"
BEFORE, AFTER = "0002_revoked_status_and_sync_fields", "0005_unique_ids"


def test_no_constraint_needs_partial_indexes():
    assert [c.name for c in LiveLikeProfile._meta.constraints if c.condition is not None] == []
    for name in ("profile_id", "custom_id"):
        field = LiveLikeProfile._meta.get_field(name)
        assert field.unique and field.null, name


@pytest.mark.django_db
def test_the_model_checks_clean_on_this_database():
    ids = [message.id for message in LiveLikeProfile.check(databases=["default"])]
    assert ids == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["profile_id", "custom_id"])
def test_rows_without_the_id_coexist_and_a_repeated_id_is_refused(name):
    first, second, third = make_users(3)
    LiveLikeProfile.objects.create(user=first)
    LiveLikeProfile.objects.create(user=second)  # two rows with no id yet: allowed
    LiveLikeProfile.objects.filter(user=first).update(**{name: "same"})
    with pytest.raises(IntegrityError), transaction.atomic():
        LiveLikeProfile.objects.create(user=third, **{name: "same"})
    assert LiveLikeProfile.objects.count() == 2


@pytest.mark.skipif(settings.AUTH_USER_MODEL != "auth.User", reason="builds auth.User rows")
@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_empty_ids_into_null_and_keeps_every_row():
    executor = MigrationExecutor(connection)
    executor.migrate([(APP, BEFORE)])
    try:
        old = executor.loader.project_state([(APP, BEFORE)]).apps
        User = old.get_model("auth", "User")
        Row = old.get_model(APP, "LiveLikeProfile")
        users = [User.objects.create(username=f"migrated{n}") for n in range(3)]
        Row.objects.create(user_id=users[0].pk, status="active", profile_id="p-1", custom_id="c-1")
        Row.objects.create(user_id=users[1].pk, status="failed", profile_id="", custom_id="c-2")
        Row.objects.create(user_id=users[2].pk, status="pending", profile_id="", custom_id="")

        executor = MigrationExecutor(connection)
        executor.migrate([(APP, AFTER)])
        rows = {
            row.user_id: (row.status, row.profile_id, row.custom_id)
            for row in LiveLikeProfile.objects.all()
        }
        assert rows == {
            users[0].pk: ("active", "p-1", "c-1"),
            users[1].pk: ("failed", None, "c-2"),
            users[2].pk: ("pending", None, None),
        }

        executor = MigrationExecutor(connection)
        executor.migrate([(APP, BEFORE)])  # and back: NULL becomes "" again
        Row = executor.loader.project_state([(APP, BEFORE)]).apps.get_model(APP, "LiveLikeProfile")
        assert sorted(Row.objects.values_list("profile_id", "custom_id")) == [
            ("", ""),
            ("", "c-2"),
            ("p-1", "c-1"),
        ]
    finally:
        call_command("migrate", verbosity=0)
