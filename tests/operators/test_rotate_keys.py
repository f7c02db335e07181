"""``manage.py livelike_rotate_keys``: every token moves to the new key and stays readable."""

from __future__ import annotations

import io
import re

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError

from livelike_profiles.models import LiveLikeProfile
from tests.factories import make_user

pytestmark = pytest.mark.django_db

Status = LiveLikeProfile.Status
OLD, NEW, LOST = (Fernet.generate_key().decode() for _ in range(3))


def add_rows(livelike_settings, key: str, start: int, count: int) -> dict[int, str]:
    """Rows whose tokens are encrypted with ``key``; returns ``{pk: token}``."""
    livelike_settings(ENCRYPTION_KEYS=[key])
    tokens = {}
    for n in range(start, start + count):
        token = f"token-{n}-" + Fernet.generate_key().decode()
        row = LiveLikeProfile.objects.create(
            user=make_user(n), status=Status.ACTIVE, profile_id=f"p{n}", access_token=token
        )
        tokens[row.pk] = token
    return tokens


def raw() -> dict[int, str]:
    """The stored ciphertext of every row, read without decrypting."""
    return {
        pk: str(value) for pk, value in LiveLikeProfile.objects.values_list("pk", "access_token")
    }


def rotate_keys(*args: str) -> str:
    out = io.StringIO()
    call_command("livelike_rotate_keys", *args, stdout=out)
    return out.getvalue()


def count(output: str, label: str) -> int:
    match = re.search(rf"^\s+{re.escape(label)}\s+(\d+)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return int(match.group(1))


def under(key: str, ciphertext: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


def test_every_token_moves_to_the_new_key_and_stays_readable(livelike_settings):
    tokens = add_rows(livelike_settings, OLD, 0, 5)
    LiveLikeProfile.objects.create(user=make_user(99), status=Status.FAILED)  # no token
    livelike_settings(ENCRYPTION_KEYS=[NEW, OLD])

    output = rotate_keys("--batch-size", "2")

    assert count(output, "tokens stored") == 5
    assert count(output, "re-encrypted") == 5
    stored = raw()
    assert all(under(NEW, stored[pk]) for pk in tokens)
    # The old key can go now: every token still reads as it was.
    livelike_settings(ENCRYPTION_KEYS=[NEW])
    for row in LiveLikeProfile.objects.filter(pk__in=tokens):
        assert row.access_token == tokens[row.pk]
    for token in tokens.values():
        assert token not in output


def test_a_rerun_resumes_where_a_run_stopped(livelike_settings):
    tokens = add_rows(livelike_settings, OLD, 0, 4)
    livelike_settings(ENCRYPTION_KEYS=[NEW, OLD])
    # As if an earlier run had stopped after two rows.
    for row in LiveLikeProfile.objects.filter(pk__in=sorted(tokens)[:2]):
        row.save()  # saving re-encrypts with the first key
    assert sum(under(NEW, value) for value in raw().values()) == 2

    output = rotate_keys()
    assert count(output, "already under the current key") == 2
    assert count(output, "re-encrypted") == 2
    output = rotate_keys()
    assert count(output, "already under the current key") == 4
    assert count(output, "re-encrypted") == 0


def test_refuses_and_changes_nothing_when_a_token_cannot_be_decrypted(livelike_settings):
    add_rows(livelike_settings, OLD, 0, 3)
    lost = add_rows(livelike_settings, LOST, 10, 2)
    livelike_settings(ENCRYPTION_KEYS=[NEW, OLD])  # LOST is not configured any more
    before = raw()

    with pytest.raises(CommandError) as refused:
        rotate_keys()

    message = str(refused.value)
    assert message.startswith("2 stored LiveLike access token(s) cannot be decrypted")
    assert "Nothing was changed" in message
    for row in LiveLikeProfile.objects.filter(pk__in=lost):
        assert f"pk={row.pk} (user {row.user_id})" in message
    assert raw() == before
    for ciphertext in before.values():
        assert ciphertext not in message


def test_dry_run_counts_and_changes_nothing(livelike_settings):
    add_rows(livelike_settings, OLD, 0, 3)
    livelike_settings(ENCRYPTION_KEYS=[NEW, OLD])
    before = raw()
    output = rotate_keys("--dry-run")
    assert "Dry run" in output and count(output, "would be re-encrypted") == 3
    assert raw() == before


def test_a_row_rewritten_meanwhile_is_left_to_the_newer_value(livelike_settings):
    from livelike_profiles.tokens import key_rotation

    tokens = add_rows(livelike_settings, OLD, 0, 2)
    livelike_settings(ENCRYPTION_KEYS=[NEW, OLD])
    first = sorted(tokens)[0]
    real_batches = key_rotation._batches

    def batches_then_a_login_rewrites(batch_size, *, stale_only=False):
        for batch in real_batches(batch_size, stale_only=stale_only):
            if stale_only:  # between the read and the update, provisioning saves a new token
                LiveLikeProfile.objects.filter(pk=first).update(access_token="brand-new-token")
            yield batch

    key_rotation._batches = batches_then_a_login_rewrites
    try:
        report = key_rotation.rotate()
    finally:
        key_rotation._batches = real_batches
    assert (report.rotated, report.changed) == (1, 1)
    assert LiveLikeProfile.objects.get(pk=first).access_token == "brand-new-token"
