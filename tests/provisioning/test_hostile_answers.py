"""Odd LiveLike answers and odd site callables never break ensure_profile, a login or the API.

Every path ends in a recorded failure (retried after the backoff) or a clean
fallback, and the claim is released at once, never left to expire. Against
the fake LiveLike over real sockets; on PostgreSQL too, where a NUL byte or an
overlong value would be a DataError.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from livelike_profiles.exceptions import LiveLikeRateLimited
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import ensure_profile
from livelike_profiles.provisioning.backoff import backoff_seconds, retry_delay
from livelike_profiles.signals import provisioning_failed
from tests.factories import fresh, log_in, make_due, make_user, row_of

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status
API = "/livelike/profile/"
DAY = timedelta(days=1)


def assert_failed_and_released(user) -> LiveLikeProfile:
    """The attempt was recorded as failed, with a retry time, and nobody holds the row."""
    row = row_of(user)
    assert row.status == Status.FAILED
    assert row.claim is None and row.lease_expires_at is None
    assert row.last_error
    assert timezone.now() < row.next_attempt_at
    return row


def assert_recovers(fake, user) -> None:
    """Once LiveLike behaves, the next due attempt provisions exactly one profile."""
    make_due(user)
    row = ensure_profile(fresh(user))
    assert row.is_active
    assert row.access_token == fake.profile(row.profile_id).access_token
    assert len(fake.profiles) == 1


def created_answer(**fields) -> str:
    """A 201 body LiveLike might send, as text (so it can be made absurd)."""
    return json.dumps({"id": "p-1", "access_token": "tok-1", "nickname": "Otter", **fields})


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- 429 with an absurd Retry-After ------------------------------------------------------

ABSURD_RETRY_AFTER = ["inf", "1e12", "nan"]


@pytest.mark.parametrize("retry_after", ABSURD_RETRY_AFTER)
def test_429_with_absurd_retry_after_is_a_failure_retried_within_a_day(livelike_fake, retry_after):
    user = make_user()
    livelike_fake.rate_limit_next(1, retry_after=retry_after)
    started = timezone.now()
    row = ensure_profile(user)
    assert row.status == Status.FAILED
    row = assert_failed_and_released(user)
    assert row.last_error.startswith(LiveLikeRateLimited.__name__)
    assert row.next_attempt_at <= started + DAY + timedelta(seconds=5)
    assert_recovers(livelike_fake, user)


@pytest.mark.parametrize("retry_after", ABSURD_RETRY_AFTER)
def test_429_with_absurd_retry_after_never_breaks_login_or_the_api(livelike_fake, retry_after):
    user = make_user()
    livelike_fake.rate_limit_next(1, retry_after=retry_after)
    client = log_in(user)
    assert_failed_and_released(user)
    response = client.get(API)
    assert response.status_code == 503
    assert 1 <= int(response["Retry-After"]) <= DAY.total_seconds()


@pytest.mark.parametrize("retry_after", ABSURD_RETRY_AFTER)
def test_429_with_absurd_retry_after_on_patch_is_a_503(livelike_fake, retry_after):
    user = make_user()
    client = log_in(user)
    assert row_of(user).is_active
    livelike_fake.rate_limit_next(1, retry_after=retry_after)
    response = client.patch(API, json.dumps({"nickname": "Grace"}), "application/json")
    assert response.status_code == 503
    assert 1 <= int(response["Retry-After"]) <= DAY.total_seconds()


@pytest.mark.parametrize("retry_after", [math.inf, 1e300, math.nan, -math.inf])
def test_retry_delay_is_finite_whatever_retry_after_says(livelike_settings, retry_after):
    livelike_settings(RETRY_BASE_SECONDS=10, RETRY_MAX_SECONDS=100)
    error = LiveLikeRateLimited("slow down", retry_after=retry_after, status_code=429)
    delay = retry_delay(1, error)
    assert 5 <= delay <= DAY.total_seconds()
    timezone.now() + timedelta(seconds=delay)  # representable


# -- backoff after very many failures ------------------------------------------------------


@pytest.mark.parametrize("attempts", [1025, 10**6, 2**31 - 1])
def test_backoff_after_very_many_failures_is_the_cap(livelike_settings, attempts):
    livelike_settings(RETRY_BASE_SECONDS=5, RETRY_MAX_SECONDS=3600)
    assert 1800 <= backoff_seconds(attempts) <= 3600


def many_failures(user, attempts: int = 1025) -> None:
    LiveLikeProfile.objects.create(
        user_id=user.pk,
        status=Status.FAILED,
        custom_id=f"custom-id-of-{user.pk}",
        attempts=attempts,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )


def test_a_row_that_failed_1025_times_fails_again_cleanly(livelike_fake, settings):
    user = make_user()
    many_failures(user)
    livelike_fake.fail_next_creates(1, status=503)
    ensure_profile(user)
    row = assert_failed_and_released(user)
    assert row.attempts == 1026
    assert row.next_attempt_at <= timezone.now() + timedelta(seconds=3600)
    assert_recovers(livelike_fake, user)


def test_a_row_that_failed_1025_times_never_breaks_login(livelike_fake):
    user = make_user()
    many_failures(user)
    livelike_fake.fail_next_creates(1, status=503)
    log_in(user)
    assert assert_failed_and_released(user).attempts == 1026


def test_forced_retries_of_a_row_that_failed_1025_times_are_counted_failures(livelike_fake):
    """The backfill's retry_now skips the backoff: however often, each ends as a failure."""
    from livelike_profiles.sync.backfill import Outcome, provision_user

    user = make_user()
    many_failures(user)
    livelike_fake.fail_next_creates(3, status=503)
    results = [provision_user(fresh(user)) for _ in range(3)]
    assert [result.outcome for result in results] == [Outcome.FAILED] * 3
    assert assert_failed_and_released(user).attempts == 1028


# -- the NICKNAME callable returning something odd -----------------------------------------


@pytest.mark.parametrize("value", [5, 3.5, b"bytes nickname", ["a", "list"], object()])
def test_a_nickname_callable_returning_a_non_string_means_no_nickname(
    livelike_fake, livelike_settings, monkeypatch, caplog, value
):
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    monkeypatch.setattr("tests.nicknames.from_username", lambda user: value)
    user = make_user()
    with caplog.at_level(logging.WARNING, logger="livelike_profiles"):
        row = ensure_profile(user)
    assert row.is_active and row.claim is None
    assert row.nickname == livelike_fake.profile(row.profile_id).nickname  # LiveLike's choice
    (warning,) = [r for r in caplog.records if "NICKNAME" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert type(value).__name__ in warning.getMessage()
    assert f"user={user.pk}" in warning.getMessage()


def test_a_nickname_callable_returning_a_non_string_never_breaks_login(
    livelike_fake, livelike_settings, monkeypatch
):
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    monkeypatch.setattr("tests.nicknames.from_username", lambda user: 42)
    user = make_user()
    log_in(user)
    assert row_of(user).is_active


def test_a_nickname_with_control_characters_is_cleaned_before_it_leaves(
    livelike_fake, livelike_settings, monkeypatch
):
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    monkeypatch.setattr("tests.nicknames.from_username", lambda user: "fan\x00 Ada\x1b[31m")
    user = make_user()
    log_in(user)
    row = row_of(user)
    assert row.is_active
    assert row.nickname == "fan Ada[31m" == livelike_fake.profile(row.profile_id).nickname


def test_a_nickname_of_control_characters_only_means_no_nickname(
    livelike_fake, livelike_settings, monkeypatch
):
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    monkeypatch.setattr("tests.nicknames.from_username", lambda user: "\x00\x00")
    row = ensure_profile(make_user())
    assert row.is_active and row.nickname and "\x00" not in row.nickname


# -- LiveLike answering something we cannot store ----------------------------------------

UNUSABLE_CREATED_ANSWERS = {
    "deeply nested (parser)": created_answer()[:-1] + ', "x": ' + deeply_nested(100_000) + "}",
    "deeply nested (redaction)": created_answer()[:-1] + ', "x": ' + deeply_nested(950) + "}",
    "profile id of 65 characters": created_answer(id="p" * 65),
    "profile id with a NUL byte": created_answer(id="p-\x001"),
    "token with a NUL byte": created_answer(access_token="tok-\x001"),
}


@pytest.mark.parametrize("case", UNUSABLE_CREATED_ANSWERS)
def test_an_unusable_created_answer_is_a_failure(livelike_fake, case):
    user = make_user()
    # The fake sends this as the answer to the create, and creates nothing.
    livelike_fake.malformed_next(1, body=UNUSABLE_CREATED_ANSWERS[case], status=201)
    row = ensure_profile(user)
    assert row.status == Status.FAILED
    assert assert_failed_and_released(user).last_error.startswith("LiveLikeBadResponse")
    assert_recovers(livelike_fake, user)


@pytest.mark.parametrize("case", UNUSABLE_CREATED_ANSWERS)
def test_an_unusable_created_answer_never_breaks_login(livelike_fake, case):
    user = make_user()
    livelike_fake.malformed_next(1, body=UNUSABLE_CREATED_ANSWERS[case], status=201)
    client = log_in(user)
    assert_failed_and_released(user)
    assert client.get(API).status_code == 503


@pytest.mark.parametrize("status", [400, 503])
def test_a_deeply_nested_error_answer_is_a_failure(livelike_fake, status):
    user = make_user()
    body = '{"detail": "no", "x": ' + deeply_nested(950) + "}"
    livelike_fake.malformed_next(1, body=body, status=status)
    log_in(user)
    assert_failed_and_released(user)


def test_a_nickname_with_a_nul_byte_from_livelike_is_stored_clean(livelike_fake):
    user = make_user()
    livelike_fake.malformed_next(1, body=created_answer(nickname="Ot\x00ter"), status=201)
    client = log_in(user)
    row = row_of(user)
    assert row.is_active and row.nickname == "Otter" and row.profile_id == "p-1"
    assert client.get(API).json()["nickname"] == "Otter"


def test_an_error_detail_with_a_nul_byte_is_recorded_clean(livelike_fake):
    user = make_user()
    livelike_fake.malformed_next(1, body='{"detail": "bad\\u0000 gateway"}', status=502)
    log_in(user)
    assert assert_failed_and_released(user).last_error.endswith("HTTP 502: bad gateway")


# -- anything else: recorded, never raised ------------------------------------------------


def test_an_unexpected_error_before_the_call_is_a_recorded_failure(
    livelike_fake, livelike_settings, caplog
):
    livelike_settings(TIMEOUT="slow")  # get_client() raises
    user = make_user()
    with caplog.at_level(logging.INFO, logger="livelike_profiles"):
        log_in(user)
    row = assert_failed_and_released(user)
    assert row.last_error.startswith("ValueError")
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info is not None and f"user={user.pk}" in record.getMessage()
    assert livelike_fake.calls == []


def test_an_outcome_the_database_refuses_is_a_recorded_failure_then_recovered(
    livelike_fake, livelike_settings, caplog
):
    """The profile was created but could not be stored: recorded, released, found again."""
    livelike_fake.lookup_includes_token = True  # recovered through the admin lookup
    failures = []

    def on_failure(error, **kwargs):
        failures.append(error)

    with livelike_settings(ENCRYPTION_KEYS=["not a Fernet key"]):  # saving raises
        user = make_user()
        provisioning_failed.connect(on_failure)
        try:
            with caplog.at_level(logging.INFO, logger="livelike_profiles"):
                log_in(user)
        finally:
            provisioning_failed.disconnect(on_failure)
        row = assert_failed_and_released(user)
        assert row.profile_id is None and row.access_token == ""
        assert row.last_error.startswith("ValueError")
        assert livelike_fake.create_count == 1
        (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
        assert record.exc_info is not None
        assert [type(error) for error in failures] == [ValueError]
        token = livelike_fake.profiles[0].access_token
        assert token not in caplog.text

    assert_recovers(livelike_fake, user)  # 409, then found by its custom id
    assert livelike_fake.create_count == 1


def test_the_api_never_answers_500_for_a_hostile_create_answer(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_ON_LOGIN=False)
    user = make_user()
    client = Client()
    client.force_login(user)
    livelike_fake.malformed_next(1, body=created_answer(id="p" * 65), status=201)
    response = client.get(API)
    assert response.status_code == 503 and response.json()["status"] == "failed"
    assert_failed_and_released(user)
