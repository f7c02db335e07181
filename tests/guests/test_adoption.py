"""A guest profile becomes the user's at login (or is abandoned): exactly once, never from input.

Both token modes, against the fake LiveLike over real sockets; the races with
real threads and processes on PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, RequestFactory

from livelike_profiles.guests import SESSION_KEY, adopt_guest_profile
from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeErasure, LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from livelike_profiles.support import task_queue
from tests.factories import PASSWORD, log_in, make_user, row_of
from tests.guests.conftest import URL, guest_get

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status


def guest_in(client: Client) -> dict:
    """The guest as the client's session holds it (``None`` once it left)."""
    key = client.cookies["sessionid"].value
    return Session.objects.get(session_key=key).get_decoded().get(SESSION_KEY)


def profile_at_livelike(fake, row: LiveLikeProfile):
    """The profile the row's token reads at LiveLike (minted ones included)."""
    return fake.profile(get_client().get_own_profile(row.access_token).id)


# -- a user with no profile adopts the guest -----------------------------------------------


def test_signing_in_adopts_the_guest_with_its_points_and_nickname(mode, livelike_fake):
    client = Client()
    guest_get(client)
    client.patch(URL, {"nickname": "Guest Star"}, content_type="application/json")
    guest = guest_in(client)
    creates = livelike_fake.create_count
    user = make_user()
    log_in(user, client)

    row = row_of(user)
    assert row.status == Status.ACTIVE and row.is_active
    assert row.custom_id == guest["custom_id"] and row.profile_id == guest["profile_id"]
    assert row.nickname == "Guest Star"
    assert livelike_fake.create_count == creates  # no create call, in either mode
    assert guest_in(client) is None  # it left the session
    answer = client.get(URL).json()
    assert answer["guest"] is False and answer["profile_id"] == guest["profile_id"]
    assert profile_at_livelike(livelike_fake, row).custom_id == guest["custom_id"]
    if mode == "stored":
        assert row.access_token == livelike_fake.profile(row.profile_id).access_token
        assert row.stored_token  # encrypted into the row
    else:
        assert row.stored_token == "" and row.uses_minted_tokens


def test_a_minted_guests_id_unknown_at_sign_up_is_learned_as_a_users(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(
        ACCESS_TOKENS="client-generated", GUEST_PROFILES=True, TIMEOUT=2.0
    )
    client = Client()
    token = guest_get(client)["access_token"]
    used = get_client().get_own_profile(token)  # the SDK's first use made the profile
    user = make_user()
    log_in(user, client)
    assert row_of(user).profile_id is None
    assert client.get(URL).json()["profile_id"] == used.id  # the user's first GET learns it
    assert livelike_fake.create_count == 1


def test_the_adopted_profile_is_erased_with_its_user(mode, livelike_fake):
    client = Client()
    guest_get(client)
    client.patch(URL, {"nickname": "Soon Gone"}, content_type="application/json")
    user = make_user()
    log_in(user, client)
    profile_id = row_of(user).profile_id
    type(user)._default_manager.filter(pk=user.pk).delete()
    assert not LiveLikeErasure.objects.exists()  # erased at once, after the commit
    assert livelike_fake.count_calls("DELETE", profile_id) == 1
    assert livelike_fake.profiles == []


def test_adopt_guest_profile_serves_a_sign_up_without_login(mode, livelike_fake):
    client = Client()
    guest_get(client)
    guest = guest_in(client)
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=client.cookies["sessionid"].value)
    user = make_user()  # created by, say, an e-mail confirmation: no login()
    row = adopt_guest_profile(request, user)
    request.session.save()
    assert row is not None and row_of(user).custom_id == guest["custom_id"]
    assert guest_in(client) is None
    assert adopt_guest_profile(request, user) is None  # nothing left to adopt


def test_a_pending_guest_is_recovered_by_the_users_first_provisioning(livelike_fake, settings):
    settings.LIVELIKE = livelike_fake.settings(GUEST_PROFILES=True, TIMEOUT=0.3)
    livelike_fake.lose_next_create_answers(1, delay=5.0)
    client = Client()
    session = client.session
    session.save()
    client.cookies["sessionid"] = session.session_key
    assert client.get(URL).status_code == 503  # LiveLike made it; its answer was lost
    custom_id = guest_in(client)["custom_id"]
    settings.LIVELIKE = livelike_fake.settings(GUEST_PROFILES=True, TIMEOUT=2.0)
    user = make_user()
    log_in(user, client)  # adopted as owed, then provisioned: found by its custom id
    row = row_of(user)
    (made,) = livelike_fake.profiles
    assert row.is_active and row.custom_id == custom_id == made.custom_id
    assert row.profile_id == made.id and livelike_fake.create_count == 1


# -- a user with a profile keeps it -----------------------------------------------------


def test_a_guest_is_adopted_over_a_row_only_queued_by_a_background_login(
    livelike_fake, settings, abandoned
):
    settings.LIVELIKE = livelike_fake.settings(
        GUEST_PROFILES=True, TIMEOUT=2.0, TASK_BACKEND="dummy", PROVISION_ON_LOGIN="background"
    )
    queue = task_queue.backend()
    queue.clear()
    user = make_user()
    log_in(user)  # on another device: the row is queued, its task not run yet
    assert row_of(user).status == Status.PENDING and livelike_fake.create_count == 0
    client = Client()
    guest_get(client)
    guest = guest_in(client)
    log_in(user, client)
    row = row_of(user)
    assert row.is_active and abandoned == []  # the guest's points are the user's
    assert (row.custom_id, row.profile_id) == (guest["custom_id"], guest["profile_id"])
    assert row.access_token == livelike_fake.profile(row.profile_id).access_token
    for result in list(queue.results):  # the queued task, as a worker would run it
        result.task.call(*result.args)
    assert row_of(user).profile_id == guest["profile_id"] and livelike_fake.create_count == 1
    queue.clear()


def test_a_user_with_a_profile_keeps_it_and_the_guest_is_abandoned(mode, livelike_fake, abandoned):
    user = make_user()
    mine = ensure_profile(user)
    client = Client()
    guest_get(client)
    client.patch(URL, {"nickname": "Left Behind"}, content_type="application/json")
    guest = guest_in(client)
    log_in(user, client)
    row = row_of(user)
    assert row.pk == mine.pk and row.custom_id == mine.custom_id != guest["custom_id"]
    assert abandoned == [
        {"user": user, "profile_id": guest["profile_id"], "custom_id": guest["custom_id"]}
    ]
    assert guest_in(client) is None
    answer = client.get(URL).json()
    assert answer["profile_id"] == row_of(user).profile_id != guest["profile_id"]
    assert livelike_fake.profile(answer["profile_id"]).custom_id == mine.custom_id


def test_a_deactivated_account_adopts_nothing(mode, livelike_fake, abandoned):
    from django.contrib.auth import login

    client = Client()
    guest_get(client)
    user = make_user()
    user.is_active = False
    user.save()
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=client.cookies["sessionid"].value)
    login(request, user, backend="django.contrib.auth.backends.AllowAllUsersModelBackend")
    assert not LiveLikeProfile.objects.exists() and len(abandoned) == 1
    assert SESSION_KEY not in request.session


# -- logging out, and never from the browser ---------------------------------------------


def test_logging_out_drops_the_guest_and_the_next_is_a_new_one(mode, livelike_fake):
    user = make_user()
    client = Client()
    guest_get(client)
    log_in(user, client)
    users_profile = client.get(URL).json()
    client.post("/accounts/logout/")
    after = guest_get(client)
    assert after["guest"] is True
    assert after["access_token"] != users_profile["access_token"]
    assert guest_in(client)["custom_id"] != row_of(user).custom_id


@pytest.mark.parametrize(
    "sent",
    [
        {"custom_id": "CUSTOM"},
        {"profile_id": "PROFILE"},
        {"access_token": "TOKEN"},
        {"guest": {"custom_id": "CUSTOM"}},
    ],
)
def test_nothing_the_browser_sends_attaches_a_profile(mode, livelike_fake, sent):
    victim = Client()
    guest_get(victim)
    victim.patch(URL, {"nickname": "Victim"}, content_type="application/json")
    theirs = guest_in(victim)
    named = {
        key: theirs["custom_id"] if value == "CUSTOM" else value for key, value in sent.items()
    }
    named = json.loads(
        json.dumps(named)
        .replace("PROFILE", theirs["profile_id"] or "")
        .replace("TOKEN", victim.get(URL).json()["access_token"])
    )
    attacker = make_user()
    client = Client()
    client.get(URL, named)  # as query parameters
    client.patch(URL, named, content_type="application/json")  # as a body
    fields = {key: json.dumps(value) for key, value in named.items()}
    credentials = {"username": attacker.get_username(), "password": PASSWORD}
    client.post("/accounts/login/", {**credentials, **fields})
    row = row_of(attacker)
    assert row.custom_id != theirs["custom_id"]
    assert row.profile_id is None or row.profile_id != theirs["profile_id"]
    assert guest_in(victim)["custom_id"] == theirs["custom_id"]  # still the victim's


# -- exactly once: two sessions, two guests, one new user, at the same moment --------------


@pytest.mark.postgres
def test_two_sessions_signing_in_as_one_new_user_at_once_give_one_profile(
    mode, livelike_fake, abandoned
):
    user = make_user()
    clients = [Client(), Client()]
    guests = []
    for client in clients:
        guest_get(client)
        guests.append(guest_in(client))
    creates = livelike_fake.create_count
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def sign_in(client: Client) -> None:
        try:
            start.wait()
            log_in(user, client)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_in, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    (row,) = LiveLikeProfile.objects.filter(user_id=user.pk)
    kept = [g for g in guests if g["custom_id"] == row.custom_id]
    lost = [g for g in guests if g["custom_id"] != row.custom_id]
    assert len(kept) == 1 and len(lost) == 1 and row.is_active
    assert abandoned == [
        {"user": user, "profile_id": lost[0]["profile_id"], "custom_id": lost[0]["custom_id"]}
    ]
    assert livelike_fake.create_count == creates  # no profile made for the user


@pytest.mark.postgres
def test_sessions_in_two_processes_signing_in_at_once_give_each_user_one_guest(mode, livelike_fake):
    from tests.provisioning.test_concurrency import ROOT, worker_env

    users = [make_user(n) for n in range(20)]
    sessions: dict = {user.pk: [] for user in users}
    for user in users:
        for _ in range(2):  # two browsers, each a guest, each about to sign in as this user
            client = Client()
            guest_get(client)
            sessions[user.pk].append((client.cookies["sessionid"].value, guest_in(client)))
    creates = livelike_fake.create_count
    env = worker_env(livelike_fake, ACCESS_TOKENS=mode, GUEST_PROFILES=True)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.workers", "login-in-sessions", "--threads", "4"]
            + ["--pairs", ",".join(f"{pk}:{pairs[n][0]}" for pk, pairs in sessions.items())],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0 and out.strip() == "ok", err[-2000:]
    for user in users:
        (row,) = LiveLikeProfile.objects.filter(user_id=user.pk)
        guests = [guest for _, guest in sessions[user.pk]]
        assert row.is_active and row.custom_id in {guest["custom_id"] for guest in guests}
    assert livelike_fake.create_count == creates  # not one profile made for a user
    # Every guest left its session, adopted or abandoned (the login gave each a new key).
    assert [s for s in Session.objects.all() if SESSION_KEY in s.get_decoded()] == []
