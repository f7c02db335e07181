"""The admin: read-only profile pages, search, masked tokens, query counts, and the actions.

Actions run against the fake LiveLike over real sockets, outside any
transaction (``transaction=True``), as they do in production.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from datetime import timedelta

import django
import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import connection
from django.db.models.signals import post_init
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from livelike_profiles import admin as livelike_admin
from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from livelike_profiles.provisioning.custom_ids import new_custom_id
from tests.factories import make_user

Status = LiveLikeProfile.Status
DEFAULT_USER_MODEL = settings.AUTH_USER_MODEL == "auth.User"
needs_default_user_admin = pytest.mark.skipif(
    not DEFAULT_USER_MODEL, reason="about Django's UserAdmin and its forms, for auth.User only"
)

LIST = reverse("admin:livelike_profiles_livelikeprofile_changelist")


def change_url(row: LiveLikeProfile) -> str:
    return reverse("admin:livelike_profiles_livelikeprofile_change", args=[row.pk])


def history_url(row: LiveLikeProfile) -> str:
    return reverse("admin:livelike_profiles_livelikeprofile_history", args=[row.pk])


def user_admin_url(page: str, *args) -> str:
    """A page of the user admin: auth.User's, or the custom user's (tests/custom_user/admin.py)."""
    opts = get_user_model()._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}", args=args)


def user_change_url(user) -> str:
    return user_admin_url("change", user.pk)


def local_row(n: int, **fields) -> LiveLikeProfile:
    """A profile row written directly (no LiveLike involved), with a token-like secret."""
    user = make_user(n)
    values = {
        "status": Status.ACTIVE,
        "profile_id": str(uuid.uuid4()),
        "access_token": secrets.token_urlsafe(32),
        "nickname": f"Nick{n}",
        "custom_id": new_custom_id(user),
    }
    values.update(fields)
    return LiveLikeProfile.objects.create(user=user, **values)


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def assert_no_token(page: str, token: str) -> None:
    """Neither the token nor its unmasked part is anywhere in the page."""
    assert token not in page
    assert token[:-4] not in page
    assert token[4:] not in page


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def run_action(client: Client, url: str, action: str, pks, **extra):
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], **extra}
    return client.post(url, data, follow=True)


# -- pages and permissions -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.PENDING, Status.FAILED])
def test_a_custom_id_is_hidden_until_the_profile_exists(admin_client, status):
    # Known before the profile exists, a custom id lets its holder create the
    # profile first and keep its token: staff see it once LiveLike has it.
    row = local_row(1, status=status, profile_id="", access_token="")
    page = html(admin_client.get(change_url(row)))
    assert row.custom_id not in page and "hidden until the profile exists" in page
    LiveLikeProfile.objects.filter(pk=row.pk).update(status=Status.CONFLICT)
    assert row.custom_id in html(admin_client.get(change_url(row)))  # it exists: 409


@pytest.mark.django_db
def test_changelist_change_page_and_search_work_for_a_superuser(admin_client):
    rows = [local_row(n) for n in range(3)]
    target = rows[1]
    page = html(admin_client.get(LIST))
    for row in rows:
        assert row.profile_id in page
    page = html(admin_client.get(change_url(target)))
    assert target.profile_id in page and target.custom_id in page
    assert html(admin_client.get(history_url(target)))

    def found(query: str) -> set[int]:
        response = admin_client.get(LIST, {"q": query})
        return {row.pk for row in response.context["cl"].result_list}

    assert found(target.user.get_username()) == {target.pk}
    assert found(target.profile_id) == {target.pk}
    assert found(target.custom_id) == {target.pk}
    assert found("no-such-user") == set()
    assert {
        row.pk
        for row in admin_client.get(LIST, {"status__exact": "active"}).context["cl"].result_list
    } == {row.pk for row in rows}


@pytest.mark.django_db
def test_search_by_email_where_the_user_model_has_one(admin_client):
    model = get_user_model()
    row = local_row(1)
    local_row(2)
    if model.USERNAME_FIELD != "email":
        row.user.email = "someone.special@example.org"
        row.user.save()
    email = row.user.email
    response = admin_client.get(LIST, {"q": email})
    assert [found.pk for found in response.context["cl"].result_list] == [row.pk]


@pytest.mark.django_db
def test_pages_are_refused_to_anonymous_and_non_staff_users(client):
    row = local_row(1)
    make_user(99)  # not staff
    for url in (LIST, change_url(row)):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    other = get_user_model()._default_manager.exclude(pk=row.user_id).get()
    client.force_login(other)
    for url in (LIST, change_url(row)):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_staff_without_permission_is_forbidden(client):
    row = local_row(1)
    staff = make_user(50)
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(LIST).status_code == 403
    assert client.get(change_url(row)).status_code == 403


@pytest.mark.django_db
def test_rows_cannot_be_added_edited_or_deleted_here(admin_client):
    row = local_row(1)
    assert (
        admin_client.get(reverse("admin:livelike_profiles_livelikeprofile_add")).status_code == 403
    )
    page = html(admin_client.get(change_url(row)))
    assert 'name="_save"' not in page and "deletelink" not in page
    delete = reverse("admin:livelike_profiles_livelikeprofile_delete", args=[row.pk])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert "delete_selected" not in html(admin_client.get(LIST))


def stored(row: LiveLikeProfile) -> dict:
    """The row as the database holds it, token ciphertext included (nothing decrypted)."""
    return LiveLikeProfile.objects.values().get(pk=row.pk)


@pytest.mark.django_db
def test_a_change_form_post_is_refused_and_writes_nothing(admin_client):
    row = local_row(1)
    before = stored(row)
    response = admin_client.post(
        change_url(row),
        {
            "user": str(row.user_id),
            "status": "pending",
            "profile_id": "",
            "access_token": "",
            "nickname": "Hacked",
            "attempts": "0",
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    # Not one column rewritten: not even the ciphertext re-encrypted or updated_at moved.
    assert stored(row) == before


@pytest.mark.server_db  # SQLite's IMMEDIATE transactions serialise the two writers anyway
@pytest.mark.django_db(transaction=True)
def test_a_change_form_post_racing_a_provisioning_cannot_undo_it(admin_client):
    # The operator's POST reads the row while it is pending; provisioning, on
    # its own connection, finishes and commits right after that read.
    row = local_row(1, status=Status.PENDING, profile_id="", access_token="")
    token = secrets.token_urlsafe(32)
    finished = []

    def provision_elsewhere() -> None:
        try:
            LiveLikeProfile.objects.filter(pk=row.pk).update(
                status=Status.ACTIVE, profile_id="p-provisioned", access_token=token
            )
            finished.append(True)
        finally:
            connection.close()

    def provisioning_finishes_after_the_admin_read_it(sender, instance, **kwargs):
        if instance.pk == row.pk and not finished:
            other = threading.Thread(target=provision_elsewhere)
            other.start()
            other.join()

    post_init.connect(provisioning_finishes_after_the_admin_read_it, sender=LiveLikeProfile)
    try:
        response = admin_client.post(change_url(row), {"_save": "Save"})
    finally:
        post_init.disconnect(provisioning_finishes_after_the_admin_read_it, sender=LiveLikeProfile)
    assert finished
    row = LiveLikeProfile.objects.get(pk=row.pk)
    assert (row.status, row.profile_id, row.access_token) == (Status.ACTIVE, "p-provisioned", token)
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_change_page_is_djangos_read_only_view(admin_client):
    row = local_row(1)
    response = admin_client.get(change_url(row))
    page = html(response)
    assert response.context["has_change_permission"] is False
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "deletelink" not in page
    assert row.profile_id in page and 'name="nickname"' not in page


def staff_with(client: Client, *codenames: str):
    from django.contrib.auth.models import Permission

    staff = make_user(50)
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="livelike_profiles", codename__in=codenames
        )
    )
    client.force_login(staff)
    return staff


@pytest.mark.django_db(transaction=True)
def test_the_change_permission_runs_the_actions_but_edits_nothing(client, livelike_fake):
    staff_with(client, "change_livelikeprofile")
    failed = local_row(1, status=Status.FAILED, profile_id="", access_token="")
    page = html(client.get(change_url(failed)))
    assert 'name="_save"' not in page
    before = stored(failed)
    assert client.post(change_url(failed), {"nickname": "Hacked"}).status_code == 403
    assert stored(failed) == before

    assert "provision_now" in html(client.get(LIST))
    shown = messages_of(run_action(client, LIST, "provision_now", [failed.pk]))
    assert LiveLikeProfile.objects.get(pk=failed.pk).status == Status.ACTIVE
    assert any(m.startswith("LiveLike profile created") for m in shown)


@pytest.mark.django_db(transaction=True)
def test_the_view_permission_shows_rows_but_runs_no_action(client, livelike_fake):
    staff_with(client, "view_livelikeprofile")  # (logging in provisions the staff user)
    failed = local_row(1, status=Status.FAILED, profile_id="", access_token="")
    calls = len(livelike_fake.calls)
    assert 'name="_save"' not in html(client.get(change_url(failed)))
    page = html(client.get(LIST))
    assert "provision_now" not in page and "refresh_from_livelike" not in page
    run_action(client, LIST, "provision_now", [failed.pk])
    assert LiveLikeProfile.objects.get(pk=failed.pk).status == Status.FAILED
    assert len(livelike_fake.calls) == calls


# -- what the pages say --------------------------------------------------------------


def title_of(page: str) -> str:
    return re.search(r"<title>(.*?)</title>", page, re.S).group(1)


@pytest.fixture
def minting(livelike_fake, settings):
    """``"client-generated"`` mode against the fake: rows are active before LiveLike is called."""
    settings.LIVELIKE = livelike_fake.settings(ACCESS_TOKENS="client-generated", TIMEOUT=2.0)
    return livelike_fake


@pytest.mark.django_db(transaction=True)
def test_the_change_page_title_names_the_user_and_what_is_known(admin_client, minting):
    user = make_user(1)
    row = ensure_profile(user)  # active, minting; its profile id comes with a token's first use
    assert row.is_active and row.profile_id is None
    title = title_of(html(admin_client.get(change_url(row))))
    assert f"LiveLike profile (id not learned yet) of user {user} |" in title
    assert "none yet" not in title

    waiting = local_row(2, status=Status.FAILED, profile_id=None, access_token="")
    title = title_of(html(admin_client.get(change_url(waiting))))
    assert f"LiveLike profile (not provisioned yet) of user {waiting.user} |" in title
    known = local_row(3)
    title = title_of(html(admin_client.get(change_url(known))))
    assert f"LiveLike profile {known.profile_id} of user {known.user} |" in title


@pytest.mark.django_db
def test_a_rows_str_costs_no_query_and_names_a_loaded_user(django_assert_num_queries):
    row = local_row(1)
    fetched = LiveLikeProfile.objects.get(pk=row.pk)
    with django_assert_num_queries(0):
        assert str(fetched) == f"LiveLike profile {row.profile_id} of user {row.user_id}"
    loaded = LiveLikeProfile.objects.select_related("user").get(pk=row.pk)
    with django_assert_num_queries(0):
        assert str(loaded) == f"LiveLike profile {row.profile_id} of user {row.user}"


@pytest.mark.django_db
@pytest.mark.parametrize(("due", "shown"), [(False, "up to date"), (True, "waiting to be sent")])
def test_the_nickname_to_push_is_said_in_words(admin_client, due, shown):
    row = local_row(1, nickname_sync_due=due)
    page = html(admin_client.get(change_url(row)))
    field = re.search(r"<label>Nickname to push:</label>\s*(.*?)</div>", page, re.S).group(1)
    assert shown in field and "<img" not in field


@pytest.mark.django_db
def test_the_user_pages_profile_heading_names_the_user(admin_client):
    row = local_row(1)
    page = html(admin_client.get(user_change_url(row.user)))
    heading = re.search(r'<span class="inline_label">(.*?)</span>', page, re.S).group(1)
    assert f"LiveLike profile {row.profile_id} of user {row.user}" in heading


@pytest.mark.django_db
def test_a_stored_token_kept_while_tokens_are_minted_is_not_called_never_stored(
    admin_client, livelike_settings
):
    token = secrets.token_urlsafe(32)
    row = local_row(1, access_token=token)  # provisioned in "stored" mode
    livelike_settings(ACCESS_TOKENS="client-generated", CLIENT_SECRET=secrets.token_urlsafe(32))
    for url in (change_url(row), user_change_url(row.user)):
        page = html(admin_client.get(url))
        assert "a token stored earlier is kept, unused" in page
        assert "never stored" not in page
        assert_no_token(page, token)
    fresh_row = local_row(2, access_token="")
    assert "never stored" in html(admin_client.get(change_url(fresh_row)))


# -- secrets -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_token_is_in_no_admin_page(admin_client, livelike_fake):
    users = [make_user(n) for n in range(3)]
    rows = [ensure_profile(user) for user in users]
    tokens = [livelike_fake.profile(row.profile_id).access_token for row in rows]
    ciphertexts = [row.__dict__["access_token"] for row in rows]
    failed = local_row(10, status=Status.FAILED, profile_id=None, access_token="")
    livelike_fake.revoke(rows[2].profile_id)

    pages = {
        "list": admin_client.get(LIST),
        "search by user": admin_client.get(LIST, {"q": users[0].get_username()}),
        "search by profile id": admin_client.get(LIST, {"q": rows[1].profile_id}),
        "filtered": admin_client.get(LIST, {"status__exact": "active"}),
        "change": admin_client.get(change_url(rows[0])),
        "refresh": run_action(admin_client, LIST, "refresh_from_livelike", [r.pk for r in rows]),
        "provision": run_action(admin_client, LIST, "provision_now", [rows[0].pk, failed.pk]),
        "history revoked": admin_client.get(history_url(rows[2])),
        "history provisioned": admin_client.get(history_url(failed)),
        "index": admin_client.get(reverse("admin:index")),
        "user change": admin_client.get(user_change_url(users[0])),
        "user list": admin_client.get(user_admin_url("changelist")),
        "user action": run_action(
            admin_client,
            user_admin_url("changelist"),
            "provision_livelike_profiles",
            [u.pk for u in users],
        ),
    }
    texts = {name: html(response) for name, response in pages.items()}
    for name, page in texts.items():
        for token in tokens:
            assert_no_token(page, token)
        for ciphertext in ciphertexts:
            assert ciphertext not in page, name
    # What is shown instead: the mask with the last four characters, read-only.
    assert "••••" + tokens[0][-4:] in texts["change"]
    assert not re.search(r'name="access_token"', texts["change"])
    assert "Provisioned from the admin" in texts["history provisioned"]
    assert "marked revoked" in texts["history revoked"]
    assert "••••" + tokens[0][-4:] in texts["user change"]  # the inline


# -- query counts ---------------------------------------------------------------------


@pytest.mark.django_db
def test_list_queries_do_not_grow_with_the_rows_shown(admin_client):
    for n in range(5):
        local_row(n)
    admin_client.get(LIST)  # warm up: sessions, content types
    with CaptureQueriesContext(connection) as five:
        assert len(admin_client.get(LIST).context["cl"].result_list) == 5
    for n in range(5, 50):
        local_row(n)
    with CaptureQueriesContext(connection) as fifty:
        assert len(admin_client.get(LIST).context["cl"].result_list) == 50
    assert len(fifty.captured_queries) == len(five.captured_queries)


# -- actions on profiles --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_provision_now_retries_failed_rows_and_leaves_the_others(admin_client, livelike_fake):
    later = timezone.now() + timedelta(hours=1)
    failed = local_row(
        1, status=Status.FAILED, profile_id=None, access_token="", next_attempt_at=later
    )
    conflict = local_row(2, status=Status.CONFLICT, profile_id=None, access_token="")
    active = local_row(3)
    response = run_action(admin_client, LIST, "provision_now", [failed.pk, conflict.pk, active.pk])
    shown = messages_of(response)

    row = LiveLikeProfile.objects.get(pk=failed.pk)
    assert row.status == Status.ACTIVE
    assert row.access_token == livelike_fake.profile(row.profile_id).access_token
    # One create, for the failed row only: no second profile for anyone.
    assert livelike_fake.count_calls("POST") == 1 and livelike_fake.create_count == 1
    assert LiveLikeProfile.objects.get(pk=conflict.pk).status == Status.CONFLICT
    assert LiveLikeProfile.objects.get(pk=active.pk).profile_id == active.profile_id
    assert any(
        m.startswith("LiveLike profile created") and failed.user.get_username() in m for m in shown
    )
    assert any(m.startswith("In conflict") and conflict.user.get_username() in m for m in shown)
    assert any(m.startswith("Already active") and active.user.get_username() in m for m in shown)
    assert "Provisioned from the admin" in html(admin_client.get(history_url(row)))


@pytest.mark.django_db(transaction=True)
def test_provision_now_reports_a_failure(admin_client, livelike_fake):
    failed = local_row(1, status=Status.FAILED, profile_id=None, access_token="")
    livelike_fake.fail_next_creates(1, status=503)
    shown = messages_of(run_action(admin_client, LIST, "provision_now", [failed.pk]))
    row = LiveLikeProfile.objects.get(pk=failed.pk)
    assert row.status == Status.FAILED and "LiveLikeUnavailable" in row.last_error
    assert any(m.startswith("Failed") and "HTTP 503" in m for m in shown)


@pytest.mark.django_db(transaction=True)
def test_refresh_updates_nicknames_and_marks_revoked_tokens(admin_client, livelike_fake):
    users = [make_user(n) for n in range(3)]
    renamed, revoked, unchanged = (ensure_profile(user) for user in users)
    get_client().update_own_profile(renamed.access_token, nickname="Renamed At LiveLike")
    livelike_fake.revoke(revoked.profile_id)
    failed = local_row(9, status=Status.FAILED, profile_id=None, access_token="")
    calls = len(livelike_fake.calls)

    response = run_action(
        admin_client,
        LIST,
        "refresh_from_livelike",
        [renamed.pk, revoked.pk, unchanged.pk, failed.pk],
    )
    shown = messages_of(response)

    assert LiveLikeProfile.objects.get(pk=renamed.pk).nickname == "Renamed At LiveLike"
    assert LiveLikeProfile.objects.get(pk=renamed.pk).synced_at is not None
    row = LiveLikeProfile.objects.get(pk=revoked.pk)
    assert row.status == Status.REVOKED and "HTTP 401" in row.last_error
    assert row.profile_id == revoked.profile_id  # never replaced
    assert LiveLikeProfile.objects.get(pk=unchanged.pk).status == Status.ACTIVE
    assert len(livelike_fake.calls) - calls == 3  # three reads; nothing created
    assert livelike_fake.create_count == 3
    assert any(m.startswith("Refreshed") and "Renamed At LiveLike" in m for m in shown)
    assert any(
        m.startswith("LiveLike refuses the token") and users[1].get_username() in m for m in shown
    )
    assert any(m.startswith("Not active") for m in shown)


@pytest.mark.django_db(transaction=True)
def test_actions_refuse_more_rows_than_a_request_should_handle(
    admin_client, livelike_fake, monkeypatch
):
    monkeypatch.setattr(livelike_admin.reports, "MAX_ROWS_PER_ACTION", 2)
    rows = [local_row(n, status=Status.FAILED, profile_id=None, access_token="") for n in range(3)]
    shown = messages_of(run_action(admin_client, LIST, "provision_now", [r.pk for r in rows]))
    assert any("At most 2 rows" in m for m in shown)
    assert livelike_fake.calls == []
    assert set(LiveLikeProfile.objects.values_list("status", flat=True)) == {Status.FAILED}


@pytest.mark.django_db(transaction=True)
def test_actions_provision_at_once_even_with_atomic_requests(
    admin_client, livelike_fake, atomic_requests
):
    failed = local_row(1, status=Status.FAILED, profile_id=None, access_token="")
    shown = messages_of(run_action(admin_client, LIST, "provision_now", [failed.pk]))
    assert LiveLikeProfile.objects.get(pk=failed.pk).status == Status.ACTIVE
    assert any(m.startswith("LiveLike profile created") for m in shown)


# -- the user side ---------------------------------------------------------------------


@needs_default_user_admin
def test_the_default_user_admin_gets_the_mixin():
    assert isinstance(admin.site._registry[get_user_model()], livelike_admin.LiveLikeUserAdminMixin)


@needs_default_user_admin
def test_a_sites_own_user_admin_is_left_alone():
    class SitesUserAdmin(UserAdmin):
        pass

    site = admin.AdminSite(name="other")
    site.register(get_user_model(), SitesUserAdmin)
    assert livelike_admin.register_on_default_user_admin(site) is False
    assert type(site._registry[get_user_model()]) is SitesUserAdmin

    plain = admin.AdminSite(name="plain")
    plain.register(get_user_model(), UserAdmin)
    assert livelike_admin.register_on_default_user_admin(plain) is True
    assert type(plain._registry[get_user_model()]) is livelike_admin.LiveLikeUserAdmin


@needs_default_user_admin
@pytest.mark.django_db(transaction=True)
def test_user_action_provisions_each_selected_user_once(admin_client, livelike_fake):
    users = [make_user(n) for n in range(3)]
    url = reverse("admin:auth_user_changelist")
    shown = messages_of(
        run_action(admin_client, url, "provision_livelike_profiles", [u.pk for u in users])
    )
    assert livelike_fake.create_count == 3
    assert LiveLikeProfile.objects.filter(status=Status.ACTIVE).count() == 3
    assert any(m.startswith("LiveLike profile created") for m in shown)

    shown = messages_of(
        run_action(admin_client, url, "provision_livelike_profiles", [u.pk for u in users])
    )
    assert livelike_fake.create_count == 3 and livelike_fake.count_calls("POST") == 3
    assert any(m.startswith("Already active") for m in shown)


@needs_default_user_admin
@pytest.mark.django_db(transaction=True)
def test_user_action_needs_the_profile_change_permission(client, livelike_fake):
    staff = make_user(50)
    staff.is_staff = True
    staff.save()
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(
        Permission.objects.get(codename="view_user"), Permission.objects.get(codename="change_user")
    )
    client.force_login(staff)  # (provisions the staff user's own profile at login)
    page = html(client.get(reverse("admin:auth_user_changelist")))
    assert "provision_livelike_profiles" not in page
    target = make_user(1)
    run_action(
        client, reverse("admin:auth_user_changelist"), "provision_livelike_profiles", [target.pk]
    )
    assert not LiveLikeProfile.objects.filter(user_id=target.pk).exists()
    assert livelike_fake.create_count == 1


@needs_default_user_admin
@pytest.mark.django_db(transaction=True)
def test_user_change_page_shows_the_profile_and_deleting_the_user_still_works(
    admin_client, livelike_fake
):
    user = make_user(1)
    row = ensure_profile(user)
    page = html(admin_client.get(user_change_url(user)))
    assert "LiveLike profile" in page and row.profile_id in page and "Active" in page

    # Saving the user's form leaves the profile as it was.
    response = admin_client.post(
        user_change_url(user),
        {
            "username": user.get_username(),
            "date_joined_0": "2024-01-01",
            "date_joined_1": "00:00:00",
            "is_active": "on",
            "livelike_profile-TOTAL_FORMS": "1",
            "livelike_profile-INITIAL_FORMS": "1",
            "livelike_profile-MIN_NUM_FORMS": "0",
            "livelike_profile-MAX_NUM_FORMS": "1",
            "livelike_profile-0-id": str(row.pk),
            "livelike_profile-0-user": str(user.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert LiveLikeProfile.objects.get(pk=row.pk).profile_id == row.profile_id

    delete = reverse("admin:auth_user_delete", args=[user.pk])
    assert html(admin_client.get(delete))  # no "permission to delete LiveLike profile"
    admin_client.post(delete, {"post": "yes"})
    assert not LiveLikeProfile.objects.filter(pk=row.pk).exists()


@needs_default_user_admin
@pytest.mark.django_db
def test_user_add_page_has_no_profile_inline(admin_client):
    page = html(admin_client.get(reverse("admin:auth_user_add")))
    assert "livelike_profile-TOTAL_FORMS" not in page


@needs_default_user_admin
@pytest.mark.django_db
def test_the_user_change_form_cannot_alter_the_profile_through_the_inline(admin_client):
    row = local_row(1)
    other = local_row(2)
    user = row.user
    before, other_before = stored(row), stored(other)
    altered = {
        "status": "pending",
        "profile_id": "p-hijacked",
        "access_token": "a-token-of-my-choosing",
        "nickname": "Hacked",
        "attempts": "0",
        "last_error": "x",
        "nickname_sync_due": "on",
    }
    form = {
        "username": user.get_username(),
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
        "is_active": "on",
        "livelike_profile-TOTAL_FORMS": "2",
        "livelike_profile-INITIAL_FORMS": "1",
        "livelike_profile-MIN_NUM_FORMS": "0",
        "livelike_profile-MAX_NUM_FORMS": "1",
        "livelike_profile-0-id": str(row.pk),
        "livelike_profile-0-user": str(user.pk),
        "livelike_profile-0-DELETE": "on",
        **{f"livelike_profile-0-{name}": value for name, value in altered.items()},
        "livelike_profile-1-user": str(user.pk),
        **{f"livelike_profile-1-{name}": value for name, value in altered.items()},
    }
    admin_client.post(user_change_url(user), form)
    # The same with the id of another user's row in the form.
    form["livelike_profile-0-id"] = str(other.pk)
    admin_client.post(user_change_url(user), form)
    assert stored(row) == before and stored(other) == other_before
    assert LiveLikeProfile.objects.count() == 2


@pytest.mark.skipif(django.VERSION < (6, 1), reason="actions have locations from Django 6.1")
@pytest.mark.django_db
def test_the_provision_action_is_on_the_users_change_list_not_their_change_form(rf):
    from django.contrib.admin import ActionLocation  # Django 6.1+

    operator = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    request = rf.get("/")
    request.user = operator
    user_admin = admin.site._registry[get_user_model()]
    listed = user_admin.get_actions(request, action_location=ActionLocation.CHANGE_LIST)
    on_form = user_admin.get_actions(request, action_location=ActionLocation.CHANGE_FORM)

    assert "provision_livelike_profiles" in listed
    assert "provision_livelike_profiles" not in on_form


@pytest.mark.skipif(django.VERSION < (6, 1), reason="actions have locations from Django 6.1")
@pytest.mark.django_db
def test_the_mixin_works_before_a_user_admin_with_the_older_get_actions(rf):
    from django.contrib.admin import ActionLocation  # Django 6.1+

    class SitesUserAdmin(UserAdmin):
        def get_actions(self, request):  # the signature Django 6.1 still accepts until 2028
            return super().get_actions(request)

    class Combined(livelike_admin.LiveLikeUserAdminMixin, SitesUserAdmin):
        pass

    request = rf.get("/")
    request.user = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    combined = Combined(get_user_model(), admin.AdminSite())
    listed = combined.get_actions(request, action_location=ActionLocation.CHANGE_LIST)
    on_form = combined.get_actions(request, action_location=ActionLocation.CHANGE_FORM)

    assert "provision_livelike_profiles" in listed and "delete_selected" in listed
    assert on_form == {}  # as Django 6.1 treats an override with the older signature
