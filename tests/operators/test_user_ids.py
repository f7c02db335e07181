"""``--users`` of the bulk commands: ids the database could not hold are refused cleanly."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from livelike_profiles.models import LiveLikeProfile
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

# Beyond any integer column (SQLite's driver raised OverflowError on it).
HUGE = "99999999999999999999999"


@pytest.mark.parametrize("command", ["livelike_provision", "livelike_sync"])
@pytest.mark.parametrize("value", [HUGE, f"-{HUGE}", "9223372036854775808"])
def test_an_id_out_of_the_columns_range_is_a_command_error(livelike_fake, command, value):
    user = make_user(1)
    if not isinstance(user.pk, int):
        pytest.skip("integer primary keys only")
    with pytest.raises(CommandError, match=f"--users: not a valid user id: {value}"):
        call_command(command, "--users", f"{user.pk},{value}", stdout=io.StringIO())
    assert not LiveLikeProfile.objects.exists() and livelike_fake.calls == []


def test_a_large_id_the_column_holds_is_looked_up(livelike_fake):
    user = make_user(1)
    if not isinstance(user.pk, int):
        pytest.skip("integer primary keys only")
    large = "2147483647"  # AutoField's maximum on every database
    with pytest.raises(CommandError, match=f"no user with id {large}"):
        call_command("livelike_provision", "--users", large, stdout=io.StringIO())


@pytest.mark.parametrize("command", ["livelike_provision", "livelike_sync"])
@pytest.mark.parametrize("value", [",", "", " , ,"])
def test_users_without_any_id_is_a_usage_error(livelike_fake, command, value):
    # It selected nobody and exited 0, as if every named user were done.
    make_user(1)
    with pytest.raises(CommandError, match="--users: no user id given") as refused:
        call_command(command, "--users", value, stdout=io.StringIO())
    assert refused.value.returncode == 2  # as `--users` alone (argparse's usage error)
    assert not LiveLikeProfile.objects.exists() and livelike_fake.calls == []
