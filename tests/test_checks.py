"""Every system check message, through the check function and through ``manage.py check``."""

from __future__ import annotations

import io
import math
from fractions import Fraction

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from livelike_profiles.checks.database import check_settings, check_stored_tokens
from livelike_profiles.checks.values import MAX_SECONDS
from livelike_profiles.conf import DEFAULTS
from livelike_profiles.encryption_keys import derived_key

GOOD = {"CLIENT_ID": "abc", "API_TOKEN": "admin"}


def ids(settings, livelike) -> list[str]:
    settings.LIVELIKE = livelike
    return [message.id for message in check_settings()]


def messages(settings, livelike) -> list[str]:
    settings.LIVELIKE = livelike
    return [message.msg for message in check_settings()]


def test_valid_settings_pass(settings):
    assert ids(settings, GOOD) == []
    assert ids(settings, {**GOOD, "ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}) == []
    assert ids(settings, {**GOOD, "NICKNAME": "tests.nicknames.from_username"}) == []


@pytest.mark.parametrize("livelike", [{}, {"CLIENT_ID": ""}, {"CLIENT_ID": "  "}, {"CLIENT_ID": 3}])
def test_client_id_missing_or_empty(settings, livelike):
    # W005 too: no API_TOKEN to erase deleted users' profiles with.
    assert ids(settings, livelike) == ["livelike_profiles.E001", "livelike_profiles.W005"]
    assert 'LIVELIKE["CLIENT_ID"]' in messages(settings, livelike)[0]


def test_livelike_setting_absent_names_client_id(settings):
    del settings.LIVELIKE
    assert [m.id for m in check_settings()] == ["livelike_profiles.E001", "livelike_profiles.W005"]


def test_livelike_not_a_dict(settings):
    assert ids(settings, ["CLIENT_ID"]) == ["livelike_profiles.E006"]


@pytest.mark.parametrize("url", ["ftp://example.com/", "example.com/api", "http://", "", 42])
def test_api_url_must_be_http(settings, url):
    assert ids(settings, {**GOOD, "API_URL": url}) == ["livelike_profiles.E002"]
    assert 'LIVELIKE["API_URL"]' in messages(settings, {**GOOD, "API_URL": url})[0]


@pytest.mark.parametrize("timeout", [0, -1, "5", None, True])
def test_timeout_must_be_positive_number(settings, timeout):
    assert ids(settings, {**GOOD, "TIMEOUT": timeout}) == ["livelike_profiles.E003"]
    assert 'LIVELIKE["TIMEOUT"]' in messages(settings, {**GOOD, "TIMEOUT": timeout})[0]


def test_timeout_float_is_fine(settings):
    assert ids(settings, {**GOOD, "TIMEOUT": 0.5}) == []


@pytest.mark.parametrize("key", ["WAIT_SECONDS", "APPLICATION_CACHE_SECONDS"])
def test_durations_must_not_be_negative(settings, key):
    assert ids(settings, {**GOOD, key: -1}) == ["livelike_profiles.E003"]
    assert ids(settings, {**GOOD, key: 0}) == []


DURATIONS = [
    "TIMEOUT",
    "LEASE_SECONDS",
    "RETRY_BASE_SECONDS",
    "RETRY_MAX_SECONDS",
    "WAIT_SECONDS",
    "APPLICATION_CACHE_SECONDS",
]


@pytest.mark.parametrize("key", DURATIONS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e12, MAX_SECONDS + 1, 10**400])
def test_durations_must_be_finite_and_at_most_ten_years(settings, key, value):
    # NaN passed "<= 0", and infinity or 1e12 seconds overflowed the date
    # arithmetic of a claim or a wait at the next login instead.
    assert ids(settings, {**GOOD, key: value}) == ["livelike_profiles.E003"]
    (message,) = messages(settings, {**GOOD, key: value})
    assert f'LIVELIKE["{key}"]' in message and "ten years" in message


@pytest.mark.parametrize("key", DURATIONS)
def test_ten_years_is_accepted(settings, key):
    assert "livelike_profiles.E003" not in ids(settings, {**GOOD, key: MAX_SECONDS})


def test_a_client_id_of_the_wrong_type_is_named_as_such(settings):
    (message,) = messages(settings, {**GOOD, "CLIENT_ID": 123})
    assert message == 'LIVELIKE["CLIENT_ID"] must be a string, not int.'
    assert messages(settings, {**GOOD, "CLIENT_ID": ""}) == [
        'LIVELIKE["CLIENT_ID"] is missing or empty.'
    ]


@pytest.mark.parametrize("secret", ["s3kr1t", "é" * 15, "x" * 31])
def test_a_client_secret_under_32_bytes_warns_without_telling_it(settings, secret):
    livelike = {**GOOD, "CLIENT_SECRET": secret}
    assert ids(settings, livelike) == ["livelike_profiles.W006"]
    (message,) = check_settings()
    assert secret not in f"{message.msg} {message.hint}"
    assert f" {len(secret.encode())} bytes" not in message.msg


@pytest.mark.parametrize("secret", ["x" * 32, "é" * 16, "", None])
def test_a_client_secret_of_32_bytes_or_none_is_fine(settings, secret):
    assert ids(settings, {**GOOD, "CLIENT_SECRET": secret}) == []


def test_a_retry_cap_below_the_first_delay_warns(settings):
    livelike = {**GOOD, "RETRY_BASE_SECONDS": 60, "RETRY_MAX_SECONDS": 10}
    assert ids(settings, livelike) == ["livelike_profiles.W007"]
    assert 'LIVELIKE["RETRY_MAX_SECONDS"] (10)' in messages(settings, livelike)[0]
    assert ids(settings, {**GOOD, "RETRY_BASE_SECONDS": 60, "RETRY_MAX_SECONDS": 60}) == []


@pytest.mark.parametrize("key", ["PROVISION_ON_LOGIN", "CUSTOM_IDS"])
def test_flags_must_be_booleans(settings, key):
    assert ids(settings, {**GOOD, key: "yes"}) == ["livelike_profiles.E007"]
    assert f'LIVELIKE["{key}"]' in messages(settings, {**GOOD, key: "yes"})[0]


@pytest.mark.parametrize(
    "path",
    ["no.such.module.func", "tests.nicknames.missing", "tests.nicknames.NOT_CALLABLE", 7, ""],
)
def test_nickname_must_import_to_callable(settings, path):
    assert ids(settings, {**GOOD, "NICKNAME": path}) == ["livelike_profiles.E004"]
    assert 'LIVELIKE["NICKNAME"]' in messages(settings, {**GOOD, "NICKNAME": path})[0]


@pytest.mark.parametrize(
    "keys", [[], "not-a-list", ["short"], [Fernet.generate_key().decode(), "x"]]
)
def test_encryption_keys_must_be_fernet_keys(settings, keys):
    assert ids(settings, {**GOOD, "ENCRYPTION_KEYS": keys}) == ["livelike_profiles.E005"]
    assert 'LIVELIKE["ENCRYPTION_KEYS"]' in messages(settings, {**GOOD, "ENCRYPTION_KEYS": keys})[0]


def test_invalid_encryption_key_is_not_echoed(settings):
    secret = "this-is-a-secret-but-not-a-fernet-key"
    settings.LIVELIKE = {**GOOD, "ENCRYPTION_KEYS": [secret]}
    (message,) = check_settings()
    assert secret not in message.msg and secret not in (message.hint or "")
    assert "[0]" in message.msg


@pytest.mark.parametrize(
    "path", ["profiles/{client_id}/", "/abs/{custom_id}/", "x/{nope}/{custom_id}/"]
)
def test_custom_id_path(settings, path):
    assert ids(settings, {**GOOD, "CUSTOM_ID_PATH": path}) == ["livelike_profiles.E008"]


def test_unknown_key_warns(settings):
    assert ids(settings, {**GOOD, "CLIENTID": "typo"}) == ["livelike_profiles.W001"]
    assert 'LIVELIKE["CLIENTID"]' in messages(settings, {**GOOD, "CLIENTID": "typo"})[0]


def test_custom_ids_without_admin_token_warns(settings):
    keep = {"CLIENT_ID": "abc", "ON_USER_DELETE": "keep"}
    assert ids(settings, keep) == ["livelike_profiles.W002"]
    assert ids(settings, {**keep, "CUSTOM_IDS": False}) == []


def test_several_problems_reported_together(settings):
    found = ids(settings, {"API_URL": "nope", "TIMEOUT": 0, "NICKNAME": "x.y"})
    assert set(found) == {
        "livelike_profiles.E001",
        "livelike_profiles.E002",
        "livelike_profiles.E003",
        "livelike_profiles.E004",
        "livelike_profiles.W005",
    }


@pytest.mark.parametrize(
    ("livelike", "key"),
    [
        ({}, 'LIVELIKE["CLIENT_ID"]'),
        ({**GOOD, "API_URL": "ftp://x/"}, 'LIVELIKE["API_URL"]'),
        ({**GOOD, "TIMEOUT": -2}, 'LIVELIKE["TIMEOUT"]'),
        ({**GOOD, "NICKNAME": "no.such.callable"}, 'LIVELIKE["NICKNAME"]'),
        ({**GOOD, "ENCRYPTION_KEYS": ["bad"]}, 'LIVELIKE["ENCRYPTION_KEYS"]'),
        ({**GOOD, "CUSTOM_IDS": 1}, 'LIVELIKE["CUSTOM_IDS"]'),
        ({**GOOD, "CUSTOM_ID_PATH": "x/"}, 'LIVELIKE["CUSTOM_ID_PATH"]'),
        ("nope", "LIVELIKE must be a dict"),
    ],
)
def test_manage_py_check_fails_naming_the_key(settings, livelike, key):
    settings.LIVELIKE = livelike
    with pytest.raises(SystemCheckError, match=key.replace("[", r"\[").replace("]", r"\]")):
        call_command("check")


# An int too long for str() and repr() (over 4,300 digits): they raise ValueError.
HUGE = 10**5000
# Values of the wrong type that any key may be given by mistake.
WRONG_TYPES = [HUGE, b"bytes", ["a", "list"], {"a": "dict"}, math.nan]
NOT_NUMBERS = ["5", None, True, [5], b"5"]
DURATIONS_WRONG = [-1, math.inf, *WRONG_TYPES, *NOT_NUMBERS]
FLAGS_WRONG = ["yes", None, 1, *WRONG_TYPES]
# Malformed values of each key: every key of conf's DEFAULTS (which its LiveLikeSettings
# reads every key through) must have some, so a new key without any fails below.
BAD_VALUES: dict[str, list] = {
    "CLIENT_ID": ["", None, True, *WRONG_TYPES],
    "API_URL": [
        "http://[::1:8765/api/v1/",  # urlsplit raises ValueError (a bracket left open)
        "https://[bad/",
        "http://127.0.0.1:99999/api/v1/",  # no such port
        "http://:8765/",  # no host
        None,
        *WRONG_TYPES,
    ],
    "API_TOKEN": [True, 12345, "\ud800", *WRONG_TYPES],
    "TIMEOUT": [0, *DURATIONS_WRONG],
    "PROVISION_ON_LOGIN": ["yes", None, 1, "foreground", *WRONG_TYPES],
    "NICKNAME": [
        ".x",  # import_string raises ValueError (an empty module name)...
        "..x.y",  # ...or TypeError (a relative import without a package)
        "x.",
        "no.such.module.func",
        "tests.fails_on_import.nickname",  # the module raises RuntimeError
        "tests.nicknames.NOT_CALLABLE",
        "",
        True,
        *WRONG_TYPES,
    ],
    "CUSTOM_IDS": FLAGS_WRONG,
    "CUSTOM_ID_SECRET": [True, 12345, "\ud800", *WRONG_TYPES],
    "CUSTOM_ID_PATH": [
        "profiles/",
        "/abs/{custom_id}/",
        "x/{custom_id}/{client_id.real}/",  # str.format raises AttributeError
        "x/{custom_id}/{client_id[a]}/",  # ...or TypeError
        "x/{custom_id}/{",
        None,
        *WRONG_TYPES,
    ],
    "ENCRYPTION_KEYS": [[], "not-a-list", ["short"], [None], [HUGE], [["nested"]], True, HUGE],
    "APPLICATION_CACHE_SECONDS": DURATIONS_WRONG,
    "LEASE_SECONDS": [0, Fraction(1, 3), *DURATIONS_WRONG],  # a Fraction: W004 formats it
    "WAIT_SECONDS": DURATIONS_WRONG,
    "RETRY_BASE_SECONDS": [0, *DURATIONS_WRONG],
    "RETRY_MAX_SECONDS": [0, Fraction(1, 3), *DURATIONS_WRONG],  # a Fraction: W007 formats it
    "NICKNAME_MAX_LENGTH": [0, 256, 2.5, math.inf, *NOT_NUMBERS, *WRONG_TYPES],
    "THROTTLE_RATE": [
        "\N{SUPERSCRIPT TWO}/minute",  # str.isdigit() is true, int() raises
        "9" * 5000 + "/minute",  # int() raises: too many digits
        "10/minute/x",  # DRF's parse_rate fails on a second slash
        "0/minute",
        "10/fortnight",
        "",
        10,
        True,
        *WRONG_TYPES,
    ],
    "SYNC_NICKNAME": FLAGS_WRONG,
    "ACCESS_TOKENS": ["minted", "", None, 1, ["stored"], *WRONG_TYPES],
    "CLIENT_SECRET": ["s3kr1t", "\ud800" * 40, True, 12345, *WRONG_TYPES],
    "TOKEN_TTL": [0, 1.5, "86400", True, math.inf, MAX_SECONDS + 1, *WRONG_TYPES],
    "USER_ADMIN": FLAGS_WRONG,
    "CLIENT_CLASS": [
        ".x",
        "..x.y",
        "livelike_profiles.nowhere.Client",
        "tests.fails_on_import.Client",
        "livelike_profiles.conf.LiveLikeSettings",
        "",
        None,
        True,
        *WRONG_TYPES,
    ],
    "ON_USER_DELETE": ["erase", "", None, True, ["delete"], *WRONG_TYPES],
    "GUEST_PROFILES": FLAGS_WRONG,
    "TASK_BACKEND": ["no-such-alias", "", True, 5, *WRONG_TYPES],
    "PROVISION_IF": [
        ".x",
        "no.such.module.func",
        "tests.nicknames.NOT_CALLABLE",
        "",
        True,
        *WRONG_TYPES,
    ],
    "GUEST_THROTTLE_RATE": ["1000", "1000/fortnight", "0/minute", "", 1000, True, *WRONG_TYPES],
}
NO_BAD_VALUE = object()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param(key, value, id=f"{key}-{n}")
        for key in DEFAULTS
        for n, value in enumerate(BAD_VALUES.get(key, [NO_BAD_VALUE]))
    ],
)
def test_manage_py_check_names_the_key_of_any_bad_value(settings, key, value):
    """Whatever a key holds, `manage.py check` says what is wrong with it, never a traceback."""
    if value is NO_BAD_VALUE:
        pytest.fail(f"no bad value of LIVELIKE[{key!r}] to try: add some to BAD_VALUES")
    settings.LIVELIKE = {**GOOD, key: value}
    out = io.StringIO()
    try:
        call_command("check", stdout=out, stderr=out)
    except SystemCheckError as error:
        reported = str(error)
    else:
        reported = out.getvalue()  # warnings only
    assert f'LIVELIKE["{key}"]' in reported


def test_manage_py_check_passes_with_valid_settings(settings, capsys):
    settings.LIVELIKE = GOOD
    call_command("check")
    assert "no issues" in capsys.readouterr().out


def test_manage_py_check_reports_warning(settings, capsys):
    settings.LIVELIKE = {**GOOD, "TYPO": 1}
    call_command("check")
    assert "livelike_profiles.W001" in capsys.readouterr().err


@pytest.mark.parametrize("value", [0, 256, "50", 2.5, True])
def test_nickname_max_length(settings, value):
    assert ids(settings, {**GOOD, "NICKNAME_MAX_LENGTH": value}) == ["livelike_profiles.E009"]
    assert ids(settings, {**GOOD, "NICKNAME_MAX_LENGTH": 80}) == []


@pytest.mark.parametrize("value", ["10", "ten/minute", "10/fortnight", "0/minute", 10])
def test_throttle_rate(settings, value):
    assert ids(settings, {**GOOD, "THROTTLE_RATE": value}) == ["livelike_profiles.E010"]
    assert 'LIVELIKE["THROTTLE_RATE"]' in messages(settings, {**GOOD, "THROTTLE_RATE": value})[0]


@pytest.mark.parametrize("value", ["5/second", "100/hour", "1000/day", None])
def test_valid_throttle_rates(settings, value):
    assert ids(settings, {**GOOD, "THROTTLE_RATE": value}) == []


def test_sync_nickname_without_nickname_warns(settings):
    assert ids(settings, {**GOOD, "SYNC_NICKNAME": True}) == ["livelike_profiles.W003"]
    with_nickname = {**GOOD, "SYNC_NICKNAME": True, "NICKNAME": "tests.nicknames.from_username"}
    assert ids(settings, with_nickname) == []
    assert ids(settings, {**GOOD, "SYNC_NICKNAME": "yes"}) == ["livelike_profiles.E007"]


@pytest.mark.parametrize("lease", [0, -5, "30"])
def test_lease_must_be_positive(settings, lease):
    assert ids(settings, {**GOOD, "LEASE_SECONDS": lease}) == ["livelike_profiles.E003"]


def test_lease_shorter_than_a_few_timeouts_warns(settings):
    assert ids(settings, {**GOOD, "LEASE_SECONDS": 10, "TIMEOUT": 5}) == ["livelike_profiles.W004"]
    # Two requests, each up to three TIMEOUTs (connect, answer, body): 6 x TIMEOUT.
    assert ids(settings, {**GOOD, "LEASE_SECONDS": 29, "TIMEOUT": 5}) == ["livelike_profiles.W004"]
    assert ids(settings, {**GOOD, "LEASE_SECONDS": 30, "TIMEOUT": 5}) == []  # the defaults


@pytest.mark.parametrize("key", ["API_TOKEN", "CUSTOM_ID_SECRET"])
@pytest.mark.parametrize("value", [b"bytes", 12345])
def test_secrets_must_be_strings(settings, key, value):
    found = ids(settings, {**GOOD, key: value})
    assert found == ["livelike_profiles.E012"]
    assert f'LIVELIKE["{key}"]' in messages(settings, {**GOOD, key: value})[0]
    assert str(value) not in messages(settings, {**GOOD, key: value})[0]


# -- stored tokens: a database check (manage.py check --database default, migrate) -------


def store_tokens(
    first: int, count: int, *, custom_ids: bool = False, status: str = "active"
) -> dict[int, str]:
    """Rows with tokens encrypted under the keys configured now; ``{pk: ciphertext}``.

    Without ``custom_ids``, as rows made with ``CUSTOM_IDS`` off: they cannot mint a token.
    """
    from livelike_profiles.models import LiveLikeProfile
    from tests.factories import make_user

    rows = [
        LiveLikeProfile.objects.create(
            user=make_user(n),
            status=status,
            profile_id=f"p{n}",
            access_token=f"tok-{n}-secret",
            custom_id=f"cid-{n}" if custom_ids else None,
        )
        for n in range(first, first + count)
    ]
    LiveLikeProfile.objects.create(user=make_user(first + count))  # no token: not sampled
    return {
        row.pk: str(value)
        for row, value in zip(
            rows,
            LiveLikeProfile.objects.filter(pk__in=[r.pk for r in rows])
            .order_by("pk")
            .values_list("access_token", flat=True),
            strict=True,
        )
    }


def stored_token_messages(livelike_settings, **livelike) -> list:
    livelike_settings(**livelike)
    return check_stored_tokens(databases=["default"])


def assert_tells_no_secret(message, *secrets: str) -> None:
    text = f"{message.msg} {message.hint}"
    for secret in secrets:
        assert secret not in text
    assert "tok-" not in text


MINTED = "get tokens minted with CLIENT_SECRET for the same profiles instead"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "client_secret", "custom_ids", "expected"),
    [
        ("stored", "", True, "E101"),
        ("stored", "s" * 40, False, "E101"),  # rows made with CUSTOM_IDS off cannot mint
        ("stored", "s" * 40, True, "W102"),
        ("client-generated", "s" * 40, False, "E101"),
        ("client-generated", "s" * 40, True, "W102"),
    ],
)
def test_unreadable_tokens_say_what_users_get_meanwhile(
    livelike_settings, mode, client_secret, custom_ids, expected
):
    # A row that mints (active, a custom id, a CLIENT_SECRET) gets a token for the same
    # profile instead: nobody is affected, so no error stops migrate.
    store_tokens(0, 2, custom_ids=custom_ids)
    new = Fernet.generate_key().decode()
    (message,) = stored_token_messages(
        livelike_settings, ENCRYPTION_KEYS=[new], CLIENT_SECRET=client_secret, ACCESS_TOKENS=mode
    )
    assert message.id == f"livelike_profiles.{expected}"
    assert (MINTED in message.msg) is (expected == "W102")
    assert ("profiles are unusable until" in message.msg) is (expected == "E101")
    assert_tells_no_secret(message, new, "s" * 40)


@pytest.mark.django_db
def test_unreadable_tokens_that_are_all_minted_instead_do_not_stop_migrate(livelike_settings):
    store_tokens(0, 3, custom_ids=True)
    livelike_settings(
        ENCRYPTION_KEYS=[Fernet.generate_key().decode()],
        ACCESS_TOKENS="client-generated",
        CLIENT_SECRET="s" * 40,
    )
    call_command("migrate", verbosity=0, skip_checks=False)
    assert "livelike_profiles.W102" in check_output()


@pytest.mark.django_db
def test_an_unreadable_token_of_a_row_that_cannot_mint_is_counted_apart(livelike_settings):
    store_tokens(0, 2, custom_ids=True)
    store_tokens(10, 1, custom_ids=True, status="revoked")  # only an active row mints
    (message,) = stored_token_messages(
        livelike_settings,
        ENCRYPTION_KEYS=[Fernet.generate_key().decode()],
        ACCESS_TOKENS="client-generated",
        CLIENT_SECRET="s" * 40,
    )
    assert message.id == "livelike_profiles.E101"
    assert f"2 of those users {MINTED}; the other 1" in message.msg


@pytest.mark.django_db
def test_switching_to_encryption_keys_without_the_derived_key_is_an_error(
    settings, livelike_settings
):
    ciphertexts = store_tokens(0, 3)  # under the key derived from SECRET_KEY
    new = Fernet.generate_key().decode()

    (message,) = stored_token_messages(livelike_settings, ENCRYPTION_KEYS=[new])

    assert message.id == "livelike_profiles.E101"
    assert message.msg.startswith(
        "3 of the 3 most recently stored LiveLike access tokens in database 'default' "
        "cannot be decrypted"
    )
    assert 'LIVELIKE["ENCRYPTION_KEYS"]' in message.hint
    assert "derived_key(SECRET_KEY)" in message.hint
    assert "livelike_profiles.encryption_keys" in message.hint
    assert_tells_no_secret(message, new, derived_key(settings.SECRET_KEY), *ciphertexts.values())
    with pytest.raises(SystemCheckError, match=r"livelike_profiles\.E101"):
        call_command("check", databases=["default"])
    with pytest.raises(SystemCheckError, match=r"livelike_profiles\.E101"):
        # As `manage.py migrate` does (call_command skips checks unless told not to).
        call_command("migrate", verbosity=0, skip_checks=False)
    call_command("check")  # without --database, database checks do not run

    # The documented fix: the derived key after the new one.
    assert (
        stored_token_messages(
            livelike_settings, ENCRYPTION_KEYS=[new, derived_key(settings.SECRET_KEY)]
        )
        == []
    )


@pytest.mark.django_db
def test_tokens_under_a_fallback_secret_name_it(settings, livelike_settings):
    settings.SECRET_KEY_FALLBACKS = ["an-older-secret"]
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "an-older-secret"
    store_tokens(0, 2)
    settings.SECRET_KEY = old_secret  # the older one is in the fallbacks: still readable
    assert stored_token_messages(livelike_settings) == []

    (message,) = stored_token_messages(
        livelike_settings, ENCRYPTION_KEYS=[Fernet.generate_key().decode()]
    )
    assert message.id == "livelike_profiles.E101"
    assert "derived_key(SECRET_KEY_FALLBACKS[0])" in message.hint
    assert "derived_key(SECRET_KEY)" not in message.hint
    assert "an-older-secret" not in f"{message.msg} {message.hint}"


@pytest.mark.django_db
def test_a_changed_secret_key_without_fallback_is_an_error(settings, livelike_settings):
    store_tokens(0, 2)
    settings.SECRET_KEY = "a-new-secret-without-the-old-one-as-fallback"
    (message,) = stored_token_messages(livelike_settings)
    assert message.id == "livelike_profiles.E101"
    assert "SECRET_KEY_FALLBACKS" in message.hint


@pytest.mark.django_db
def test_some_unreadable_tokens_are_a_warning_naming_the_keys(livelike_settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    livelike_settings(ENCRYPTION_KEYS=[old])
    lost = store_tokens(0, 2)
    livelike_settings(ENCRYPTION_KEYS=[new])
    store_tokens(10, 2)

    (message,) = stored_token_messages(livelike_settings)

    assert message.id == "livelike_profiles.W101"
    assert message.msg.startswith("2 of the 4 most recently stored")
    assert 'LIVELIKE["ENCRYPTION_KEYS"]' in message.hint
    assert "livelike_rotate_keys" in message.hint
    assert_tells_no_secret(message, old, new, *lost.values())
    # A warning is shown but stops nothing.
    assert "livelike_profiles.W101" in check_output()
    assert stored_token_messages(livelike_settings, ENCRYPTION_KEYS=[new, old]) == []


def check_output() -> str:
    err = io.StringIO()
    call_command("check", databases=["default"], stderr=err, stdout=io.StringIO())
    return err.getvalue()


@pytest.mark.django_db
def test_only_the_most_recent_tokens_are_sampled(livelike_settings, monkeypatch):
    from livelike_profiles.checks import database as checks

    monkeypatch.setattr(checks, "TOKEN_SAMPLE_SIZE", 2)
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    livelike_settings(ENCRYPTION_KEYS=[old])
    store_tokens(0, 1)  # the oldest: unreadable below, but not in the sample
    livelike_settings(ENCRYPTION_KEYS=[new])
    store_tokens(10, 2)
    assert stored_token_messages(livelike_settings) == []
    livelike_settings(ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    store_tokens(20, 1)  # ...but the newest one is
    (message,) = stored_token_messages(livelike_settings, ENCRYPTION_KEYS=[new])
    assert message.msg.startswith("1 of the 2 most recently stored")


@pytest.mark.django_db
def test_no_stored_token_no_message(livelike_settings):
    assert (
        stored_token_messages(livelike_settings, ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
        == []
    )
    assert check_stored_tokens(databases=None) == []  # plain `manage.py check`: no query


@pytest.mark.django_db
@pytest.mark.parametrize("livelike", ["nope", {**GOOD, "ENCRYPTION_KEYS": ["bad"]}])
def test_invalid_key_settings_are_left_to_the_settings_checks(settings, livelike):
    store_tokens(0, 1)
    settings.LIVELIKE = livelike
    assert check_stored_tokens(databases=["default"]) == []
    with pytest.raises(SystemCheckError, match=r"livelike_profiles\.E00[56]"):
        call_command("check", databases=["default"])


# -- client-generated access tokens ---------------------------------------------------

SECRET = "a-client-secret-that-must-never-be-printed"


def test_client_generated_mode_with_a_secret_passes(settings):
    livelike = {**GOOD, "ACCESS_TOKENS": "client-generated", "CLIENT_SECRET": SECRET}
    assert ids(settings, livelike) == []
    assert ids(settings, {**livelike, "TOKEN_TTL": None}) == []
    assert ids(settings, {**GOOD, "ACCESS_TOKENS": "stored", "CLIENT_SECRET": SECRET}) == []


@pytest.mark.parametrize("mode", ["minted", "STORED", "", None, 1])
def test_an_unknown_token_mode_is_refused(settings, mode):
    livelike = {**GOOD, "ACCESS_TOKENS": mode}
    assert ids(settings, livelike) == ["livelike_profiles.E013"]
    (text,) = messages(settings, livelike)
    assert 'LIVELIKE["ACCESS_TOKENS"]' in text
    assert '"stored" or "client-generated"' in text


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_client_generated_mode_needs_a_secret(settings, secret):
    livelike = {**GOOD, "ACCESS_TOKENS": "client-generated"}
    if secret is not None:
        livelike["CLIENT_SECRET"] = secret
    assert ids(settings, livelike) == ["livelike_profiles.E014"]
    (text,) = messages(settings, livelike)
    assert 'LIVELIKE["CLIENT_SECRET"]' in text and 'LIVELIKE["ACCESS_TOKENS"]' in text


def test_a_secret_of_the_wrong_type_is_named_never_shown(settings):
    livelike = {**GOOD, "ACCESS_TOKENS": "client-generated", "CLIENT_SECRET": 123456789}
    assert ids(settings, livelike) == ["livelike_profiles.E012", "livelike_profiles.E014"]
    settings.LIVELIKE = livelike
    for message in check_settings():
        assert "123456789" not in f"{message.msg} {message.hint}"


def test_client_generated_mode_needs_custom_ids(settings):
    livelike = {
        **GOOD,
        "ACCESS_TOKENS": "client-generated",
        "CLIENT_SECRET": SECRET,
        "CUSTOM_IDS": False,
    }
    assert ids(settings, livelike) == ["livelike_profiles.E015"]
    assert 'LIVELIKE["CUSTOM_IDS"]' in messages(settings, livelike)[0]


@pytest.mark.parametrize("ttl", [0, -1, 1.5, "86400", True, MAX_SECONDS + 1, 10**15])
def test_token_ttl_must_be_whole_seconds_or_none(settings, ttl):
    livelike = {**GOOD, "TOKEN_TTL": ttl}
    assert ids(settings, livelike) == ["livelike_profiles.E016"]
    assert 'LIVELIKE["TOKEN_TTL"]' in messages(settings, livelike)[0]


def test_a_client_secret_makes_the_admin_token_unneeded(settings):
    keep = {"CLIENT_ID": "abc", "ON_USER_DELETE": "keep"}  # erasing needs the admin token
    assert ids(settings, keep) == ["livelike_profiles.W002"]
    assert "CLIENT_SECRET" in check_settings()[0].hint
    assert ids(settings, {**keep, "CLIENT_SECRET": SECRET}) == []


@pytest.mark.parametrize("choice", ["erase", "", None, True])
def test_on_user_delete_is_delete_or_keep(settings, choice):
    assert ids(settings, {**GOOD, "ON_USER_DELETE": choice}) == ["livelike_profiles.E018"]
    assert 'LIVELIKE["ON_USER_DELETE"]' in messages(settings, {**GOOD, "ON_USER_DELETE": choice})[0]


def test_erasing_without_an_admin_token_warns_naming_both_keys(settings):
    for livelike in (
        {"CLIENT_ID": "abc", "CLIENT_SECRET": SECRET},
        {"CLIENT_ID": "abc", "ON_USER_DELETE": "delete", "CLIENT_SECRET": SECRET},
    ):
        settings.LIVELIKE = livelike
        (warning,) = check_settings()
        assert warning.id == "livelike_profiles.W005"
        assert (
            'LIVELIKE["ON_USER_DELETE"]' in warning.msg and 'LIVELIKE["API_TOKEN"]' in warning.msg
        )
    keep = {"CLIENT_ID": "abc", "CLIENT_SECRET": SECRET, "ON_USER_DELETE": "keep"}
    assert ids(settings, keep) == []


def test_no_message_shows_the_secret(settings):
    for livelike in (
        {**GOOD, "ACCESS_TOKENS": "bogus", "CLIENT_SECRET": SECRET},
        {**GOOD, "ACCESS_TOKENS": "client-generated", "CLIENT_SECRET": SECRET, "TOKEN_TTL": 0},
        {**GOOD, "ACCESS_TOKENS": "client-generated", "CLIENT_SECRET": SECRET, "CUSTOM_IDS": 0},
    ):
        settings.LIVELIKE = livelike
        found = check_settings()
        assert found
        assert all(SECRET not in f"{m.msg} {m.hint}" for m in found)


# -- the client class and the user admin ---------------------------------------------


@pytest.mark.parametrize(
    "path", ["livelike_profiles.nowhere.Client", "livelike_profiles.conf.LiveLikeSettings", 3, ""]
)
def test_client_class_must_be_a_livelike_client(settings, path):
    livelike = {**GOOD, "CLIENT_CLASS": path}
    assert ids(settings, livelike) == ["livelike_profiles.E017"]
    assert 'LIVELIKE["CLIENT_CLASS"]' in messages(settings, livelike)[0]


def test_a_client_subclass_passes(settings):
    assert ids(settings, {**GOOD, "CLIENT_CLASS": "tests.clients.ProxiedClient"}) == []


def test_user_admin_must_be_a_boolean(settings):
    assert ids(settings, {**GOOD, "USER_ADMIN": "no"}) == ["livelike_profiles.E007"]
