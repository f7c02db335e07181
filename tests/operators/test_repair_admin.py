"""The admin's "Give a working profile again…": a confirmation page first, then the repair.

Against the fake LiveLike over sockets, outside any transaction, as in production.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from tests.factories import make_user, row_of
from tests.operators.test_repair import (
    gone_at_livelike,
    in_conflict,
    revoked,
    stored,
    token_from_the_api,
)
from tests.test_admin import LIST, assert_no_token, history_url, html, messages_of, run_action

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status
ACTION = "repair_profiles"


def confirmation(client: Client, rows, **extra) -> str:
    """The action's first step: the confirmation page (nothing done yet)."""
    response = run_action(client, LIST, ACTION, [row.pk for row in rows], **extra)
    page = html(response)
    assert "What will be done" in page, messages_of(response)
    return page


def confirmed(client: Client, rows, *, allow_new_profiles: bool = False) -> list[str]:
    """The confirmation page's POST; the messages it leads to."""
    extra = {"post": "yes"}
    if allow_new_profiles:
        extra["allow_new_profiles"] = "yes"
    return messages_of(run_action(client, LIST, ACTION, [row.pk for row in rows], **extra))


def row_on_the_page(page: str, row: LiveLikeProfile) -> str:
    """The table row of the confirmation page about ``row`` (its user's name)."""
    for line in re.findall(r"<tr class=\"livelike-repair-.*?</tr>", page, re.S):
        if str(row.user) in line:
            return line
    raise AssertionError(f"{row.user} is not on the page")


@pytest.fixture
def secret(livelike_fake, livelike_settings):
    livelike_settings(CLIENT_SECRET=livelike_fake.client_secret)


def test_a_revoked_row_keeps_its_profile_minted(admin_client, livelike_fake, secret):
    row = revoked(livelike_fake)
    before, created = stored(row), livelike_fake.create_count

    page = confirmation(admin_client, [row])

    shown = row_on_the_page(page, row)
    assert "Keep the same profile" in shown and row.profile_id in shown
    assert 'name="allow_new_profiles"' not in page  # none needs a new profile
    assert stored(row) == before  # nothing done by the first step

    shown = confirmed(admin_client, [row])

    now = row_of(row.user)
    assert now.status == Status.ACTIVE and now.profile_id == row.profile_id
    assert now.uses_minted_tokens and now.stored_token == ""
    assert any(m.startswith("Working again with the same profile") for m in shown)
    # Usable through the API, as the same profile at LiveLike; nothing created there.
    from livelike_profiles.livelike.client import get_client

    assert get_client().get_own_profile(token_from_the_api(row.user)).id == row.profile_id
    assert livelike_fake.create_count == created
    assert "the same profile, tokens minted" in html(admin_client.get(history_url(row)))


def test_a_revoked_row_whose_profile_is_gone_needs_the_box_ticked(
    admin_client, livelike_fake, secret
):
    row = revoked(livelike_fake)
    gone_at_livelike(row)
    before, created = stored(row), livelike_fake.create_count

    page = confirmation(admin_client, [row])

    shown = row_on_the_page(page, row)
    assert "Start over with a new profile" in shown
    assert "no profile for the row&#x27;s custom id any more" in shown
    assert "gone from LiveLike already" in shown
    assert 'name="allow_new_profiles"' in page

    shown = confirmed(admin_client, [row])  # the box not ticked

    assert stored(row) == before and livelike_fake.create_count == created
    assert any(m.startswith("Needs a new profile, which was not allowed") for m in shown)

    shown = confirmed(admin_client, [row], allow_new_profiles=True)

    now = row_of(row.user)
    assert now.is_active and now.profile_id not in (None, row.profile_id)
    assert livelike_fake.create_count == created + 1
    assert any(m.startswith("Working again with a new profile") for m in shown)
    assert token_from_the_api(row.user) == livelike_fake.profile(now.profile_id).access_token


def test_a_conflict_without_a_secret_gets_a_new_profile_only_when_allowed(
    admin_client, livelike_fake, livelike_settings
):
    row = in_conflict(livelike_fake, livelike_settings)
    old = livelike_fake.profile_by_custom_id(row.custom_id)
    before, created = stored(row), livelike_fake.create_count

    page = confirmation(admin_client, [row])

    shown = row_on_the_page(page, row)
    assert "Start over with a new profile" in shown and "CLIENT_SECRET" in shown
    assert f"The old profile ({old.id}) stays at LiveLike" in shown
    assert "points, history and nickname" in shown

    confirmed(admin_client, [row])
    assert stored(row) == before and livelike_fake.create_count == created

    confirmed(admin_client, [row], allow_new_profiles=True)

    now = row_of(row.user)
    assert now.is_active and now.profile_id != old.id
    assert livelike_fake.create_count == created + 1
    assert livelike_fake.profile(old.id).custom_id == row.custom_id  # left as it was


def test_nothing_happens_without_the_confirmation_pages_post(admin_client, livelike_fake, secret):
    keepable = revoked(livelike_fake, 1)
    lost = revoked(livelike_fake, 2)
    gone_at_livelike(lost)
    rows = [keepable, lost]
    before = [stored(row) for row in rows]
    created, calls = livelike_fake.create_count, len(livelike_fake.calls)

    # Even with the box's value sent along: only post=yes, the page's own POST, acts.
    confirmation(admin_client, rows, allow_new_profiles="yes")

    assert [stored(row) for row in rows] == before
    assert livelike_fake.create_count == created
    new_calls = livelike_fake.calls[calls:]
    assert {(call.method, "by-custom-id" in call.path) for call in new_calls} == {("GET", True)}


def test_no_token_is_on_the_confirmation_page(admin_client, livelike_fake, secret):
    keepable = revoked(livelike_fake, 1)
    lost = revoked(livelike_fake, 2)
    gone_at_livelike(lost)
    active = ensure_profile(make_user(3))
    rows = [keepable, lost, active]
    tokens = [livelike_fake.profile(keepable.profile_id).access_token]
    tokens += [row.access_token for row in (active,)]
    tokens += [p.access_token for p in livelike_fake.deleted]
    ciphertexts = [row.stored_token for row in rows]

    page = confirmation(admin_client, rows, allow_new_profiles="yes")

    assert "Nothing" in row_on_the_page(page, active)
    for token in tokens:
        assert_no_token(page, token)
    for ciphertext in ciphertexts:
        assert ciphertext not in page
    assert "eyJ" not in page  # no minted token (a JWT) either


def test_the_view_permission_does_not_run_it(client, livelike_fake, secret):
    from tests.test_admin import staff_with

    row = revoked(livelike_fake)
    staff_with(client, "view_livelikeprofile")
    before = stored(row)
    assert ACTION not in html(client.get(LIST))
    run_action(client, LIST, ACTION, [row.pk], post="yes", allow_new_profiles="yes")
    assert stored(row) == before


def test_an_outage_is_said_and_changes_nothing(admin_client, livelike_fake, secret):
    row = revoked(livelike_fake)
    before = stored(row)
    livelike_fake.fail_next_lookups(2, status=503)

    page = confirmation(admin_client, [row])
    assert "LiveLike could not be asked" in row_on_the_page(page, row)
    shown = confirmed(admin_client, [row], allow_new_profiles=True)

    assert stored(row) == before
    assert any(m.startswith("Not repaired, nothing changed") and "HTTP 503" in m for m in shown)
