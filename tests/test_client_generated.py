"""Client-generated access tokens: the site mints each profile's token; LiveLike is the fake.

Every test runs the app against the shipped fake over real sockets; the fake
verifies minted tokens as LiveLike does (HS256, ``iss``, ``iat``, ``exp``) and
creates a profile at the first use of a token for an unknown custom id.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone

from livelike_profiles.exceptions import LiveLikeTokenRejected, UnreadableTokenError
from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from livelike_profiles.tokens.minting import IAT_BACKDATE_SECONDS
from tests.factories import first_answer_lost, fresh, log_in, make_user, make_users, row_of

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/livelike/profile/"
Status = LiveLikeProfile.Status


@pytest.fixture
def minted(livelike_fake, settings):
    """The site in ``"client-generated"`` mode, against the fake (which knows the secret)."""
    settings.LIVELIKE = livelike_fake.settings(ACCESS_TOKENS="client-generated", TIMEOUT=2.0)
    return livelike_fake


def stored_ciphertext(user) -> str:
    return LiveLikeProfile.objects.filter(user_id=user.pk).values_list("access_token", flat=True)[0]


def claims_of(token: str, secret: str, client_id: str = "test-client") -> dict:
    return jwt.decode(
        token, secret, algorithms=["HS256"], issuer=client_id, options={"require": ["iat"]}
    )


def api_get(user) -> dict:
    client = Client()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200, response.content
    return response.json()


# -- logins call nobody ---------------------------------------------------------------


def test_first_and_repeat_logins_make_no_call_to_livelike(minted):
    users = make_users(3)
    for user in users:
        for _ in range(3):
            log_in(user)
    assert minted.calls == []
    for user in users:
        row = row_of(user)
        assert row.is_active and row.custom_id and row.profile_id is None
        assert stored_ciphertext(user) == ""  # nothing stored: it is minted on use


def test_a_first_ensure_profile_costs_the_rows_insert_and_a_repeat_one_query(
    minted, django_assert_num_queries
):
    user = make_user()
    with django_assert_num_queries(2):  # look the row up, insert it
        assert ensure_profile(user).is_active
    again = type(user)._default_manager.get(pk=user.pk)
    with django_assert_num_queries(1):
        assert ensure_profile(again).is_active
    assert minted.calls == []


def test_inside_a_transaction_the_row_is_usable_at_once(minted):
    from django.db import transaction

    with transaction.atomic():
        user = make_user()  # created in this same transaction (a sign-up)
        row = ensure_profile(user)
        assert row.is_active and row.pk is not None
    assert row_of(user).is_active
    assert minted.calls == []


# -- the token -------------------------------------------------------------------------


def test_the_api_hands_out_a_minted_token_naming_the_rows_custom_id(minted, settings):
    user = make_user()
    answer = api_get(user)
    row = row_of(user)
    claims = claims_of(answer["access_token"], settings.LIVELIKE["CLIENT_SECRET"])
    assert claims["custom_profile_id"] == row.custom_id
    # iat backdated (a LiveLike clock a little behind ours); exp a TOKEN_TTL from now.
    assert claims["exp"] - claims["iat"] == 86400 + IAT_BACKDATE_SECONDS
    assert abs(claims["exp"] - 86400 - time.time()) < 5
    expires = datetime.fromtimestamp(claims["exp"], tz=UTC)
    assert answer["expires_at"] == expires.isoformat().replace("+00:00", "Z")
    assert answer["client_id"] == "test-client" and answer["api_url"] == minted.url
    # The fake, like LiveLike, takes it as that profile's token.
    assert get_client().get_own_profile(answer["access_token"]).id == row.profile_id
    assert stored_ciphertext(user) == ""


@pytest.mark.parametrize("behind", [1.0, 25.0])
def test_a_livelike_whose_clock_is_behind_ours_accepts_minted_tokens(minted, behind):
    minted.clock_offset = -behind  # LiveLike refuses a token issued in its future
    user = make_user()
    row = ensure_profile(user)
    assert get_client().get_own_profile(row.access_token).id
    assert api_get(user)["profile_id"] == minted.profile_by_custom_id(row.custom_id).id


def test_a_token_ttl_of_none_mints_tokens_without_expiry(minted, settings, livelike_settings):
    livelike_settings(TOKEN_TTL=None)
    answer = api_get(make_user())
    assert answer["expires_at"] is None
    assert "exp" not in claims_of(answer["access_token"], settings.LIVELIKE["CLIENT_SECRET"])


def test_the_profile_id_is_learned_once_by_the_first_answer(minted):
    user = make_user()
    log_in(user)
    first = api_get(user)
    created = minted.profile_by_custom_id(row_of(user).custom_id)
    assert created is not None and first["profile_id"] == created.id
    assert first["nickname"] == created.nickname
    calls = len(minted.calls)
    again = api_get(user)
    assert again["profile_id"] == created.id
    assert len(minted.calls) == calls  # known now: no call
    assert minted.create_count == 1


def test_an_outage_leaves_the_id_unknown_and_hands_out_the_token_anyway(minted, livelike_settings):
    user = make_user()
    with livelike_settings(API_URL="http://127.0.0.1:9/api/v1/"):  # nothing listens
        answer = api_get(user)
        assert answer["profile_id"] is None and answer["access_token"]
        row = row_of(user)
        assert row.profile_id is None and row.is_active and row.next_attempt_at is not None
    # Not asked again before the backoff is over (every request would wait for it)...
    assert api_get(user)["profile_id"] is None and minted.calls == []
    LiveLikeProfile.objects.filter(user_id=user.pk).update(next_attempt_at=None)
    # ...then learned.
    assert api_get(user)["profile_id"] == minted.profile_by_custom_id(row.custom_id).id


def test_learning_the_id_backs_off_longer_after_each_failure(minted, livelike_settings):
    livelike_settings(RETRY_BASE_SECONDS=5, RETRY_MAX_SECONDS=60)
    user = make_user()
    delays = []
    with livelike_settings(API_URL="http://127.0.0.1:9/api/v1/"):  # nothing listens
        for failures in range(1, 7):
            before = timezone.now()
            assert api_get(user)["profile_id"] is None
            row = row_of(user)
            assert row.attempts == failures
            delays.append((row.next_attempt_at - before).total_seconds())
            LiveLikeProfile.objects.filter(pk=row.pk).update(next_attempt_at=None)  # due again
    # Capped exponential with jitter (a random half to all of each step): 5, 10, 20, 40, 60, 60.
    for failures, delay in enumerate(delays, start=1):
        step = min(60, 5 * 2 ** (failures - 1))
        assert step / 2 - 1 <= delay <= step, (failures, delays)


def test_the_sites_nickname_reaches_livelike_with_the_first_call(minted, livelike_settings):
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    user = make_user(7)
    log_in(user)
    assert minted.calls == []
    answer = api_get(user)
    assert answer["nickname"] == "fan user7"
    assert minted.profile(answer["profile_id"]).nickname == "fan user7"
    assert not row_of(user).nickname_sync_due


@pytest.mark.parametrize("learner", ["livelike_sync", "the admin's refresh"])
def test_the_sites_nickname_reaches_livelike_whichever_path_learns_the_id(
    minted, livelike_settings, learner, request
):
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    user = make_user(7)
    log_in(user)
    assert row_of(user).nickname_sync_due
    if learner == "livelike_sync":
        call_command("livelike_sync", "--users", str(user.pk), stdout=io.StringIO())
    else:
        request.getfixturevalue("admin_client").post(
            "/admin/livelike_profiles/livelikeprofile/",
            {"action": "refresh_from_livelike", "_selected_action": [row_of(user).pk]},
        )
    row = row_of(user)
    assert row.profile_id, "the read learned the id"
    # LiveLike created the profile with the site's nickname, not a random one of its own.
    assert minted.profile(row.profile_id).nickname == "fan user7"
    assert row.nickname == "fan user7" and not row.nickname_sync_due
    assert minted.count_calls("PATCH") == 1 and minted.create_count == 1
    assert api_get(user)["nickname"] == "fan user7"
    assert minted.count_calls("PATCH") == 1  # nothing left to push


def test_a_site_nickname_livelike_refuses_at_sync_keeps_livelikes_own(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(
        ACCESS_TOKENS="client-generated",
        TIMEOUT=2.0,
        NICKNAME="tests.nicknames.too_long_for_livelike",
        NICKNAME_MAX_LENGTH=60,
    )
    user = make_user()
    log_in(user)
    call_command("livelike_sync", stdout=io.StringIO())
    row = row_of(user)
    assert row.profile_id and not row.nickname_sync_due
    assert row.nickname == livelike_fake.profile(row.profile_id).nickname  # LiveLike's own
    assert livelike_fake.count_calls("PATCH") == 1


def test_twenty_first_requests_at_once_make_one_profile(minted):
    user = make_user()
    clients = []
    for _ in range(20):
        client = Client()
        client.force_login(user)
        clients.append(client)
    start = threading.Barrier(len(clients))
    answers: list = []
    errors: list = []

    def first_request(client: Client) -> None:
        try:
            start.wait()
            response = client.get(URL)
            answers.append((response.status_code, response.json()))
        except Exception as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_request, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(answers) == 20
    assert {status for status, _ in answers} == {200}
    assert LiveLikeProfile.objects.filter(user_id=user.pk).count() == 1
    assert minted.create_count == 1
    (profile,) = minted.profiles
    assert row_of(user).profile_id == profile.id
    assert {a["profile_id"] for _, a in answers} <= {profile.id, None}


def test_a_nickname_change_through_the_api_uses_a_minted_token(minted):
    user = make_user()
    client = Client()
    client.force_login(user)
    response = client.patch(URL, {"nickname": "Minty"}, content_type="application/json")
    assert response.status_code == 200, response.content
    row = row_of(user)
    assert row.nickname == "Minty" and row.profile_id
    assert minted.profile(row.profile_id).nickname == "Minty"
    assert minted.create_count == 1


# -- stored mode: a lost answer --------------------------------------------------------


def test_a_lost_answer_is_recovered_with_a_minted_token(livelike_fake, settings, livelike_settings):
    secret = livelike_fake.settings()["CLIENT_SECRET"]
    user = first_answer_lost(livelike_fake, livelike_settings, CLIENT_SECRET=secret)
    (lost,) = livelike_fake.profiles
    row = ensure_profile(type(user)._default_manager.get(pk=user.pk))
    assert row.is_active and row.profile_id == lost.id
    assert stored_ciphertext(user) == ""  # LiveLike gave no token to store
    assert row.uses_minted_tokens
    token = row_of(user).access_token
    claims = claims_of(token, settings.LIVELIKE["CLIENT_SECRET"])
    assert claims["custom_profile_id"] == lost.custom_id
    assert get_client().get_own_profile(token).id == lost.id
    assert livelike_fake.create_count == 1
    assert api_get(user)["profile_id"] == lost.id


def test_without_a_secret_a_lost_answer_ends_in_conflict_naming_the_setting(
    livelike_fake, livelike_settings
):
    user = first_answer_lost(livelike_fake, livelike_settings, CLIENT_SECRET="")
    row = ensure_profile(type(user)._default_manager.get(pk=user.pk))
    assert row.status == Status.CONFLICT
    assert 'LIVELIKE["CLIENT_SECRET"]' in row.last_error
    assert livelike_fake.create_count == 1


@pytest.mark.parametrize("how", ["next_login", "admin_action", "livelike_provision"])
def test_a_conflict_recovers_once_a_secret_is_set(livelike_fake, livelike_settings, request, how):
    secret = livelike_fake.settings()["CLIENT_SECRET"]
    user = first_answer_lost(livelike_fake, livelike_settings, CLIENT_SECRET="")
    assert ensure_profile(type(user)._default_manager.get(pk=user.pk)).status == Status.CONFLICT
    (lost,) = livelike_fake.profiles

    livelike_settings(CLIENT_SECRET=secret)
    if how == "next_login":
        log_in(user)
    elif how == "admin_action":
        # Logging the operator in provisions their own profile: not counted below.
        admin_client = request.getfixturevalue("admin_client")
        response = admin_client.post(
            "/admin/livelike_profiles/livelikeprofile/",
            {"action": "provision_now", "_selected_action": [row_of(user).pk]},
        )
        assert response.status_code == 302
    else:
        call_command("livelike_provision", stdout=io.StringIO())
    row = row_of(user)
    assert row.is_active and row.profile_id == lost.id and row.last_error == ""
    assert [p.custom_id for p in livelike_fake.profiles].count(row.custom_id) == 1


# -- switching modes --------------------------------------------------------------------


def test_switching_to_client_generated_keeps_every_users_profile(
    livelike_fake, settings, livelike_settings
):
    # Stored mode: two active users, one whose answer was lost, one made without custom ids.
    settings.LIVELIKE = livelike_fake.settings(TIMEOUT=0.3)
    active = make_users(2)
    for user in active:
        assert ensure_profile(user).is_active
    livelike_settings(CUSTOM_IDS=False)
    plain = make_user(50)
    assert ensure_profile(plain).is_active
    livelike_settings(CUSTOM_IDS=True)
    livelike_fake.lose_next_create_answers(1, delay=5.0)
    lost_user = make_user(60)
    assert ensure_profile(lost_user).status == Status.FAILED
    before = {u.pk: row_of(u).profile_id for u in [*active, plain]}
    lost_id = livelike_fake.profile_by_custom_id(row_of(lost_user).custom_id).id
    plain_token = row_of(plain).access_token
    creates = livelike_fake.create_count

    settings.LIVELIKE = livelike_fake.settings(ACCESS_TOKENS="client-generated", TIMEOUT=2.0)
    for user in [*active, plain, lost_user]:
        log_in(user)
        answer = api_get(user)
        token = answer["access_token"]
        assert get_client().get_own_profile(token).id == answer["profile_id"]
        if user.pk == lost_user.pk:
            assert answer["profile_id"] == lost_id
        else:
            assert answer["profile_id"] == before[user.pk]
        if user.pk == plain.pk:  # no custom id: it keeps LiveLike's own token
            assert token == plain_token and answer["expires_at"] is None
        else:
            assert answer["expires_at"] is not None
    assert livelike_fake.create_count == creates


# -- operators ------------------------------------------------------------------------------


def test_livelike_sync_learns_the_ids_and_a_refused_minted_token_revokes_nobody(
    minted, livelike_settings
):
    users = make_users(3)
    for user in users:
        ensure_profile(user)
    out = io.StringIO()
    call_command("livelike_sync", stdout=out)
    for user in users:
        row = row_of(user)
        assert row.profile_id == minted.profile_by_custom_id(row.custom_id).id

    wrong = "another-secret-that-the-fake-does-not-know"
    livelike_settings(CLIENT_SECRET=wrong)
    out = io.StringIO()
    with pytest.raises(CommandError, match="3 profile"):
        call_command("livelike_sync", stdout=out)
    assert "refused a minted token" in out.getvalue()
    assert {row_of(u).status for u in users} == {Status.ACTIVE}


def test_the_admin_shows_that_the_token_is_minted(minted, admin_client):
    user = make_user()
    ensure_profile(user)
    page = admin_client.get(f"/admin/livelike_profiles/livelikeprofile/{row_of(user).pk}/change/")
    assert page.status_code == 200
    assert "minted on demand" in page.content.decode()


def test_the_admin_shows_no_minted_token_in_place_of_an_unreadable_one(
    livelike_fake, livelike_settings, admin_client
):
    livelike_settings(CLIENT_SECRET=livelike_fake.settings()["CLIENT_SECRET"])
    user = make_user()
    assert ensure_profile(user).is_active
    # A new key without the old one (changing SECRET_KEY would end the admin's session).
    livelike_settings(ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    assert row_of(user).credential().expires_at is not None  # the API hands out minted ones
    page = admin_client.get(f"/admin/livelike_profiles/livelikeprofile/{row_of(user).pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    # Not the tail of a token minted for the page (which read the attribute).
    assert "no configured key can decrypt it" in html and "••••" not in html


# -- secrets stay secret ------------------------------------------------------------------


def test_minted_tokens_and_the_secret_appear_nowhere_but_the_answer(
    minted, settings, livelike_settings, caplog
):
    secret = settings.LIVELIKE["CLIENT_SECRET"]
    caplog.set_level(logging.DEBUG)
    user = make_user()
    log_in(user)
    answer = api_get(user)
    token = answer["access_token"]
    call_command("livelike_sync", stdout=io.StringIO())
    row = row_of(user)
    credential = row.credential()
    shown = [repr(row), str(row), repr(row.access_token), repr(credential), repr(get_client())]
    livelike_settings(CLIENT_SECRET="x" * 40)  # the fake refuses it
    refused = row.credential().token
    with pytest.raises(LiveLikeTokenRejected) as caught:
        get_client().get_own_profile(refused)
    shown += [str(caught.value), repr(caught.value), caught.value.summary()]
    # The refusal through the app's own paths: a sync and a PATCH, each logging it.
    with pytest.raises(CommandError):
        call_command("livelike_sync", stdout=io.StringIO())
    client = Client()
    client.force_login(user)
    assert client.patch(URL, {"nickname": "n"}, content_type="application/json").status_code == 502
    shown += [caplog.text, row_of(user).last_error]
    for text in shown:
        for hidden in (secret, token, credential.token, refused, "x" * 40):
            assert hidden not in text


def test_the_admin_pages_show_no_minted_token(minted, admin_client, settings):
    user = make_user()
    token = api_get(user)["access_token"]
    pk = row_of(user).pk
    for url in (
        "/admin/livelike_profiles/livelikeprofile/",
        f"/admin/livelike_profiles/livelikeprofile/{pk}/change/",
        f"/admin/auth/user/{user.pk}/change/",
    ):
        html = admin_client.get(url).content.decode()
        header = token.split(".")[0]  # every HS256 token minted here starts the same
        assert token not in html and header not in html
        assert settings.LIVELIKE["CLIENT_SECRET"] not in html


def test_a_minting_row_without_a_secret_is_a_clear_503_not_an_empty_token(
    minted, settings, livelike_settings
):
    user = make_user()
    assert api_get(user)["access_token"]
    secret = settings.LIVELIKE["CLIENT_SECRET"]
    livelike_settings(ACCESS_TOKENS="stored", CLIENT_SECRET="")
    client = Client()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 503 and "client secret" in response.json()["detail"]
    assert "CLIENT_SECRET" in row_of(user).last_error
    livelike_settings(CLIENT_SECRET=secret)
    assert api_get(user)["access_token"]
    assert row_of(user).last_error == ""


# -- found by review: switching modes, retries and races -----------------------------------

WRONG_SECRET = "a-wrong-client-secret-of-at-least-32-bytes"


def test_a_conflict_whose_minted_token_is_refused_waits_for_its_backoff(
    livelike_fake, livelike_settings
):
    user = first_answer_lost(livelike_fake, livelike_settings, CLIENT_SECRET=WRONG_SECRET)
    row = ensure_profile(fresh(user))
    assert row.status == Status.CONFLICT and "CLIENT_SECRET" in row.last_error
    assert row.next_attempt_at is not None
    calls = len(livelike_fake.calls)
    for _ in range(3):
        assert ensure_profile(fresh(user)).status == Status.CONFLICT
    assert len(livelike_fake.calls) == calls  # not asked again at every request


def test_a_revoked_row_is_left_for_an_operator_when_switching(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(TIMEOUT=2.0, CUSTOM_IDS=False)
    user = make_user()
    old = ensure_profile(user)
    # livelike_sync's verdict on a token LiveLike refuses:
    LiveLikeProfile.objects.filter(pk=old.pk).update(status=Status.REVOKED)
    settings.LIVELIKE = livelike_fake.settings(ACCESS_TOKENS="client-generated", TIMEOUT=2.0)
    client = Client()
    client.force_login(user)
    assert client.get(URL).status_code == 503
    row = row_of(user)
    assert row.status == Status.REVOKED and row.custom_id is None
    assert row.profile_id == old.profile_id
    assert livelike_fake.create_count == 1


def test_a_live_claim_of_a_process_still_in_stored_mode_is_not_taken_over(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(TIMEOUT=5.0, CUSTOM_IDS=False)
    user = make_user()
    livelike_fake.lose_next_create_answers(1, delay=2.0)  # held until released below
    done = threading.Event()

    def old_process() -> None:
        try:
            ensure_profile(fresh(user))
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=old_process)
    thread.start()
    assert livelike_fake.wait_for_held(1)
    settings.LIVELIKE = livelike_fake.settings(ACCESS_TOKENS="client-generated", TIMEOUT=2.0)
    row = ensure_profile(fresh(user))  # a new process serves the same user meanwhile
    assert row.status == Status.PENDING and not row.is_active
    livelike_fake.release_held()
    thread.join(10)
    assert done.is_set()
    assert livelike_fake.create_count == 1


def test_switching_back_without_a_secret_hands_no_empty_token_to_pages(
    livelike_fake, settings, livelike_settings
):
    from livelike_profiles.middleware import get_livelike_profile

    settings.LIVELIKE = livelike_fake.settings(ACCESS_TOKENS="client-generated", TIMEOUT=2.0)
    user = make_user()
    log_in(user)
    livelike_settings(ACCESS_TOKENS="stored", CLIENT_SECRET="")

    class Request:
        pass

    request = Request()
    request.user = fresh(user)
    assert get_livelike_profile(request) is None
    assert not row_of(user).is_active


def test_a_refused_site_nickname_still_lets_the_id_be_learned(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(
        ACCESS_TOKENS="client-generated",
        TIMEOUT=2.0,
        NICKNAME="tests.nicknames.too_long_for_livelike",
        NICKNAME_MAX_LENGTH=60,
    )
    user = make_user()
    log_in(user)
    answer = api_get(user)
    row = row_of(user)
    assert answer["profile_id"] and row.profile_id == answer["profile_id"]
    assert not row.nickname_sync_due
    assert row.nickname == livelike_fake.profile(row.profile_id).nickname  # LiveLike's own
    patches = livelike_fake.count_calls("PATCH")
    api_get(user)
    assert livelike_fake.count_calls("PATCH") == patches == 1


@pytest.mark.server_db
def test_a_first_request_racing_inside_a_repeatable_read_transaction_never_raises(minted):
    from django.db import transaction

    user = make_user()

    def rival() -> None:
        try:
            ensure_profile(fresh(user))
        finally:
            connection.close()

    with transaction.atomic():  # ATOMIC_REQUESTS on a REPEATABLE READ database
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        me = fresh(user)  # the snapshot is taken: the rival's row will be invisible
        thread = threading.Thread(target=rival)
        thread.start()
        thread.join(10)
        row = ensure_profile(me)
        assert not row.is_active  # unseen in this snapshot: looked at again after commit
        # The placeholder is not cached on the user: a second read (the page's
        # request.livelike_profile) raised DoesNotExist on it.
        assert "livelike_profile" not in me._state.fields_cache
        assert not ensure_profile(me).is_active
    assert LiveLikeProfile.objects.filter(user_id=user.pk).count() == 1
    assert row_of(user).is_active
    assert ensure_profile(me).is_active


def test_a_stored_token_no_key_can_read_is_replaced_by_a_minted_one(
    livelike_fake, settings, livelike_settings
):
    secret = livelike_fake.settings()["CLIENT_SECRET"]
    livelike_settings(CLIENT_SECRET=secret)
    user = make_user()
    row = ensure_profile(user)
    assert row.is_active and stored_ciphertext(user)
    settings.SECRET_KEY = "a-new-secret-key-without-the-old-one-as-a-fallback"
    row = row_of(user)
    assert not row.uses_minted_tokens  # a token is stored: no decryption decides here
    credential = row.credential()
    assert credential.expires_at is not None  # minted, so it expires
    for token in (credential.token, row.access_token):
        assert get_client().get_own_profile(token).id == row.profile_id
    answer = api_get(user)
    assert answer["profile_id"] == row.profile_id and answer["expires_at"] is not None
    assert livelike_fake.create_count == 1

    livelike_settings(CLIENT_SECRET="")  # nothing to mint with
    with pytest.raises(UnreadableTokenError):
        row_of(user).credential()
    with pytest.raises(UnreadableTokenError):
        _ = row_of(user).access_token
