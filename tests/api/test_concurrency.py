"""Two nickname changes of one user at once leave LiveLike and the row agreeing (real threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from livelike_profiles.livelike.client import LiveLikeClient
from livelike_profiles.provisioning import ensure_profile
from tests.api.test_profile_api import patch
from tests.db_locks import someone_waits_for_a_row_lock
from tests.factories import make_user, row_of

pytestmark = pytest.mark.django_db(transaction=True)

PATIENCE = 30.0  # seconds before a test gives up on an event that should come at once


def wait_until(condition: Callable[[], bool], event: threading.Event) -> None:
    """Block until ``event`` is set or ``condition()`` holds; fail after ``PATIENCE``."""
    deadline = time.monotonic() + PATIENCE
    while not (event.wait(0.01) or condition()):  # waits on state, never on a duration
        assert time.monotonic() < deadline, "neither happened"


@pytest.mark.server_db
def test_two_concurrent_changes_leave_livelike_and_the_row_agreeing(
    livelike_fake, livelike_settings, monkeypatch
):
    livelike_settings(THROTTLE_RATE=None, TIMEOUT=PATIENCE)
    cache.clear()
    user = make_user()
    ensure_profile(user)
    first, second = Client(), Client()
    first.force_login(user)
    second.force_login(user)

    # The first change reaches LiveLike, then its answer is held until let go:
    # the window in which the second change runs.
    reached, let_go = threading.Event(), threading.Event()
    update = LiveLikeClient.update_own_profile

    def answer_held_for_first(self, token, **kwargs):
        remote = update(self, token, **kwargs)
        if kwargs.get("nickname") == "first":
            reached.set()
            let_go.wait(PATIENCE)
        return remote

    monkeypatch.setattr(LiveLikeClient, "update_own_profile", answer_held_for_first)
    statuses: dict[str, int] = {}
    done = {"first": threading.Event(), "second": threading.Event()}

    def change(client: Client, nickname: str) -> None:
        try:
            statuses[nickname] = patch(client, {"nickname": nickname}).status_code
        finally:
            connection.close()
            done[nickname].set()

    threads = [
        threading.Thread(target=change, args=(first, "first")),
        threading.Thread(target=change, args=(second, "second")),
    ]
    threads[0].start()
    assert reached.wait(PATIENCE), "the first change never reached LiveLike"
    threads[1].start()
    # Unserialized, the second change completes (LiveLike, then the row) while
    # the first waits for its answer; serialized, it waits for the first's lock.
    wait_until(someone_waits_for_a_row_lock, done["second"])
    let_go.set()
    for thread in threads:
        thread.join(PATIENCE)
    assert statuses == {"first": 200, "second": 200}
    row = row_of(user)
    assert livelike_fake.profile(row.profile_id).nickname == "second"
    assert row.nickname == "second"
