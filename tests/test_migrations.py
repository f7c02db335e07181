"""Models and migrations agree, and the migrations have descriptive names."""

from pathlib import Path

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "livelike_profiles", "--check", "--dry-run", verbosity=0)


def test_migrations_have_descriptive_names():
    folder = Path(__file__).resolve().parent.parent / "livelike_profiles" / "migrations"
    names = [p.stem for p in folder.glob("0*.py")]
    assert names and not [n for n in names if "auto" in n or n.endswith("initial")]
