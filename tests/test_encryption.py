"""Access tokens are encrypted at rest, survive key rotation, and never leak in plain text."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import call_command
from django.db import connection

from livelike_profiles.exceptions import UnreadableTokenError
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.tokens.encryption import derive_key

pytestmark = pytest.mark.django_db

TOKEN = "tok-ExampleAccessToken-0123456789abcdef"


@pytest.fixture
def user():
    return get_user_model().objects.create_user(username="ann", password="pw")


@pytest.fixture
def profile(user):
    return LiveLikeProfile.objects.create(
        user=user, profile_id="p-1", access_token=TOKEN, status=LiveLikeProfile.Status.ACTIVE
    )


def column(profile) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT access_token FROM {LiveLikeProfile._meta.db_table} WHERE id = %s", [profile.pk]
        )
        return cursor.fetchone()[0]


def test_column_holds_ciphertext_and_model_reads_token(profile):
    stored = column(profile)
    assert TOKEN not in stored
    assert (
        Fernet(derive_key("tests-only-secret-key-not-for-production"))
        .decrypt(stored.encode())
        .decode()
        == TOKEN
    )
    assert LiveLikeProfile.objects.get(pk=profile.pk).access_token == TOKEN
    assert profile.access_token == TOKEN


def test_each_save_encrypts_differently_but_reads_the_same(profile):
    first = column(profile)
    profile.save()
    assert column(profile) != first
    assert LiveLikeProfile.objects.get(pk=profile.pk).access_token == TOKEN


def test_queryset_update_encrypts(profile):
    LiveLikeProfile.objects.filter(pk=profile.pk).update(access_token="tok-new-value-xyz")
    assert "tok-new-value-xyz" not in column(profile)
    assert LiveLikeProfile.objects.get(pk=profile.pk).access_token == "tok-new-value-xyz"


def test_empty_token_stays_empty(user):
    row = LiveLikeProfile.objects.create(user=user)
    assert column(row) == ""
    assert LiveLikeProfile.objects.get(pk=row.pk).access_token == ""
    assert LiveLikeProfile.objects.filter(access_token="").count() == 1


def test_rotation_through_secret_key_fallbacks(settings, profile):
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key"
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    row = LiveLikeProfile.objects.get(pk=profile.pk)
    assert row.access_token == TOKEN

    # Re-saving moves the token to the new key: readable once the fallback goes.
    row.save()
    assert (
        Fernet(derive_key("a-brand-new-secret-key")).decrypt(column(row).encode()).decode() == TOKEN
    )
    settings.SECRET_KEY_FALLBACKS = []
    assert LiveLikeProfile.objects.get(pk=profile.pk).access_token == TOKEN


def test_saving_other_fields_also_moves_token_to_new_key(settings, profile):
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "another-new-secret"
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    row = LiveLikeProfile.objects.get(pk=profile.pk)
    row.nickname = "changed"
    row.save()
    settings.SECRET_KEY_FALLBACKS = []
    assert LiveLikeProfile.objects.get(pk=profile.pk).access_token == TOKEN


def test_unreadable_token_raises_a_clear_error(settings, profile):
    settings.SECRET_KEY = "rotated-without-a-fallback"
    row = LiveLikeProfile.objects.get(pk=profile.pk)  # loading the row still works
    assert row.profile_id == "p-1"
    with pytest.raises(UnreadableTokenError, match="SECRET_KEY_FALLBACKS") as caught:
        _ = row.access_token
    assert TOKEN not in str(caught.value)
    assert column(profile) not in str(caught.value)


def test_unreadable_token_is_kept_not_destroyed_by_a_save(settings, profile):
    old_secret = settings.SECRET_KEY
    before = column(profile)
    settings.SECRET_KEY = "rotated-without-a-fallback"
    row = LiveLikeProfile.objects.get(pk=profile.pk)
    row.nickname = "still saves"
    row.save()
    assert column(profile) == before
    settings.SECRET_KEY = old_secret
    assert LiveLikeProfile.objects.get(pk=profile.pk).access_token == TOKEN


def test_explicit_encryption_keys_override_secret_key(livelike_settings, profile):
    new_key, old_key = Fernet.generate_key(), Fernet.generate_key()
    livelike_settings(ENCRYPTION_KEYS=[new_key.decode()])
    profile.access_token = TOKEN
    profile.save()
    assert Fernet(new_key).decrypt(column(profile).encode()).decode() == TOKEN

    # Rotation: the new key first, the old one kept for reading.
    livelike_settings(ENCRYPTION_KEYS=[old_key.decode(), new_key.decode()])
    row = LiveLikeProfile.objects.get(pk=profile.pk)
    assert row.access_token == TOKEN
    row.save()
    assert Fernet(old_key).decrypt(column(profile).encode()).decode() == TOKEN


def test_str_repr_pickle_and_serialization_never_show_the_token(profile):
    assert TOKEN not in str(profile)
    assert TOKEN not in repr(profile)
    assert TOKEN.encode() not in pickle.dumps(profile)
    assert pickle.loads(pickle.dumps(profile)).access_token == TOKEN
    for fmt in ("json", "xml", "python"):
        assert TOKEN not in str(serializers.serialize(fmt, [profile]))


def test_fixture_roundtrip_keeps_the_token(profile, tmp_path):
    fixture = tmp_path / "profiles.json"
    call_command("dumpdata", "livelike_profiles", output=str(fixture), verbosity=0)
    text = fixture.read_text()
    assert TOKEN not in text
    assert json.loads(text)[0]["fields"]["profile_id"] == "p-1"

    LiveLikeProfile.objects.all().delete()
    call_command("loaddata", str(fixture), verbosity=0)
    assert LiveLikeProfile.objects.get(profile_id="p-1").access_token == TOKEN


def test_fixture_made_with_another_key_fails_to_load_clearly(settings, profile, tmp_path):
    fixture = tmp_path / "profiles.json"
    call_command("dumpdata", "livelike_profiles", output=str(fixture), verbosity=0)
    LiveLikeProfile.objects.all().delete()
    old_secret = settings.SECRET_KEY

    settings.SECRET_KEY = "a key that did not make the fixture"
    with pytest.raises(UnreadableTokenError, match="SECRET_KEY_FALLBACKS"):
        call_command("loaddata", str(fixture), verbosity=0)
    assert not LiveLikeProfile.objects.exists()  # never the ciphertext stored as a token

    settings.SECRET_KEY_FALLBACKS = [old_secret]
    call_command("loaddata", str(fixture), verbosity=0)
    settings.SECRET_KEY_FALLBACKS = []  # loading re-encrypted it with the current key
    assert LiveLikeProfile.objects.get(profile_id="p-1").access_token == TOKEN


def test_plain_tokens_are_never_mistaken_for_ciphertext(user):
    jwt_like = (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    )
    for token in (TOKEN, jwt_like, "gAAAAA-short"):
        row = LiveLikeProfile.objects.create(user=user, access_token=token)
        assert LiveLikeProfile.objects.get(pk=row.pk).access_token == token
        row.delete()


def test_refresh_from_db_loads_a_row_whose_token_is_unreadable(settings, profile):
    old_secret = settings.SECRET_KEY
    before = column(profile)
    settings.SECRET_KEY = "rotated-without-a-fallback"
    LiveLikeProfile.objects.filter(pk=profile.pk).update(nickname="changed meanwhile")

    profile.refresh_from_db()  # the row loads, as LiveLikeProfile.objects.get() does

    assert profile.nickname == "changed meanwhile"
    with pytest.raises(UnreadableTokenError):
        _ = profile.access_token  # reading the token is what fails
    profile.refresh_from_db(fields=["access_token", "status"])
    profile.save()
    assert column(profile) == before  # kept as it is, not lost
    settings.SECRET_KEY = old_secret
    profile.refresh_from_db()
    assert profile.access_token == TOKEN


def test_refresh_and_deferred_loading_still_read_the_token(profile):
    LiveLikeProfile.objects.filter(pk=profile.pk).update(access_token="tok-refreshed-value")
    profile.refresh_from_db()
    assert profile.access_token == "tok-refreshed-value"
    deferred = LiveLikeProfile.objects.only("nickname").get(pk=profile.pk)
    assert deferred.access_token == "tok-refreshed-value"


def test_the_derived_key_carried_over_to_encryption_keys_reads_old_tokens(
    settings, livelike_settings, profile
):
    from livelike_profiles.encryption_keys import derived_key

    new_key = Fernet.generate_key().decode()
    # The switch as docs/how-to/rotate-keys.md shows it: the new key first, the derived one after.
    livelike_settings(ENCRYPTION_KEYS=[new_key, derived_key(settings.SECRET_KEY)])
    assert LiveLikeProfile.objects.get(pk=profile.pk).access_token == TOKEN

    call_command("livelike_rotate_keys", verbosity=0)
    assert Fernet(new_key.encode()).decrypt(column(profile).encode()).decode() == TOKEN
    livelike_settings(ENCRYPTION_KEYS=[new_key])
    assert LiveLikeProfile.objects.get(pk=profile.pk).access_token == TOKEN


def test_derived_key_is_the_key_derived_by_default():
    from livelike_profiles.encryption_keys import derived_key

    assert derived_key("some secret") == derive_key("some secret").decode()
    assert derived_key(b"some secret") == derived_key("some secret")
    Fernet(derived_key("some secret"))  # a valid Fernet key, as ENCRYPTION_KEYS wants


def test_derived_key_can_be_imported_from_a_settings_module():
    # settings.py runs before Django is set up: the module must import no Django at all.
    code = (
        "import sys; from livelike_profiles.encryption_keys import derived_key; "
        "derived_key('x'); print(sorted(n for n in sys.modules if n.startswith('django')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
