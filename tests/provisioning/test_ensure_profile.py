"""ensure_profile and the login receiver, against the fake LiveLike over real sockets."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from livelike_profiles.checks.values import MAX_SECONDS
from livelike_profiles.exceptions import LiveLikeRateLimited, LiveLikeUnavailable
from livelike_profiles.livelike.client import get_client
from livelike_profiles.models import LiveLikeProfile
from livelike_profiles.provisioning import custom_ids, ensure_profile
from livelike_profiles.provisioning import dispatch as provisioning
from livelike_profiles.provisioning.backoff import backoff_seconds
from livelike_profiles.provisioning.custom_ids import new_custom_id
from livelike_profiles.signals import profile_provisioned, provisioning_failed
from tests.factories import (
    PASSWORD,
    claim_held_elsewhere,
    first_answer_lost,
    fresh,
    log_in,
    make_due,
    make_user,
    row_of,
    username_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

Status = LiveLikeProfile.Status


def assert_active_with_fakes_token(fake, user) -> LiveLikeProfile:
    row = row_of(user)
    assert row.status == Status.ACTIVE
    assert row.access_token == fake.profile(row.profile_id).access_token
    return row


# -- the happy path ------------------------------------------------------------------


def test_first_login_provisions_one_profile_by_custom_id(livelike_fake):
    user = make_user()
    log_in(user)
    row = assert_active_with_fakes_token(livelike_fake, user)
    assert len(row.custom_id) == 64 and int(row.custom_id, 16) >= 0  # hex HMAC-SHA256
    assert livelike_fake.profile(row.profile_id).custom_id == row.custom_id
    assert livelike_fake.create_count == 1
    assert livelike_fake.count_calls("POST", "profile-by-custom-id") == 1
    assert (row.attempts, row.last_error, row.claim, row.lease_expires_at) == (1, "", None, None)


def test_the_token_is_encrypted_once_and_the_row_holds_what_was_stored(livelike_fake, monkeypatch):
    # The outcome's UPDATE and the row handed back share one encryption: each
    # used to encrypt the token, into two different ciphertexts.
    encryptions = []
    for name in ("encrypt", "rotate"):  # a rotation re-encrypts too
        method = getattr(MultiFernet, name)
        monkeypatch.setattr(
            MultiFernet,
            name,
            lambda self, data, method=method: encryptions.append(1) or method(self, data),
        )
    user = make_user()
    row = ensure_profile(user)
    stored = LiveLikeProfile.objects.filter(pk=row.pk).values_list("access_token", flat=True)
    assert row.__dict__["access_token"] == stored.get()
    assert row.access_token == livelike_fake.profile(row.profile_id).access_token
    assert len(encryptions) == 1


def test_a_new_tokens_row_saved_later_moves_it_to_the_first_key(livelike_fake, livelike_settings):
    # Written as it was made the first time only: the row keeps an ordinary
    # ciphertext, which a later save re-encrypts with the key first by then.
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    livelike_settings(ENCRYPTION_KEYS=[old_key])
    row = ensure_profile(make_user())
    livelike_settings(ENCRYPTION_KEYS=[new_key, old_key])
    row.save()
    stored = LiveLikeProfile.objects.filter(pk=row.pk).values_list("access_token", flat=True)
    token = Fernet(new_key.encode()).decrypt(stored.get().encode()).decode()
    assert token == livelike_fake.profile(row.profile_id).access_token


def test_later_logins_make_no_remote_call(livelike_fake):
    user = make_user()
    log_in(user)
    calls = len(livelike_fake.calls)
    for _ in range(3):
        log_in(user)
    assert len(livelike_fake.calls) == calls
    assert livelike_fake.create_count == 1


def test_active_profile_costs_one_query_then_none(livelike_fake, django_assert_num_queries):
    user = make_user()
    ensure_profile(fresh(user))
    again = fresh(user)
    with django_assert_num_queries(1):
        first = ensure_profile(again)
    with django_assert_num_queries(0):
        assert ensure_profile(again) is first
        assert again.livelike_profile is first


def test_provision_on_login_can_be_turned_off(livelike_fake, livelike_settings):
    livelike_settings(PROVISION_ON_LOGIN=False)
    user = make_user()
    log_in(user)
    assert not LiveLikeProfile.objects.exists()
    assert livelike_fake.calls == []
    assert ensure_profile(fresh(user)).is_active  # on first use instead


def test_nickname_from_the_configured_callable(livelike_fake, livelike_settings):
    livelike_settings(NICKNAME="tests.nicknames.from_username")
    user = make_user(7)
    row = ensure_profile(user)
    expected = f"fan {user.get_username()}"[:50]
    assert row.nickname == expected
    assert livelike_fake.profile(row.profile_id).nickname == expected


def test_no_nickname_lets_livelike_choose(livelike_fake):
    row = ensure_profile(make_user())
    assert row.nickname == livelike_fake.profile(row.profile_id).nickname != ""


def test_failing_nickname_callable_still_provisions(livelike_fake, livelike_settings, monkeypatch):
    livelike_settings(NICKNAME="tests.nicknames.from_username")

    def broken(user):
        raise RuntimeError("site bug")

    monkeypatch.setattr("tests.nicknames.from_username", broken)
    assert ensure_profile(make_user()).is_active


def test_custom_ids_are_keyed_random_and_not_the_pk(settings):
    user = make_user()
    first = new_custom_id(user)
    assert len(first) == 64 and int(first, 16) >= 0  # hex HMAC-SHA256, fits 255 chars
    # A new one each time: a custom id belongs to a row, never to a primary key.
    assert len({first, *(new_custom_id(fresh(user)) for _ in range(20))}) == 21


def test_custom_ids_are_keyed_by_custom_id_secret_or_secret_key(
    settings, livelike_settings, monkeypatch
):
    import hashlib
    import hmac

    monkeypatch.setattr(custom_ids.secrets, "token_hex", lambda n: "n" * (2 * n))
    user = make_user()

    def expected(secret: str) -> str:
        message = f"livelike_profiles.custom_id:{user.pk}:{'n' * 32}".encode()
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    assert new_custom_id(user) == expected(settings.SECRET_KEY)
    livelike_settings(CUSTOM_ID_SECRET="another secret")
    assert new_custom_id(user) == expected("another secret")


def test_without_custom_ids_plain_create_is_used(livelike_fake, livelike_settings):
    livelike_settings(CUSTOM_IDS=False)
    user = make_user()
    row = ensure_profile(user)
    assert row.is_active and row.custom_id is None
    assert livelike_fake.profile(row.profile_id).custom_id is None
    assert livelike_fake.count_calls("POST", "/profile/") == 1


def test_a_409_to_a_plain_create_is_a_failure_with_nothing_to_recover_by(
    livelike_fake, livelike_settings, caplog
):
    livelike_settings(CUSTOM_IDS=False)
    livelike_fake.fail_next_creates(1, status=409)
    user = make_user()
    with caplog.at_level(logging.WARNING, logger="livelike_profiles"):
        row = ensure_profile(user)
    assert row.status == LiveLikeProfile.Status.FAILED and row.custom_id is None
    # Retried like any refusal: no lookup by a custom id it has not got, no traceback.
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "error=LiveLikeConflict" in caplog.records[0].getMessage()
    assert livelike_fake.count_calls("POST") == 1


def test_signal_and_log_line_on_success(livelike_fake, caplog):
    seen = []

    def receiver(sender, profile, user, recovered, **kwargs):
        seen.append((profile.profile_id, user.pk, recovered))

    profile_provisioned.connect(receiver)
    try:
        with caplog.at_level(logging.INFO, logger="livelike_profiles"):
            user = make_user()
            row = ensure_profile(user)
    finally:
        profile_provisioned.disconnect(receiver)
    assert seen == [(row.profile_id, user.pk, False)]
    (record,) = [r for r in caplog.records if r.name == "livelike_profiles.provisioning"]
    message = record.getMessage()
    for part in (f"user={user.pk}", f"profile={row.profile_id}", "attempt=1", "duration_ms="):
        assert part in message
    assert row.access_token not in caplog.text


def test_a_raising_receiver_does_not_break_login(livelike_fake):
    def receiver(**kwargs):
        raise RuntimeError("receiver bug")

    profile_provisioned.connect(receiver)
    try:
        user = make_user()
        log_in(user)
    finally:
        profile_provisioned.disconnect(receiver)
    assert row_of(user).is_active


def test_unsaved_user_is_refused():
    with pytest.raises(ValueError, match="saved user"):
        ensure_profile(get_user_model()())


# -- outages never break login ---------------------------------------------------------

OUTAGES = {
    "5xx": lambda fake: fake.fail_next_creates(1, status=503),
    "html 502": lambda fake: fake.fail_next_creates(1, status=502, body="<html>proxy</html>"),
    "429": lambda fake: fake.rate_limit_next(1, retry_after=120),
    "malformed": lambda fake: fake.malformed_next(1),
    "timeout": lambda fake: setattr(fake, "latency", 1.0),
}


@pytest.mark.parametrize("kind", OUTAGES)
def test_outage_login_succeeds_then_one_profile_after_recovery(
    livelike_fake, livelike_settings, kind
):
    livelike_settings(TIMEOUT=0.3)
    user = make_user()
    OUTAGES[kind](livelike_fake)
    failures = []

    def on_failure(error, **kwargs):
        failures.append(error)

    provisioning_failed.connect(on_failure)
    try:
        log_in(user)  # asserts the login itself succeeded
    finally:
        provisioning_failed.disconnect(on_failure)
    row = row_of(user)
    assert row.status == Status.FAILED
    assert row.attempts == 1 and row.last_error and row.next_attempt_at > timezone.now()
    assert len(failures) == 1 and failures[0] is not None
    livelike_fake.latency = 0

    # Before the backoff is over nobody calls LiveLike again.
    calls = len(livelike_fake.calls)
    log_in(user)
    assert ensure_profile(fresh(user)).status == Status.FAILED
    assert len(livelike_fake.calls) == calls

    make_due(user)
    log_in(user)
    row = assert_active_with_fakes_token(livelike_fake, user)
    assert row.attempts == 2 and row.last_error == "" and row.next_attempt_at is None
    # The timeout case created a profile whose answer was lost: recovered, not doubled.
    assert livelike_fake.create_count == 1
    assert len(livelike_fake.profiles) == 1


def test_connection_refused_never_breaks_login(livelike_settings):
    livelike_settings(API_URL="http://127.0.0.1:9/api/v1/")
    user = make_user()
    log_in(user)
    row = row_of(user)
    assert row.status == Status.FAILED
    assert row.last_error.startswith("LiveLikeUnavailable")


def test_connection_refused_then_recovery(livelike_fake, livelike_settings):
    with livelike_settings(API_URL="http://127.0.0.1:9/api/v1/"):
        user = make_user()
        log_in(user)
        assert row_of(user).status == Status.FAILED
    make_due(user)
    log_in(user)
    assert_active_with_fakes_token(livelike_fake, user)
    assert livelike_fake.create_count == 1


def test_rate_limit_honours_retry_after(livelike_fake, livelike_settings):
    livelike_settings(RETRY_BASE_SECONDS=1)
    livelike_fake.rate_limit_next(1, retry_after=600)
    before = timezone.now()
    row = ensure_profile(make_user())
    assert row.status == Status.FAILED
    assert row.next_attempt_at >= before + timedelta(seconds=600)
    assert row.last_error.startswith(LiveLikeRateLimited.__name__)


def test_backoff_is_capped_exponential_with_jitter(livelike_settings):
    livelike_settings(RETRY_BASE_SECONDS=10, RETRY_MAX_SECONDS=100)
    for attempts, step in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (30, 100)]:
        delays = {backoff_seconds(attempts) for _ in range(50)}
        assert all(step / 2 <= d <= step for d in delays)
        assert len(delays) > 1  # jittered


def test_backoff_grows_across_failed_attempts(livelike_fake, livelike_settings):
    livelike_settings(RETRY_BASE_SECONDS=100, RETRY_MAX_SECONDS=10**6)
    user = make_user()
    livelike_fake.fail_next_creates(3)
    waits = []
    for _ in range(3):
        make_due(user)
        start = timezone.now()
        row = ensure_profile(fresh(user))
        waits.append((row.next_attempt_at - start).total_seconds())
    assert row.attempts == 3
    assert 50 <= waits[0] <= 100 and 100 <= waits[1] <= 200 and 200 <= waits[2] <= 400


# -- lost answers and conflicts ------------------------------------------------------------


def test_lost_answer_retry_recovers_the_same_profile(livelike_fake, livelike_settings):
    secret = livelike_fake.settings()["CLIENT_SECRET"]
    livelike_settings(TIMEOUT=0.3, CLIENT_SECRET=secret)
    livelike_fake.lose_next_create_answers(1, delay=5.0)
    recovered_flags = []

    def on_provisioned(recovered: bool, **kwargs):
        recovered_flags.append(recovered)

    profile_provisioned.connect(on_provisioned)
    try:
        user = make_user()
        row = ensure_profile(user)
        assert row.status == Status.FAILED
        assert row.last_error.startswith(LiveLikeUnavailable.__name__)
        assert livelike_fake.create_count == 1  # LiveLike did create it

        make_due(user)
        row = ensure_profile(fresh(user))
    finally:
        profile_provisioned.disconnect(on_provisioned)
    created = livelike_fake.profile_by_custom_id(row.custom_id)
    assert row.is_active and row.profile_id == created.id
    # LiveLike's lookup returns no token: the row mints one for the custom id.
    assert get_client().get_own_profile(row.access_token).id == created.id
    assert livelike_fake.create_count == 1
    assert recovered_flags == [True]


def test_lost_answer_recovered_from_a_lookup_that_includes_the_token(
    livelike_fake, livelike_settings
):
    """Without a client secret, a deployment whose lookup answers the token still recovers."""
    livelike_fake.lookup_includes_token = True
    user = first_answer_lost(livelike_fake, livelike_settings)
    row = ensure_profile(fresh(user))
    created = livelike_fake.profile_by_custom_id(row.custom_id)
    assert row.is_active and row.profile_id == created.id
    assert row.access_token == created.access_token
    assert livelike_fake.create_count == 1


def test_lost_answer_without_admin_token_goes_to_conflict(livelike_fake, livelike_settings):
    user = first_answer_lost(livelike_fake, livelike_settings, API_TOKEN="")
    row = ensure_profile(fresh(user))
    assert row.status == Status.CONFLICT
    assert "API_TOKEN" in row.last_error
    # Conflict is for an operator: later calls never create a second profile.
    for _ in range(3):
        make_due(user)
        assert ensure_profile(fresh(user)).status == Status.CONFLICT
    assert livelike_fake.create_count == 1


def test_lookup_answer_without_token_goes_to_conflict(livelike_fake, livelike_settings):
    livelike_fake.lookup_includes_token = False
    user = first_answer_lost(livelike_fake, livelike_settings)
    row = ensure_profile(fresh(user))
    assert row.status == Status.CONFLICT
    assert "no access token" in row.last_error
    assert livelike_fake.create_count == 1


def test_lookup_outage_is_retried_not_a_conflict(livelike_fake, livelike_settings):
    livelike_fake.lookup_includes_token = True
    user = first_answer_lost(livelike_fake, livelike_settings)
    livelike_fake.fail_next_lookups(1, status=503)
    assert ensure_profile(fresh(user)).status == Status.FAILED
    assert row_of(user).last_error.startswith("LiveLikeUnavailable")
    make_due(user)
    assert ensure_profile(fresh(user)).is_active
    assert_active_with_fakes_token(livelike_fake, user)
    assert livelike_fake.create_count == 1


def test_without_custom_ids_a_lost_answer_costs_a_second_profile(livelike_fake, livelike_settings):
    """The window the guarantees admit to: with CUSTOM_IDS off a lost answer is not recovered."""
    user = first_answer_lost(livelike_fake, livelike_settings, CUSTOM_IDS=False)
    assert ensure_profile(fresh(user)).is_active
    assert livelike_fake.create_count == 2


# -- claims, leases and bounded waiting ------------------------------------------------


def test_fresh_claim_elsewhere_is_waited_for_boundedly(livelike_fake, livelike_settings):
    livelike_settings(WAIT_SECONDS=0.3)
    user = make_user()
    claim_held_elsewhere(user)
    started = time.monotonic()
    row = ensure_profile(user)
    elapsed = time.monotonic() - started
    assert row.status == Status.PENDING and not row.is_active
    assert 0.3 <= elapsed < 3
    assert livelike_fake.calls == []


def test_waiting_ends_as_soon_as_the_other_claim_finishes(
    livelike_fake, livelike_settings, monkeypatch
):
    livelike_settings(WAIT_SECONDS=30)
    user = make_user()
    claim_held_elsewhere(user)
    waits = []

    def other_process_finishes_while_we_wait(seconds):
        waits.append(seconds)
        LiveLikeProfile.objects.filter(user_id=user.pk).update(
            status=Status.ACTIVE, profile_id="p-elsewhere", access_token="tok-elsewhere", claim=None
        )

    monkeypatch.setattr(provisioning, "_sleep", other_process_finishes_while_we_wait)
    row = ensure_profile(user)
    assert row.is_active and row.profile_id == "p-elsewhere"
    assert row.access_token == "tok-elsewhere"
    assert len(waits) == 1 and waits[0] < 1  # looked again after one short pause
    assert livelike_fake.calls == []


def test_expired_lease_is_taken_over(livelike_fake):
    user = make_user()
    claim_held_elsewhere(user)
    make_due(user)
    row = ensure_profile(fresh(user))
    assert row.is_active and row.attempts == 2
    assert livelike_fake.create_count == 1


def test_a_late_outcome_after_takeover_is_dropped(livelike_fake):
    """The holder whose lease ran out must not overwrite the row someone else now holds."""
    user = make_user()
    row, claim = LiveLikeProfile.objects.claim(user, has_row=False)
    make_due(user)
    _, new_claim = LiveLikeProfile.objects.claim(user, has_row=True)
    assert new_claim is not None and new_claim != claim
    stale, held = LiveLikeProfile.objects.release(
        row, claim, status=Status.FAILED, last_error="late"
    )
    assert not held
    assert stale.status == Status.PENDING and stale.claim == new_claim
    assert row_of(user).last_error == ""


# -- inside a transaction -----------------------------------------------------------------


def test_inside_a_transaction_provisioning_waits_for_commit(livelike_fake):
    user = make_user()
    with transaction.atomic():
        row = ensure_profile(user)
        assert not row.is_active
        assert livelike_fake.calls == []
        assert not LiveLikeProfile.objects.exists()
    assert_active_with_fakes_token(livelike_fake, user)


def test_rolled_back_transaction_provisions_nothing(livelike_fake):
    user = make_user()
    with pytest.raises(RuntimeError), transaction.atomic():
        ensure_profile(user)
        raise RuntimeError("view failed")
    assert livelike_fake.calls == []
    assert not LiveLikeProfile.objects.exists()


def test_manual_transaction_management_claims_nothing(livelike_fake):
    # With autocommit off a claim would stay uncommitted: rolled back after LiveLike
    # created the profile, it would take the custom id with it, and the next
    # attempt would make a second profile.
    user = make_user()
    transaction.set_autocommit(False)
    try:
        row = ensure_profile(user)
        assert not row.is_active and row.pk is None
        assert livelike_fake.calls == []
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert not LiveLikeProfile.objects.exists()
    assert ensure_profile(user).is_active  # the next call, in autocommit, provisions
    assert_active_with_fakes_token(livelike_fake, user)
    assert livelike_fake.create_count == 1


def test_user_created_and_provisioned_in_one_transaction(livelike_fake):
    with transaction.atomic():
        user = make_user()
        ensure_profile(user)
    assert_active_with_fakes_token(livelike_fake, user)


def test_login_under_atomic_requests(livelike_fake, atomic_requests):
    user = make_user()
    log_in(user)
    assert_active_with_fakes_token(livelike_fake, user)
    assert livelike_fake.create_count == 1


def test_login_rolled_back_under_atomic_requests_never_calls_livelike(
    livelike_fake, atomic_requests
):
    """The deferral matters: a claim and a create inside a transaction that rolls back."""
    from django.test import Client

    from tests.factories import PASSWORD

    user = make_user()
    response = Client(raise_request_exception=False).post(
        "/login-then-fail/", {"username": user.get_username(), "password": PASSWORD}
    )
    assert response.status_code == 500
    assert livelike_fake.calls == []
    assert not LiveLikeProfile.objects.exists()
    log_in(user)
    assert_active_with_fakes_token(livelike_fake, user)
    assert livelike_fake.count_calls("POST") == 1


def test_inside_a_transaction_the_same_user_instance_gets_the_outcome(
    livelike_fake, django_assert_num_queries
):
    user = make_user()
    with transaction.atomic():
        placeholder = ensure_profile(user)
        assert placeholder.pk is None and not placeholder.is_active
        assert "livelike_profile" not in user._state.fields_cache
    with django_assert_num_queries(0):
        assert user.livelike_profile.is_active
    assert user.livelike_profile == row_of(user)


def test_failure_and_conflict_log_lines(livelike_fake, livelike_settings, caplog):
    livelike_settings(TIMEOUT=0.3, API_TOKEN="")
    livelike_fake.lose_next_create_answers(1, delay=5.0)
    user = make_user()
    with caplog.at_level(logging.INFO, logger="livelike_profiles"):
        ensure_profile(user)
        make_due(user)
        ensure_profile(fresh(user))
    warning, error = [r for r in caplog.records if r.name == "livelike_profiles.provisioning"]
    assert warning.levelname == "WARNING"
    for part in (f"user={user.pk}", "attempt=1", "duration_ms=", "error=LiveLikeUnavailable"):
        assert part in warning.getMessage()
    assert error.levelname == "ERROR"
    for part in (f"user={user.pk}", "attempt=2", "duration_ms=", "error=LiveLikeConflict"):
        assert part in error.getMessage()
    assert "API_TOKEN" in error.getMessage()
    token = livelike_fake.profiles[0].access_token
    assert token not in caplog.text
    assert row_of(user).custom_id not in caplog.text


def test_nickname_refused_by_livelike_creates_without_it(livelike_fake, livelike_settings):
    livelike_settings(NICKNAME="tests.nicknames.too_long_for_livelike", NICKNAME_MAX_LENGTH=80)
    row = ensure_profile(make_user())
    assert row.is_active
    assert row.nickname != "n" * 60
    assert livelike_fake.create_count == 1


def test_nickname_is_cut_to_the_maximum_length(livelike_fake, livelike_settings):
    livelike_settings(NICKNAME="tests.nicknames.too_long_for_livelike")
    row = ensure_profile(make_user())
    assert row.nickname == "n" * 50
    assert livelike_fake.count_calls("POST") == 1


@pytest.mark.parametrize("status", [Status.CONFLICT, Status.REVOKED])
def test_operator_states_are_left_alone(livelike_fake, status):
    user = make_user()
    LiveLikeProfile.objects.create(user=user, status=status, custom_id=new_custom_id(user))
    row = ensure_profile(user)
    assert row.status == status and not row.is_active
    assert livelike_fake.calls == []


def test_select_related_absence_saves_the_lookup(livelike_fake, django_assert_num_queries):
    user = make_user()
    loaded = type(user)._default_manager.select_related("livelike_profile").get(pk=user.pk)
    # The claim's INSERT and the outcome's UPDATE; on PostgreSQL and MariaDB/MySQL,
    # around them, taking and releasing the lock that wakes the claim's rivals.
    with_locks = connection.vendor in ("postgresql", "mysql")
    with django_assert_num_queries(4 if with_locks else 2):
        assert ensure_profile(loaded).is_active
    assert livelike_fake.create_count == 1


def test_a_stale_cached_absence_never_makes_a_second_profile(livelike_fake):
    user = make_user()
    stale = type(user)._default_manager.select_related("livelike_profile").get(pk=user.pk)
    first = ensure_profile(fresh(user))  # provisioned meanwhile, elsewhere
    again = ensure_profile(stale)  # still believes there is no row
    assert again.profile_id == first.profile_id and again.is_active
    assert livelike_fake.count_calls("POST") == 1


# -- identity follows the row, not the primary key ------------------------------------------


def user_with_pk(pk, n: int):
    """A new user given an existing primary key (a sequence reset, a restore, an explicit pk)."""
    model = get_user_model()
    return model._default_manager.create_user(
        pk=pk, **{model.USERNAME_FIELD: username_for(n)}, password=PASSWORD
    )


def test_a_new_user_with_a_deleted_users_pk_gets_a_profile_of_their_own(
    livelike_fake, livelike_settings
):
    # "keep": the deleted user's profile stays at LiveLike, where a newcomer could reach it.
    livelike_settings(ON_USER_DELETE="keep")
    first = make_user()
    log_in(first)
    theirs = row_of(first)
    pk = first.pk
    first.delete()
    assert not LiveLikeProfile.objects.exists()

    newcomer = user_with_pk(pk, 1)
    log_in(newcomer)
    row = assert_active_with_fakes_token(livelike_fake, newcomer)
    assert newcomer.pk == pk
    assert row.profile_id != theirs.profile_id
    assert row.access_token != theirs.access_token
    assert row.custom_id != theirs.custom_id
    assert livelike_fake.create_count == 2 and len(livelike_fake.profiles) == 2


def test_a_reused_pk_never_recovers_a_deleted_users_lost_profile(livelike_fake, livelike_settings):
    """Even a profile whose create answer was lost stays out of a newcomer's reach."""
    first = first_answer_lost(livelike_fake, livelike_settings)
    lost = livelike_fake.profiles[0]
    pk = first.pk
    first.delete()

    row = ensure_profile(user_with_pk(pk, 1))
    assert row.is_active and row.profile_id != lost.id
    assert row.access_token != lost.access_token
    assert livelike_fake.create_count == 2


def test_a_user_restored_with_their_row_keeps_their_profile(livelike_fake, livelike_settings):
    """A backup taken after the claim, before the answer: the restored row's custom id finds it."""
    from django.core import serializers

    livelike_fake.lookup_includes_token = True
    user = first_answer_lost(livelike_fake, livelike_settings)
    # "keep": deleting the user leaves the profile at LiveLike for the restore to find.
    livelike_settings(ON_USER_DELETE="keep")
    created = livelike_fake.profiles[0]
    pk = user.pk
    backup = serializers.serialize("json", [user, row_of(user)])
    user.delete()
    assert not LiveLikeProfile.objects.exists()
    for restored in serializers.deserialize("json", backup):
        restored.save()

    row = ensure_profile(get_user_model()._default_manager.get(pk=pk))
    assert row.is_active and row.profile_id == created.id
    assert row.access_token == created.access_token
    assert livelike_fake.create_count == 1


def test_a_row_first_claimed_without_custom_ids_gets_one_when_they_are_turned_on(
    livelike_fake, livelike_settings
):
    livelike_settings(CUSTOM_IDS=False)
    livelike_fake.fail_next_creates(1)
    user = make_user()
    assert ensure_profile(user).status == Status.FAILED
    assert not row_of(user).custom_id
    livelike_settings(CUSTOM_IDS=True)
    make_due(user)
    row = ensure_profile(fresh(user))
    assert row.is_active and row.custom_id
    assert row_of(user).custom_id == row.custom_id
    assert livelike_fake.profile(row.profile_id).custom_id == row.custom_id


def test_provisioning_deferred_to_the_commit_never_raises_into_it(
    livelike_fake, monkeypatch, caplog
):
    """Even the database failing under the deferred attempt is logged, not raised at commit."""
    from django.db import OperationalError

    def database_gone(user, row, **options):
        raise OperationalError("the database went away")

    monkeypatch.setattr(provisioning, "_claim_or_wait", database_gone)
    user = make_user()
    with caplog.at_level(logging.ERROR), transaction.atomic():
        ensure_profile(user)
    assert "the database went away" in caplog.text


# -- users that are not model instances -----------------------------------------------------


class StatelessUser:
    """Like simplejwt's TokenUser: a pk read from a token, authenticated, no model ``_state``."""

    is_active = True
    is_authenticated = True
    is_anonymous = False

    def __init__(self, pk) -> None:
        self.pk = self.id = pk

    def __str__(self) -> str:
        return f"TokenUser {self.pk}"


def test_a_stateless_jwt_user_is_provisioned_and_read_by_pk(
    livelike_fake, django_assert_num_queries
):
    user = make_user()
    row = ensure_profile(StatelessUser(user.pk))
    assert row.is_active and row == assert_active_with_fakes_token(livelike_fake, user)
    token_user = StatelessUser(user.pk)
    for _ in range(2):  # nothing cached on it: one query each time
        with django_assert_num_queries(1):
            assert ensure_profile(token_user).profile_id == row.profile_id
    assert not hasattr(token_user, "_state")
    assert livelike_fake.create_count == 1


def test_a_stateless_jwt_user_inside_a_transaction_is_provisioned_after_commit(livelike_fake):
    user = make_user()
    with transaction.atomic():
        assert not ensure_profile(StatelessUser(user.pk)).is_active
    assert_active_with_fakes_token(livelike_fake, user)


def test_a_stateless_jwt_user_gets_the_api_answer(livelike_fake):
    from rest_framework.test import APIClient

    user = make_user()
    client = APIClient()
    client.force_authenticate(user=StatelessUser(user.pk))
    response = client.get("/livelike/profile/")
    assert response.status_code == 200
    assert response.json()["profile_id"] == row_of(user).profile_id


def test_a_stateless_jwt_user_in_an_async_view_gets_a_profile(livelike_fake):
    from asgiref.sync import async_to_sync
    from django.http import HttpRequest

    from livelike_profiles.middleware import aget_livelike_profile

    user = make_user()
    request = HttpRequest()
    request.user = StatelessUser(user.pk)
    profile = async_to_sync(aget_livelike_profile)(request)
    assert profile is not None and profile == assert_active_with_fakes_token(livelike_fake, user)


def test_the_longest_durations_the_checks_accept_work(settings, livelike_fake):
    # Ten years (MAX_SECONDS) is what check E003/E016 allow: a lease, a backoff and
    # a minted token's lifetime that long still fit the date arithmetic.
    longest = {key: MAX_SECONDS for key in ("LEASE_SECONDS", "RETRY_BASE_SECONDS")}
    settings.LIVELIKE = {**settings.LIVELIKE, **longest, "RETRY_MAX_SECONDS": MAX_SECONDS}
    user = make_user(1)
    livelike_fake.fail_next_creates(1)

    failed = ensure_profile(user)
    assert failed.status == LiveLikeProfile.Status.FAILED
    assert failed.next_attempt_at > timezone.now() + timedelta(days=365)

    make_due(user)
    assert ensure_profile(fresh(user)).is_active
    settings.LIVELIKE = {
        **settings.LIVELIKE,
        "ACCESS_TOKENS": "client-generated",
        "CLIENT_SECRET": livelike_fake.client_secret,
        "TOKEN_TTL": MAX_SECONDS,
    }
    minted = row_of(user).credential()
    assert minted.expires_at > timezone.now() + timedelta(days=3600)
    assert get_client().get_own_profile(minted.token).id == row_of(user).profile_id
