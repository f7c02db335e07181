"""The fake LiveLike service, over real sockets: the API it serves, its faults, its CLI."""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from livelike_profiles.fake import FakeLiveLike

ADMIN = "admin-secret"
# 64 bytes: long enough for HS512 too, so that a refused HS512 token is refused for its
# algorithm alone (PyJWT warns about shorter HMAC keys, and warnings are errors here).
SECRET = "a-client-secret-for-these-tests-only-long-enough-for-hs512-too!!"
# Written out rather than imported, so a change of the documented default is noticed.
DEMO_SECRET = "fake-livelike-client-secret-for-demos-only"
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakeLiveLike]:
    with FakeLiveLike(client_id="demo", admin_token=ADMIN) as fake:
        yield fake


@pytest.fixture
def minting() -> Iterator[FakeLiveLike]:
    """A fake with a client secret of these tests' own (not the demo default)."""
    with FakeLiveLike(client_id="demo", admin_token=ADMIN, client_secret=SECRET) as fake:
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


def claims(custom_id: Any = "u-1", **changes: Any) -> dict[str, Any]:
    """Valid claims for ``custom_id``; a change of ``None`` drops that claim."""
    now = int(time.time())
    valid = {"iss": "demo", "iat": now, "exp": now + 3600, "custom_profile_id": custom_id}
    valid.update(changes)
    return {name: value for name, value in valid.items() if value is not None}


def sign(payload: dict[str, Any], secret: Any = SECRET, algorithm: str = "HS256") -> str:
    """A JWT built here with PyJWT, independently of ``FakeLiveLike.mint``."""
    return jwt.encode(payload, secret, algorithm=algorithm)


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
    assert found.json()["custom_id"] == "u-1"
    # As LiveLike's OpenAPI reference shows it: the profile, without its access token.
    assert "access_token" not in found.json()
    assert created["access_token"] not in found.text
    assert missing.status_code == 404
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert as_profile.status_code == 403


def test_admin_lookup_can_include_the_token_as_this_fake_used_to(http):
    with FakeLiveLike(admin_token=ADMIN, lookup_includes_token=True) as fake:
        created = http.post(custom_id_url(fake, "u-1"), timeout=5).json()

        found = http.get(custom_id_url(fake, "u-1"), headers=bearer(ADMIN), timeout=5)
        fake.lookup_includes_token = False
        without = http.get(custom_id_url(fake, "u-1"), headers=bearer(ADMIN), timeout=5)

    assert found.status_code == 200
    assert found.json()["access_token"] == created["access_token"]
    assert without.status_code == 200
    assert "access_token" not in without.json()


# Deleting profiles (admin token)


def detail_url(fake: FakeLiveLike, profile_id: str) -> str:
    return f"{fake.url}profiles/{profile_id}/"


def delete(http: requests.Session, fake: FakeLiveLike, profile_id: str) -> requests.Response:
    return http.delete(detail_url(fake, profile_id), headers=bearer(ADMIN), timeout=5)


def test_delete_answers_200_empty_and_the_profile_is_gone(fake, http):
    created = http.post(custom_id_url(fake, "u-1"), json={"nickname": "Ada"}, timeout=5).json()
    kept = create(http, fake)

    deleted = delete(http, fake, created["id"])
    again = delete(http, fake, created["id"])

    assert deleted.status_code == 200
    assert deleted.content == b""
    assert again.status_code == 404
    assert again.json() == {"detail": "Not found."}
    assert [(p.id, p.custom_id, p.nickname) for p in fake.deleted] == [
        (created["id"], "u-1", "Ada")
    ]
    assert [p.id for p in fake.profiles] == [kept["id"]]
    assert fake.profile_by_custom_id("u-1") is None
    with pytest.raises(KeyError):
        fake.profile(created["id"])
    # Its id, custom id and token no longer answer; the other profile is untouched.
    assert http.get(detail_url(fake, created["id"]), timeout=5).status_code == 404
    assert http.get(custom_id_url(fake, "u-1"), headers=bearer(ADMIN), timeout=5).status_code == 404
    own = http.get(profile_url(fake), headers=bearer(created["access_token"]), timeout=5)
    assert (own.status_code, own.json()) == (401, {"detail": "Invalid token."})
    assert http.get(profile_url(fake), headers=bearer(kept["access_token"]), timeout=5).ok
    assert fake.create_count == 2  # a count of creations: deleting takes none back
    assert fake.count_calls("DELETE", path_contains="/profiles/") == 2
    assert created["access_token"] not in repr(fake.deleted)


def test_delete_of_an_unknown_profile_answers_404(fake, http):
    assert delete(http, fake, "no-such-id").status_code == 404
    assert fake.deleted == []


def test_delete_needs_the_admin_token(minting, http):
    created = create(http, minting)
    url = detail_url(minting, created["id"])

    anonymous = http.delete(url, timeout=5)
    wrong = http.delete(url, headers=bearer("guess"), timeout=5)
    as_profile = http.delete(url, headers=bearer(created["access_token"]), timeout=5)
    minted = http.delete(url, headers=bearer(sign(claims("u-9"))), timeout=5)
    bad_minted = http.delete(url, headers=bearer(sign(claims(iss="other"))), timeout=5)

    assert (anonymous.status_code, wrong.status_code, as_profile.status_code) == (401, 401, 403)
    assert anonymous.json() == {"detail": "Authentication credentials were not provided."}
    assert (minted.status_code, bad_minted.status_code) == (403, 403)
    assert minting.deleted == []
    assert minting.create_count == 1  # the minted token created nothing
    assert http.get(url, timeout=5).status_code == 200


def test_a_deleted_custom_id_is_free_a_minted_token_for_it_creates_a_new_profile(minting, http):
    first = http.get(profile_url(minting), headers=bearer(sign(claims("u-1"))), timeout=5).json()
    assert delete(http, minting, first["id"]).status_code == 200

    # LiveLike's implicit creation: the first use for an unknown custom id creates it.
    second = http.get(profile_url(minting), headers=bearer(sign(claims("u-1"))), timeout=5)

    assert second.status_code == 200
    assert second.json()["id"] != first["id"]
    assert second.json()["custom_id"] == "u-1"
    assert minting.profile_by_custom_id("u-1").created_by == "token"
    assert minting.create_count == 2
    assert http.post(custom_id_url(minting, "u-1"), timeout=5).status_code == 409


def test_profile_detail_allows_get_and_delete_only(fake, http):
    response = http.patch(detail_url(fake, "x"), json={}, timeout=5)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, DELETE, OPTIONS"


def test_fail_next_deletes_deletes_nothing_and_leaves_other_calls_alone(fake, http):
    created = http.post(custom_id_url(fake, "u-1"), timeout=5).json()
    fake.fail_next_deletes(2, status=503, retry_after=7)

    lookup = http.get(custom_id_url(fake, "u-1"), headers=bearer(ADMIN), timeout=5)
    failures = [delete(http, fake, created["id"]), delete(http, fake, "no-such-id")]
    assert fake.deleted == []
    fake.fail_next_deletes(1, status=502, body="<html>Bad gateway</html>")
    html = delete(http, fake, created["id"])
    after = delete(http, fake, created["id"])

    assert lookup.status_code == 200
    for failure in failures:
        assert (failure.status_code, failure.headers["Retry-After"]) == (503, "7")
        assert "detail" in failure.json()
    assert (html.status_code, html.text) == (502, "<html>Bad gateway</html>")
    assert after.status_code == 200
    assert [p.id for p in fake.deleted] == [created["id"]]


def test_rate_limit_and_malformed_apply_to_deletes(fake, http):
    created = create(http, fake)
    fake.rate_limit_next(1, retry_after=9)
    limited = delete(http, fake, created["id"])
    fake.malformed_next(1)
    garbage = delete(http, fake, created["id"])

    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "9")
    assert garbage.text == "<html>oops</html>"
    assert fake.deleted == []
    assert delete(http, fake, created["id"]).status_code == 200


# Client-generated access tokens (JWTs the site signs with the client secret)


def test_first_use_of_a_minted_token_creates_the_profile_later_ones_find_it(minting, http):
    first = http.get(profile_url(minting), headers=bearer(sign(claims("u-1"))), timeout=5)
    # Another token for the same custom id (another iat, no exp): the same profile.
    again = http.get(
        profile_url(minting),
        headers=bearer(sign(claims("u-1", iat=int(time.time()) - 60, exp=None))),
        timeout=5,
    )
    other = http.get(profile_url(minting), headers=bearer(sign(claims("u-2"))), timeout=5)

    assert first.status_code == 200, first.text
    profile = first.json()
    assert profile["custom_id"] == "u-1"
    assert profile["nickname"].strip()
    assert "access_token" not in profile
    assert again.status_code == 200
    assert again.json()["id"] == profile["id"]
    assert other.status_code == 200
    assert other.json()["id"] != profile["id"]
    assert minting.create_count == 2
    assert minting.profile_by_custom_id("u-1").id == profile["id"]
    assert [p.created_by for p in minting.profiles] == ["token", "token"]


def test_implicit_profile_has_its_own_opaque_token_too(minting, http):
    profile = http.get(profile_url(minting), headers=bearer(sign(claims())), timeout=5).json()

    opaque = minting.profile(profile["id"]).access_token
    response = http.get(profile_url(minting), headers=bearer(opaque), timeout=5)

    assert opaque
    assert "." not in opaque
    assert response.status_code == 200
    assert response.json()["id"] == profile["id"]


def test_patch_with_a_minted_token_updates_and_creates_on_first_use(minting, http):
    response = http.patch(
        profile_url(minting),
        headers=bearer(sign(claims("u-1"))),
        json={"nickname": "Ada"},
        timeout=5,
    )

    assert response.status_code == 200, response.text
    assert response.json()["nickname"] == "Ada"
    assert "access_token" not in response.json()
    assert minting.create_count == 1
    assert minting.profile_by_custom_id("u-1").nickname == "Ada"


def test_first_use_with_a_bad_patch_body_still_creates_the_profile(minting, http):
    # As in DRF, authentication (which creates) comes before the body is validated.
    response = http.patch(
        profile_url(minting),
        headers=bearer(sign(claims("u-1"))),
        json={"nickname": "   "},
        timeout=5,
    )

    assert response.status_code == 400
    assert list(response.json()) == ["nickname"]
    assert minting.create_count == 1
    assert minting.profile_by_custom_id("u-1").nickname.strip()


def test_minted_token_for_a_profile_created_by_custom_id_is_that_profile(minting, http):
    created = http.post(custom_id_url(minting, "u-1"), json={"nickname": "Ada"}, timeout=5).json()

    response = http.get(profile_url(minting), headers=bearer(sign(claims("u-1"))), timeout=5)
    conflict = http.post(custom_id_url(minting, "u-1"), timeout=5)

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["nickname"] == "Ada"
    assert conflict.status_code == 409
    assert minting.create_count == 1
    assert [p.created_by for p in minting.profiles] == ["custom-id"]


def test_create_by_custom_id_after_an_implicit_creation_is_a_409(minting, http):
    implicit = http.get(profile_url(minting), headers=bearer(sign(claims("u-1"))), timeout=5)

    response = http.post(custom_id_url(minting, "u-1"), timeout=5)

    assert implicit.status_code == 200
    assert response.status_code == 409
    assert response.json() == {"detail": "profile with custom_id 'u-1' already exists."}
    assert minting.create_count == 1


def test_default_client_secret_is_the_documented_demo_value(http):
    with FakeLiveLike() as fake:
        response = http.get(
            f"{fake.url}applications/demo/profile/",
            headers=bearer(sign(claims("u-1"), secret=DEMO_SECRET)),
            timeout=5,
        )
        assert fake.settings()["CLIENT_SECRET"] == DEMO_SECRET

    from livelike_profiles.fake import DEMO_CLIENT_SECRET

    assert DEMO_CLIENT_SECRET == DEMO_SECRET
    assert response.status_code == 200, response.text


def rsa_signed(payload: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(payload, key, algorithm="RS256")


def unsigned(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, None, algorithm="none")


def tampered(payload: dict[str, Any]) -> str:
    """A valid token for ``u-2`` whose payload was swapped for ``payload``'s."""
    header, _, signature = sign(claims("u-2")).split(".")
    body = sign(payload).split(".")[1]
    return f"{header}.{body}.{signature}"


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "wrong secret": lambda: sign(claims(), secret="another-secret-that-is-long-enough!"),
    "alg none": lambda: unsigned(claims()),
    "HS512 with the right secret": lambda: sign(claims(), algorithm="HS512"),
    "HS384 with the right secret": lambda: sign(claims(), algorithm="HS384"),
    "RS256": lambda: rsa_signed(claims()),
    "tampered payload": lambda: tampered(claims("u-1")),
    "no iss": lambda: sign(claims(iss=None)),
    "iss of another client": lambda: sign(claims(iss="other-client")),
    "no iat": lambda: sign(claims(iat=None)),
    "iat in the future": lambda: sign(claims(iat=int(time.time()) + 30)),
    "iat not a number": lambda: sign(claims(iat="yesterday")),
    "iat a list": lambda: sign(claims(iat=[1])),
    "expired": lambda: sign(claims(iat=int(time.time()) - 120, exp=int(time.time()) - 60)),
    "exp not a number": lambda: sign(claims(exp="never")),
    "no custom_profile_id": lambda: sign(claims(custom_profile_id=None)),
    "custom_profile_id a number": lambda: sign(claims(42)),
    "custom_profile_id empty": lambda: sign(claims("")),
    "custom_profile_id of 256 characters": lambda: sign(claims("x" * 256)),
    "custom_profile_id a list": lambda: sign(claims(["u-1"])),
    "three segments of garbage": lambda: "abc.def.ghi",
}


@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_minted_tokens_answer_403_and_create_nothing(minting, http, make_token):
    token = make_token()

    for method in ("GET", "PATCH"):
        response = http.request(
            method, profile_url(minting), headers=bearer(token), json={"nickname": "X"}, timeout=5
        )
        assert response.status_code == 403, (method, response.text)
        assert list(response.json()) == ["detail"]
        assert isinstance(response.json()["detail"], str)
        for part in filter(None, token.split(".")):  # "none" tokens end with an empty part
            assert part not in response.text
        assert "WWW-Authenticate" not in response.headers
    assert minting.profiles == []
    assert minting.create_count == 0


def test_a_good_token_is_still_accepted_after_bad_ones(minting, http):
    # Guards the parametrized test above: its tokens differ from this one by one thing only.
    for make_token in BAD_TOKENS.values():
        http.get(profile_url(minting), headers=bearer(make_token()), timeout=5)

    response = http.get(profile_url(minting), headers=bearer(sign(claims())), timeout=5)

    assert response.status_code == 200
    assert minting.create_count == 1


def test_boundaries_iat_now_no_exp_and_a_255_character_custom_id(minting, http):
    now = int(time.time())
    tokens = [
        sign(claims("a", iat=now)),
        sign(claims("b", exp=None)),
        sign(claims("x" * 255)),
        sign(claims("c", exp=now + 2)),
    ]

    statuses = [
        http.get(profile_url(minting), headers=bearer(t), timeout=5).status_code for t in tokens
    ]

    assert statuses == [200, 200, 200, 200]
    assert minting.profile_by_custom_id("x" * 255) is not None


def test_no_leeway_for_an_iat_a_few_seconds_ahead(minting, http):
    token = sign(claims(iat=int(time.time()) + 5))

    response = http.get(profile_url(minting), headers=bearer(token), timeout=5)

    assert response.status_code == 403
    assert "iat" in response.json()["detail"]


def test_the_fakes_clock_can_run_behind_or_ahead_of_ours(minting, http):
    def status(token: str) -> int:
        return http.get(profile_url(minting), headers=bearer(token), timeout=5).status_code

    now = int(time.time())
    issued_now = sign(claims("u-1", iat=now, exp=now + 60))
    minting.clock_offset = -5.0  # behind: a token issued now is from its future
    assert status(issued_now) == 403
    assert status(sign(claims("u-1", iat=now - 10, exp=now + 60))) == 200
    minting.clock_offset = 120.0  # ahead: that token has expired by its clock
    assert status(issued_now) == 403
    assert status(sign(claims("u-1", iat=now, exp=now + 600))) == 200
    minting.clock_offset = 0.0
    assert status(issued_now) == 200
    assert status(sign(claims("u-1", iat=now, nbf=now + 60))) == 403
    assert status(sign(claims("u-1", nbf="soon"))) == 403


def test_detail_says_what_is_wrong(minting, http):
    def detail(token: str) -> str:
        return http.get(profile_url(minting), headers=bearer(token), timeout=5).json()["detail"]

    now = int(time.time())
    assert "expired" in detail(sign(claims(iat=now - 120, exp=now - 60)))
    assert "signature" in detail(sign(claims(), secret="another-secret-that-is-long-enough!"))
    assert "HS256" in detail(unsigned(claims()))
    assert "iss" in detail(sign(claims(iss="other-client")))
    assert "custom_profile_id" in detail(sign(claims(custom_profile_id=None)))
    assert "custom_profile_id" in detail(sign(claims(42)))
    assert "exp" in detail(sign(claims(exp="never")))
    assert "iat" in detail(sign(claims(iat=None)))
    assert "iat" in detail(sign(claims(iat="yesterday")))


def test_revoking_the_opaque_token_leaves_minted_tokens_working(minting, http):
    created = http.post(custom_id_url(minting, "u-1"), timeout=5).json()
    minting.revoke(created["id"])

    opaque = http.get(profile_url(minting), headers=bearer(created["access_token"]), timeout=5)
    minted = http.get(profile_url(minting), headers=bearer(sign(claims("u-1"))), timeout=5)

    assert opaque.status_code == 401
    assert minted.status_code == 200
    assert minted.json()["id"] == created["id"]


def test_lookup_by_custom_id_refuses_minted_tokens_and_creates_nothing(minting, http):
    good = http.get(custom_id_url(minting, "u-1"), headers=bearer(sign(claims())), timeout=5)
    bad = http.get(
        custom_id_url(minting, "u-1"), headers=bearer(sign(claims(iss="other"))), timeout=5
    )

    assert good.status_code == 403
    assert good.json() == {"detail": "You do not have permission to perform this action."}
    assert bad.status_code == 403
    assert minting.create_count == 0


def test_faults_apply_to_requests_with_minted_tokens(minting, http):
    def get(custom_id: str) -> requests.Response:
        return http.get(profile_url(minting), headers=bearer(sign(claims(custom_id))), timeout=5)

    minting.rate_limit_next(1, retry_after=9)
    limited = get("u-1")
    minting.malformed_next(1)
    garbage = get("u-1")
    minting.fail_next_creates(1, status=503)
    failed = get("u-1")
    assert minting.create_count == 0
    assert minting.profiles == []

    created = get("u-1")
    minting.fail_next_creates(1, status=503)
    # Nothing to create: the create fault is left for the next create.
    existing = get("u-1")
    post = http.post(profile_url(minting), timeout=5)

    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "9")
    assert garbage.text == "<html>oops</html>"
    assert failed.status_code == 503
    assert created.status_code == 200
    assert existing.status_code == 200
    assert existing.json()["id"] == created.json()["id"]
    assert post.status_code == 503
    assert minting.create_count == 1
    assert minting.count_calls("GET", path_contains="/profile/") == 5


def test_latency_applies_to_requests_with_minted_tokens(minting, http):
    minting.latency = 0.2

    started = time.monotonic()
    response = http.get(profile_url(minting), headers=bearer(sign(claims())), timeout=5)

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_lost_answer_of_an_implicit_creation_then_the_same_profile(minting, http):
    minting.lose_next_create_answers(1, delay=5.0)

    with pytest.raises(requests.Timeout):
        http.get(profile_url(minting), headers=bearer(sign(claims("u-1"))), timeout=0.3)
    assert minting.create_count == 1
    lost = minting.profile_by_custom_id("u-1")

    retry = requests.get(profile_url(minting), headers=bearer(sign(claims("u-1"))), timeout=5)

    assert retry.status_code == 200
    assert retry.json()["id"] == lost.id
    assert minting.create_count == 1
    assert minting.release_held() == 1


def test_mint_builds_accepted_tokens_and_deliberately_bad_ones(minting, http):
    def status(token: str) -> int:
        return http.get(profile_url(minting), headers=bearer(token), timeout=5).status_code

    good = minting.mint("u-1")
    forever = minting.mint("u-1", ttl=None)
    decoded = jwt.decode(good, SECRET, algorithms=["HS256"], issuer="demo")
    assert decoded["custom_profile_id"] == "u-1"
    assert decoded["exp"] - decoded["iat"] == 86400
    assert "exp" not in jwt.decode(forever, SECRET, algorithms=["HS256"])
    assert jwt.get_unverified_header(good)["alg"] == "HS256"
    assert status(good) == 200
    assert status(forever) == 200
    now = int(time.time())
    assert status(minting.mint("u-1", iat=now + 60)) == 403
    assert status(minting.mint("u-1", iat=now - 100, ttl=10)) == 403
    assert status(minting.mint("u-1", secret="another-secret-that-is-long-enough!")) == 403
    assert status(minting.mint("u-1", issuer="other")) == 403
    assert status(minting.mint("u-1", algorithm="none")) == 403
    assert status(minting.mint("u-1", algorithm="HS512")) == 403
    assert status(minting.mint("u-1", omit=("iat",))) == 403
    assert status(minting.mint("u-1", extra={"custom_profile_id": 7})) == 403
    assert minting.create_count == 1


def test_client_secret_is_never_shown_and_must_be_long_enough(minting, http):
    token = sign(claims())
    http.get(profile_url(minting), headers=bearer(token), timeout=5)

    assert SECRET not in repr(minting)
    assert token not in repr(minting.calls)
    assert token not in repr(minting.profiles)
    with pytest.raises(ValueError, match="32 bytes"):
        FakeLiveLike(client_secret="too-short")
    with pytest.raises(ValueError, match="32 bytes"):
        FakeLiveLike(client_secret="")


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
    created = create(http, fake)
    assert delete(http, fake, created["id"]).status_code == 200
    fake.fail_next_creates(3)
    fake.fail_next_deletes(3)
    fake.rate_limit_next(3)

    fake.reset()

    assert fake.profiles == []
    assert fake.deleted == []
    assert fake.calls == []
    assert fake.create_count == 0
    created = create(http, fake)
    assert delete(http, fake, created["id"]).status_code == 200


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


def test_settings_for_django(minting):
    assert minting.settings(TIMEOUT=1) == {
        "CLIENT_ID": "demo",
        "API_URL": minting.url,
        "API_TOKEN": ADMIN,
        "CLIENT_SECRET": SECRET,
        "TIMEOUT": 1,
    }
    assert minting.settings(CLIENT_SECRET="other")["CLIENT_SECRET"] == "other"


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


def test_fail_next_deletes_is_consumed_exactly_under_contention(fake, http):
    ids: queue.SimpleQueue[str] = queue.SimpleQueue()
    for _ in range(20):
        ids.put(create(http, fake)["id"])
    fake.fail_next_deletes(5)

    def delete_one() -> int:
        profile_id = ids.get_nowait()  # each thread its own profile
        return requests.delete(
            detail_url(fake, profile_id), headers=bearer(ADMIN), timeout=10
        ).status_code

    statuses = run_concurrently(20, delete_one)

    assert sorted(statuses) == [200] * 15 + [503] * 5
    assert len(fake.deleted) == 15
    assert len(fake.profiles) == 5


def test_concurrent_deletes_of_one_profile_delete_it_once(fake, http):
    created = create(http, fake)

    def delete_it() -> int:
        return requests.delete(
            detail_url(fake, created["id"]), headers=bearer(ADMIN), timeout=10
        ).status_code

    statuses = run_concurrently(20, delete_it)

    assert sorted(statuses) == [200] + [404] * 19
    assert [p.id for p in fake.deleted] == [created["id"]]


def test_custom_id_race_creates_exactly_one_profile(fake):
    def post() -> int:
        return requests.post(custom_id_url(fake, "same"), timeout=10).status_code

    statuses = run_concurrently(20, post)

    assert sorted(statuses) == [201] + [409] * 19
    assert fake.create_count == 1


@pytest.fixture
def warm_sessions(minting) -> Iterator[list[requests.Session]]:
    """Twenty sessions already connected (keep-alive) to ``minting``.

    A race's requests then reach the fake's handler threads together instead of queueing
    at accept(): without this, a check-then-create outside the lock went unnoticed.
    """
    sessions = [requests.Session() for _ in range(20)]
    for session in sessions:
        session.get(f"{minting.url}applications/demo/", timeout=10)
    yield sessions
    for session in sessions:
        session.close()


def race(jobs: list[Callable[[], requests.Response]]) -> list[tuple[int, str | None]]:
    """Run ``jobs`` at once, one thread each: [(status, profile id or None)]."""
    pending = iter(jobs)
    lock = threading.Lock()

    def run_one() -> tuple[int, str | None]:
        with lock:
            job = next(pending)
        response = job()
        return response.status_code, response.json().get("id")

    return run_concurrently(len(jobs), run_one)


def test_concurrent_first_uses_of_one_custom_id_create_one_profile(minting, warm_sessions):
    now = int(time.time())
    rounds = 10

    for round_ in range(rounds):
        # Twenty different tokens (different iat) for one new custom id, all used at once.
        jobs = [
            partial(
                session.get,
                profile_url(minting),
                headers=bearer(sign(claims(f"same-{round_}", iat=now - i))),
                timeout=10,
            )
            for i, session in enumerate(warm_sessions)
        ]

        results = race(jobs)

        assert {status for status, _ in results} == {200}
        assert len({profile_id for _, profile_id in results}) == 1
    assert minting.create_count == rounds
    assert [p.custom_id for p in minting.profiles] == [f"same-{r}" for r in range(rounds)]


def test_minted_tokens_racing_create_by_custom_id_make_one_profile(minting, warm_sessions):
    rounds = 10

    for round_ in range(rounds):
        custom_id = f"same-{round_}"
        token = sign(claims(custom_id))
        jobs = [
            partial(session.post, custom_id_url(minting, custom_id), timeout=10)
            if i % 2
            else partial(session.get, profile_url(minting), headers=bearer(token), timeout=10)
            for i, session in enumerate(warm_sessions)
        ]

        results = race(jobs)

        profile = minting.profile_by_custom_id(custom_id)
        statuses = sorted(status for status, _ in results)
        assert statuses.count(200) == 10
        assert statuses.count(201) <= 1
        assert statuses.count(201) + statuses.count(409) == 10
        assert all(pid == profile.id for status, pid in results if status in (200, 201))
    assert minting.create_count == rounds
    assert len(minting.profiles) == rounds


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


# Execs the rest of its command line with SIGINT's disposition set to argv[1], as a
# shell does for a background job (SIG_IGN, inherited across exec) or a terminal (SIG_DFL).
WITH_SIGINT = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGINT, getattr(signal, sys.argv[1]))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


@contextlib.contextmanager
def cli(*options: str, sigint: str | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m livelike_profiles.fake`` on a free port: (the process, its base URL).

    ``sigint``: ``"SIG_IGN"`` or ``"SIG_DFL"``, SIGINT's disposition when it starts
    (``None``: this process's own).
    """
    port = free_port()
    command = [sys.executable, "-m", "livelike_profiles.fake", "--port", str(port), *options]
    if sigint is not None:
        command = [sys.executable, "-c", WITH_SIGINT, sigint, *command]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            url = f"http://127.0.0.1:{port}/api/v1/"
            line = read_line(proc.stdout, timeout=20)
            assert line == f"Fake LiveLike serving {url} for client id 'demo' (Ctrl-C to stop)\n"
            yield proc, url
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery is POSIX-only")
@pytest.mark.parametrize(
    "sigint", ["SIG_DFL", "SIG_IGN"], ids=["from a terminal", "as a background job"]
)
def test_cli_serves_until_ctrl_c(sigint):
    # A shell starts a background job (make in CI, nohup) with SIGINT ignored, and
    # Python then leaves it ignored: the CLI must still stop on Ctrl-C.
    with cli("--client-id", "demo", "--verbose", sigint=sigint) as (proc, url):
        response = requests.get(f"{url}applications/demo/", timeout=5)
        assert response.json()["client_id"] == "demo"
        # The documented defaults: the demo client secret, lookups without the token.
        token = sign(claims("u-1"), secret=DEMO_SECRET)
        minted = requests.get(f"{url}applications/demo/profile/", headers=bearer(token), timeout=5)
        found = requests.get(
            f"{url}profile-by-custom-id/demo/u-1/", headers=bearer("demo-admin-token"), timeout=5
        )

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
        stderr = proc.stderr.read()
    assert minted.status_code == 200
    assert found.status_code == 200
    assert found.json()["id"] == minted.json()["id"]
    assert "access_token" not in found.json()
    assert "Traceback" not in stderr
    assert "GET /api/v1/applications/demo/ 200" in stderr
    assert token not in stderr
    assert DEMO_SECRET not in stderr


def test_cli_client_secret_and_lookup_flag():
    options = ("--client-secret", SECRET, "--lookup-includes-token", "--verbose")
    with cli(*options) as (proc, url):
        own = f"{url}applications/demo/profile/"
        demo = requests.get(own, headers=bearer(sign(claims(), secret=DEMO_SECRET)), timeout=5)
        minted = requests.get(own, headers=bearer(sign(claims())), timeout=5)
        created = requests.post(f"{url}profile-by-custom-id/demo/u-2/", timeout=5).json()
        found = requests.get(
            f"{url}profile-by-custom-id/demo/u-2/", headers=bearer("demo-admin-token"), timeout=5
        )
        proc.terminate()
        assert proc.wait(timeout=5) == 0
        stdout, stderr = proc.stdout.read(), proc.stderr.read()
    assert demo.status_code == 403
    assert minted.status_code == 200
    assert found.json()["access_token"] == created["access_token"]
    assert SECRET not in stdout + stderr


def test_cli_refuses_a_short_client_secret():
    result = subprocess.run(
        [sys.executable, "-m", "livelike_profiles.fake", "--client-secret", "tiny-secret-value"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 2
    assert "--client-secret" in result.stderr
    assert "32 bytes" in result.stderr
    assert "tiny-secret-value" not in result.stderr
