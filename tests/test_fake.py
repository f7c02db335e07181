"""The fake LiveLike service, over real sockets: the API it serves, its faults, its CLI."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from livelike_profiles.fake import FakeLiveLike

ADMIN = "admin-secret"
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakeLiveLike]:
    with FakeLiveLike(client_id="demo", admin_token=ADMIN) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def profile_url(fake: FakeLiveLike) -> str:
    return f"{fake.url}applications/demo/profile/"


def custom_id_url(fake: FakeLiveLike, custom_id: str) -> str:
    return f"{fake.url}profile-by-custom-id/demo/{custom_id}/"


def create(http: requests.Session, fake: FakeLiveLike, **body: Any) -> dict[str, Any]:
    response = http.post(profile_url(fake), json=body or None, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def run_concurrently(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in ``count`` threads released together; return results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as err:
            results[index] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


# The application resource


def test_application_resource_points_the_sdk_at_this_fake(fake, http):
    response = http.get(f"{fake.url}applications/demo/", timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    app = response.json()
    assert app["client_id"] == "demo"
    assert app["profile_url"] == profile_url(fake)
    assert app["profile_detail_url_template"] == f"{fake.url}profiles/{{profile_id}}/"
    for key in (
        "program_detail_url_template",
        "chat_room_detail_url_template",
        "leaderboard_detail_url_template",
        "create_chat_room_url",
    ):
        assert app[key].startswith(fake.url)
    assert app["pubnub_subscribe_key"] is None
    assert app["api_polling_interval"] == 5


def test_application_urls_follow_the_host_the_client_used(fake, http):
    port = fake.url.split(":")[2].split("/")[0]

    app = http.get(f"http://localhost:{port}/api/v1/applications/demo/", timeout=5).json()

    assert app["profile_url"] == f"http://localhost:{port}/api/v1/applications/demo/profile/"


def test_unknown_client_id_and_unknown_paths_answer_404_json(fake, http):
    for url in (
        f"{fake.url}applications/nope/",
        f"{fake.url}applications/nope/profile/",
        f"{fake.url}nothing/here/",
        fake.url.replace("/api/v1/", "/"),
    ):
        response = http.get(url, timeout=5)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Not found."}


# Profiles


def test_create_without_a_body_gives_a_random_nickname_and_a_token(fake, http):
    response = http.post(profile_url(fake), timeout=5)

    assert response.status_code == 201
    profile = response.json()
    assert profile["nickname"].strip()
    assert profile["custom_data"] == ""
    assert profile["custom_id"] is None
    assert profile["created_at"].endswith("Z")
    assert profile["url"] == f"{fake.url}profiles/{profile['id']}/"
    assert profile["access_token"]
    assert fake.create_count == 1
    stored = fake.profile(profile["id"])
    assert stored.access_token == profile["access_token"]
    assert stored.nickname == profile["nickname"]


def test_create_with_nickname_and_custom_data(fake, http):
    profile = create(http, fake, nickname="  Ada  ", custom_data='{"team": 1}')

    assert profile["nickname"] == "Ada"
    assert profile["custom_data"] == '{"team": 1}'
    assert fake.profiles[0].nickname == "Ada"


def test_read_own_profile_with_its_token_and_without_the_token_in_the_answer(fake, http):
    created = create(http, fake, nickname="Ada")

    response = http.get(profile_url(fake), headers=bearer(created["access_token"]), timeout=5)

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert "access_token" not in response.json()


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authentication credentials were not provided."),
        ({"Authorization": "Token whatever"}, "Authentication credentials were not provided."),
        (bearer("not-a-token"), "Invalid token."),
        (bearer(ADMIN), "Invalid token."),
    ],
)
def test_own_profile_needs_a_profile_token(fake, http, headers, detail):
    create(http, fake)

    for method in ("GET", "PATCH"):
        response = http.request(
            method, profile_url(fake), headers=headers, json={"nickname": "X"}, timeout=5
        )
        assert response.status_code == 401
        assert response.json() == {"detail": detail}


def test_update_own_profile(fake, http):
    created = create(http, fake, nickname="Ada")

    response = http.patch(
        profile_url(fake),
        headers=bearer(created["access_token"]),
        json={"nickname": "Grace", "custom_data": "x"},
        timeout=5,
    )

    assert response.status_code == 200
    assert response.json()["nickname"] == "Grace"
    assert response.json()["custom_data"] == "x"
    assert "access_token" not in response.json()
    assert fake.profile(created["id"]).nickname == "Grace"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": "   "}, "nickname"),
        ({"nickname": "x" * 51}, "nickname"),
        ({"nickname": None}, "nickname"),
        ({"nickname": ["a"]}, "nickname"),
        ({"custom_data": {"a": 1}}, "custom_data"),
    ],
)
def test_update_validation_answers_400_per_field(fake, http, body, field):
    created = create(http, fake, nickname="Ada")

    response = http.patch(
        profile_url(fake), headers=bearer(created["access_token"]), json=body, timeout=5
    )

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert isinstance(response.json()[field][0], str)
    assert fake.profile(created["id"]).nickname == "Ada"


def test_update_with_a_body_that_is_not_json(fake, http):
    created = create(http, fake)
    headers = {**bearer(created["access_token"]), "Content-Type": "application/json"}

    response = http.patch(profile_url(fake), headers=headers, data=b"{nope", timeout=5)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_create_with_a_body_that_is_not_an_object(fake, http):
    response = http.post(profile_url(fake), json=["Ada"], timeout=5)

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert fake.create_count == 0


def test_nickname_of_exactly_50_characters_is_accepted(fake, http):
    created = create(http, fake)

    response = http.patch(
        profile_url(fake),
        headers=bearer(created["access_token"]),
        json={"nickname": "x" * 50},
        timeout=5,
    )

    assert response.status_code == 200


def test_revoked_token_no_longer_authenticates(fake, http):
    created = create(http, fake)

    fake.revoke(created["id"])

    response = http.get(profile_url(fake), headers=bearer(created["access_token"]), timeout=5)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert fake.profile(created["id"]).revoked


def test_public_profile_detail(fake, http):
    created = create(http, fake, nickname="Ada", custom_data="secret-ish")

    response = http.get(f"{fake.url}profiles/{created['id']}/", timeout=5)

    assert response.status_code == 200
    public = response.json()
    assert public["id"] == created["id"]
    assert public["nickname"] == "Ada"
    assert "access_token" not in public
    assert http.get(f"{fake.url}profiles/unknown/", timeout=5).status_code == 404


def test_wrong_method_on_a_known_route_answers_405(fake, http):
    response = http.delete(profile_url(fake), timeout=5)

    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


# Custom ids


def test_create_by_custom_id_then_409(fake, http):
    first = http.post(custom_id_url(fake, "u-1"), json={"nickname": "Ada"}, timeout=5)
    second = http.post(custom_id_url(fake, "u-1"), json={"nickname": "Bob"}, timeout=5)

    assert first.status_code == 201
    assert first.json()["custom_id"] == "u-1"
    assert first.json()["access_token"]
    assert second.status_code == 409
    assert second.json() == {"detail": "profile with custom_id 'u-1' already exists."}
    assert fake.create_count == 1
    assert fake.profile_by_custom_id("u-1").nickname == "Ada"
    assert fake.profile_by_custom_id("u-2") is None


def test_custom_id_is_at_most_255_characters(fake, http):
    assert http.post(custom_id_url(fake, "x" * 256), timeout=5).status_code == 400
    assert http.post(custom_id_url(fake, "x" * 255), timeout=5).status_code == 201


def test_admin_lookup_by_custom_id(fake, http):
    created = http.post(custom_id_url(fake, "u-1"), timeout=5).json()

    found = http.get(custom_id_url(fake, "u-1"), headers=bearer(ADMIN), timeout=5)
    missing = http.get(custom_id_url(fake, "u-2"), headers=bearer(ADMIN), timeout=5)
    anonymous = http.get(custom_id_url(fake, "u-1"), timeout=5)
    wrong = http.get(custom_id_url(fake, "u-1"), headers=bearer("guess"), timeout=5)
    as_profile = http.get(
        custom_id_url(fake, "u-1"), headers=bearer(created["access_token"]), timeout=5
    )

    assert found.status_code == 200
    assert found.json()["id"] == created["id"]
    assert found.json()["access_token"] == created["access_token"]
    assert missing.status_code == 404
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert as_profile.status_code == 403


def test_admin_lookup_can_leave_the_token_out(fake, http):
    http.post(custom_id_url(fake, "u-1"), timeout=5)
    fake.lookup_includes_token = False

    found = http.get(custom_id_url(fake, "u-1"), headers=bearer(ADMIN), timeout=5)

    assert found.status_code == 200
    assert "access_token" not in found.json()


# CORS


def test_cors_preflight_and_allow_origin_everywhere(fake, http):
    preflight = http.options(
        profile_url(fake),
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=5,
    )

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST, PATCH, OPTIONS"
    assert preflight.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    for response in (
        http.post(profile_url(fake), timeout=5),
        http.get(f"{fake.url}nothing/", timeout=5),
    ):
        assert response.headers["Access-Control-Allow-Origin"] == "*"


# Faults


def test_latency_is_added_to_every_answer(fake, http):
    fake.latency = 0.2

    started = time.monotonic()
    http.get(f"{fake.url}applications/demo/", timeout=5)

    assert time.monotonic() - started >= 0.2
    assert fake.latency == 0.2


def test_fail_next_creates_with_json_and_retry_after(fake, http):
    fake.fail_next_creates(2, status=503, retry_after=7)

    failures = [
        http.post(profile_url(fake), timeout=5),
        http.post(custom_id_url(fake, "u-1"), timeout=5),
    ]
    third = http.post(profile_url(fake), timeout=5)

    for failure in failures:
        assert failure.status_code == 503
        assert failure.headers["Retry-After"] == "7"
        assert "detail" in failure.json()
    assert third.status_code == 201
    assert fake.create_count == 1
    assert fake.profile_by_custom_id("u-1") is None


def test_fail_next_creates_with_a_proxy_html_page(fake, http):
    fake.fail_next_creates(1, status=502, body="<html>Bad gateway</html>")

    failure = http.post(profile_url(fake), timeout=5)

    assert failure.status_code == 502
    assert failure.text == "<html>Bad gateway</html>"
    assert failure.headers["Content-Type"].startswith("text/html")
    assert "Retry-After" not in failure.headers
    assert fake.create_count == 0
    # Reads are not creates: they are untouched by the fault.
    assert http.get(f"{fake.url}applications/demo/", timeout=5).status_code == 200


def test_rate_limit_next_applies_to_any_request(fake, http):
    fake.rate_limit_next(2, retry_after=30)

    limited = [
        http.get(f"{fake.url}applications/demo/", timeout=5),
        http.post(profile_url(fake), timeout=5),
    ]
    after = http.post(profile_url(fake), timeout=5)

    for response in limited:
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "30"
        assert response.json() == {
            "detail": "Request was throttled. Expected available in 30 seconds."
        }
    assert after.status_code == 201
    assert fake.create_count == 1


def test_malformed_next_sends_a_non_json_body(fake, http):
    fake.malformed_next(1, body="<html>oops</html>", status=201)

    broken = http.post(profile_url(fake), timeout=5)
    after = http.get(f"{fake.url}applications/demo/", timeout=5)

    assert broken.status_code == 201
    assert broken.text == "<html>oops</html>"
    with pytest.raises(ValueError):
        broken.json()
    assert fake.create_count == 0
    assert after.json()["client_id"] == "demo"


def test_lost_create_answer_times_out_the_client_but_the_profile_exists(fake, http):
    fake.lose_next_create_answers(1, delay=5.0)

    with pytest.raises(requests.Timeout):
        http.post(custom_id_url(fake, "u-1"), json={"nickname": "Ada"}, timeout=0.3)

    assert fake.create_count == 1
    assert fake.profile_by_custom_id("u-1").nickname == "Ada"
    # Other requests are not blocked by the held answer.
    assert http.post(custom_id_url(fake, "u-1"), timeout=5).status_code == 409


def test_release_held_sends_the_answer_now(fake):
    fake.lose_next_create_answers(1, delay=60.0)
    results: list[Any] = []

    def post() -> None:
        results.append(requests.post(profile_url(fake), timeout=10))

    thread = threading.Thread(target=post)
    thread.start()
    assert fake.wait_for_held(1, timeout=5)

    assert fake.release_held() == 1
    thread.join(timeout=10)

    assert results[0].status_code == 201
    assert results[0].json()["id"] == fake.profiles[0].id


def test_stop_releases_held_answers_and_is_idempotent(http):
    fake = FakeLiveLike().start()
    # A kept-alive connection must not go on being served by the stopped fake.
    assert http.get(f"{fake.url}applications/demo/", timeout=5).status_code == 200
    fake.lose_next_create_answers(1, delay=60.0)
    results: list[Any] = []
    thread = threading.Thread(
        target=lambda: results.append(requests.post(profile_url(fake), timeout=10))
    )
    thread.start()
    assert fake.wait_for_held(1, timeout=5)

    fake.stop()
    fake.stop()
    thread.join(timeout=10)

    assert results[0].status_code == 201
    with pytest.raises(requests.ConnectionError):
        http.get(f"{fake.url}applications/demo/", timeout=5)


def test_start_on_a_given_port_without_a_context_manager():
    port = free_port()
    fake = FakeLiveLike(client_id="other", port=port)
    with pytest.raises(RuntimeError):
        fake.url  # noqa: B018 - not started yet

    try:
        assert fake.start() is fake
        assert fake.url == f"http://127.0.0.1:{port}/api/v1/"
        response = requests.get(f"{fake.url}applications/other/", timeout=5)
        assert response.json()["client_id"] == "other"
    finally:
        fake.stop()


def test_reset_forgets_profiles_calls_and_faults(fake, http):
    create(http, fake)
    fake.fail_next_creates(3)
    fake.rate_limit_next(3)

    fake.reset()

    assert fake.profiles == []
    assert fake.calls == []
    assert fake.create_count == 0
    assert http.post(profile_url(fake), timeout=5).status_code == 201


def test_calls_are_recorded_without_tokens(fake, http):
    created = create(http, fake)
    http.get(profile_url(fake), headers=bearer(created["access_token"]), timeout=5)
    http.get(f"{fake.url}applications/demo/?x=1", timeout=5)

    assert [(c.method, c.status) for c in fake.calls] == [("POST", 201), ("GET", 200), ("GET", 200)]
    assert fake.calls[2].path == "/api/v1/applications/demo/"
    assert fake.count_calls("get") == 2
    assert fake.count_calls(path_contains="/profile/") == 2
    assert created["access_token"] not in repr(fake.calls)


def test_profile_repr_never_shows_the_token(fake, http):
    created = create(http, fake)

    assert created["access_token"] not in repr(fake.profile(created["id"]))
    assert created["access_token"] not in repr(fake.profiles)
    assert created["access_token"] not in repr(fake)


def test_settings_for_django(fake):
    assert fake.settings(TIMEOUT=1) == {
        "CLIENT_ID": "demo",
        "API_URL": fake.url,
        "API_TOKEN": ADMIN,
        "TIMEOUT": 1,
    }


# Thread safety


def test_concurrent_creates_are_all_counted_and_distinct(fake):
    def ten_creates() -> list[dict[str, Any]]:
        with requests.Session() as session:
            return [create(session, fake) for _ in range(10)]

    results = run_concurrently(20, ten_creates)

    profiles = [p for batch in results for p in batch]
    assert fake.create_count == 200
    assert len({p["id"] for p in profiles}) == 200
    assert len({p["access_token"] for p in profiles}) == 200


def test_fail_next_creates_is_consumed_exactly_under_contention(fake):
    fake.fail_next_creates(5)

    def post() -> int:
        return requests.post(profile_url(fake), timeout=10).status_code

    statuses = run_concurrently(20, post)

    assert sorted(statuses) == [201] * 15 + [503] * 5
    assert fake.create_count == 15


def test_rate_limit_next_is_consumed_exactly_under_contention(fake):
    fake.rate_limit_next(7)

    def get() -> int:
        return requests.get(f"{fake.url}applications/demo/", timeout=10).status_code

    statuses = run_concurrently(20, get)

    assert sorted(statuses) == [200] * 13 + [429] * 7


def test_custom_id_race_creates_exactly_one_profile(fake):
    def post() -> int:
        return requests.post(custom_id_url(fake, "same"), timeout=10).status_code

    statuses = run_concurrently(20, post)

    assert sorted(statuses) == [201] + [409] * 19
    assert fake.create_count == 1


# The command line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_line(stream: Any, timeout: float) -> str:
    """One line from a subprocess pipe, or "" if none comes within ``timeout``."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return stream.readline()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery is POSIX-only")
def test_cli_serves_until_ctrl_c():
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "livelike_profiles.fake",
        "--port",
        str(port),
        "--client-id",
        "demo",
        "--verbose",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            line = read_line(proc.stdout, timeout=20)
            url = f"http://127.0.0.1:{port}/api/v1/"
            assert line == f"Fake LiveLike serving {url} for client id 'demo' (Ctrl-C to stop)\n"

            response = requests.get(f"{url}applications/demo/", timeout=5)
            assert response.json()["client_id"] == "demo"

            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=5) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        stderr = proc.stderr.read()
    assert "Traceback" not in stderr
    assert "GET /api/v1/applications/demo/ 200" in stderr
