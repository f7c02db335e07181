"""System checks for the ``LIVELIKE`` setting, run by ``manage.py check`` and at startup.

Every message names the exact key and says what would be valid. One check,
tagged ``database`` (so it runs with ``manage.py check --database default``
and before ``migrate``, never at startup), reads stored tokens: its ids are
numbered from 101. No message ever shows a token, a ciphertext or a key.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .conf import ACCESS_TOKEN_MODES, CLIENT_GENERATED, DEFAULTS

_NON_NEGATIVE_NUMBERS = ("WAIT_SECONDS", "APPLICATION_CACHE_SECONDS")
_POSITIVE_NUMBERS = ("TIMEOUT", "LEASE_SECONDS", "RETRY_BASE_SECONDS", "RETRY_MAX_SECONDS")
_OPTIONAL_STRINGS = ("API_TOKEN", "CUSTOM_ID_SECRET", "CLIENT_SECRET")
# One attempt may make two requests (a create, then a lookup after a 409), and
# TIMEOUT bounds a connect and each read: leave room for all of them.
_LEASE_TIMEOUTS = 4
_BOOLEANS = ("PROVISION_ON_LOGIN", "CUSTOM_IDS", "SYNC_NICKNAME", "USER_ADMIN")
_MIDDLEWARE = "livelike_profiles.middleware.LiveLikeProfileMiddleware"
_AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
# How many of the most recently stored tokens the database check tries to decrypt.
TOKEN_SAMPLE_SIZE = 100


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate ``settings.LIVELIKE``."""
    from django.conf import settings

    raw = getattr(settings, "LIVELIKE", None)
    if raw is not None and not isinstance(raw, dict):
        return [
            Error(
                f"LIVELIKE must be a dict, not {type(raw).__name__}.",
                hint='For example: LIVELIKE = {"CLIENT_ID": "<your LiveLike client id>"}',
                id="livelike_profiles.E006",
            )
        ]
    raw = raw or {}
    messages: list[CheckMessage] = []
    for check in (
        _check_client_id,
        _check_api_url,
        _check_numbers,
        _check_booleans,
        _check_nickname,
        _check_encryption_keys,
        _check_custom_id_path,
        _check_unknown_keys,
        _check_admin_token,
        _check_nickname_length,
        _check_throttle_rate,
        _check_sync_nickname,
        _check_strings,
        _check_lease,
        _check_access_tokens,
        _check_token_ttl,
        _check_client_class,
    ):
        messages.extend(check(raw))
    return messages


def _check_client_id(raw: dict[str, Any]) -> list[CheckMessage]:
    value = raw.get("CLIENT_ID")
    if not isinstance(value, str) or not value.strip():
        return [
            Error(
                'LIVELIKE["CLIENT_ID"] is missing or empty.',
                hint="Set it to your application's client id from LiveLike's Producer Suite.",
                id="livelike_profiles.E001",
            )
        ]
    return []


def _check_api_url(raw: dict[str, Any]) -> list[CheckMessage]:
    value = raw.get("API_URL", DEFAULTS["API_URL"])
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return [
            Error(
                f'LIVELIKE["API_URL"] must be an http(s) URL, not {value!r}.',
                hint=f"The default is {DEFAULTS['API_URL']!r}.",
                id="livelike_profiles.E002",
            )
        ]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_numbers(raw: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key in _POSITIVE_NUMBERS:
        value = raw.get(key, DEFAULTS[key])
        if not _is_number(value) or value <= 0:
            messages.append(
                Error(
                    f'LIVELIKE["{key}"] must be a positive number of seconds, not {value!r}.',
                    hint=f"The default is {DEFAULTS[key]!r}.",
                    id="livelike_profiles.E003",
                )
            )
    for key in _NON_NEGATIVE_NUMBERS:
        value = raw.get(key, DEFAULTS[key])
        if not _is_number(value) or value < 0:
            messages.append(
                Error(
                    f'LIVELIKE["{key}"] must be a number of seconds, zero or more, not {value!r}.',
                    hint=f"The default is {DEFAULTS[key]!r}.",
                    id="livelike_profiles.E003",
                )
            )
    return messages


def _check_booleans(raw: dict[str, Any]) -> list[CheckMessage]:
    return [
        Error(
            f'LIVELIKE["{key}"] must be True or False, not {raw[key]!r}.',
            hint=f"The default is {DEFAULTS[key]!r}.",
            id="livelike_profiles.E007",
        )
        for key in _BOOLEANS
        if key in raw and not isinstance(raw[key], bool)
    ]


def _check_nickname(raw: dict[str, Any]) -> list[CheckMessage]:
    path = raw.get("NICKNAME")
    if path is None:
        return []
    problem = None
    if not isinstance(path, str) or not path:
        problem = f"must be a dotted path to a callable, not {path!r}"
    else:
        try:
            target: Callable[..., Any] = import_string(path)
        except ImportError as err:
            problem = f"{path!r} does not import ({err})"
        else:
            if not callable(target):
                problem = f"{path!r} is not callable"
    if problem is None:
        return []
    return [
        Error(
            f'LIVELIKE["NICKNAME"] {problem}.',
            hint="Use the dotted path of a function user -> str | None, "
            'e.g. "myapp.nicknames.for_user".',
            id="livelike_profiles.E004",
        )
    ]


def _check_encryption_keys(raw: dict[str, Any]) -> list[CheckMessage]:
    keys = raw.get("ENCRYPTION_KEYS")
    if keys is None:
        return []
    hint = (
        "Give a non-empty list of Fernet keys, newest first; make one with: python -c "
        "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    )
    if not isinstance(keys, list | tuple) or not keys:
        return [
            Error(
                'LIVELIKE["ENCRYPTION_KEYS"] must be a non-empty list of Fernet keys.',
                hint=hint,
                id="livelike_profiles.E005",
            )
        ]
    messages: list[CheckMessage] = []
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (TypeError, ValueError):
            # Never echo the key itself: it is a secret.
            messages.append(
                Error(
                    f'LIVELIKE["ENCRYPTION_KEYS"][{index}] is not a valid Fernet key '
                    "(32 url-safe base64-encoded bytes).",
                    hint=hint,
                    id="livelike_profiles.E005",
                )
            )
    return messages


def _check_custom_id_path(raw: dict[str, Any]) -> list[CheckMessage]:
    value = raw.get("CUSTOM_ID_PATH", DEFAULTS["CUSTOM_ID_PATH"])
    if (
        not isinstance(value, str)
        or "{custom_id}" not in value
        or value.startswith("/")
        or "://" in value
    ):
        return [
            Error(
                f'LIVELIKE["CUSTOM_ID_PATH"] must be a path relative to API_URL containing '
                f"{{custom_id}}, not {value!r}.",
                hint=f"The default is {DEFAULTS['CUSTOM_ID_PATH']!r}.",
                id="livelike_profiles.E008",
            )
        ]
    try:
        value.format(client_id="x", custom_id="x")
    except (KeyError, IndexError, ValueError):
        return [
            Error(
                'LIVELIKE["CUSTOM_ID_PATH"] may only use {client_id} and {custom_id}, '
                f"not {value!r}.",
                hint=f"The default is {DEFAULTS['CUSTOM_ID_PATH']!r}.",
                id="livelike_profiles.E008",
            )
        ]
    return []


def _check_unknown_keys(raw: dict[str, Any]) -> list[CheckMessage]:
    return [
        Warning(
            f'LIVELIKE["{key}"] is not a setting of django-livelike-profiles and is ignored.',
            hint="Known keys: " + ", ".join(sorted(DEFAULTS)) + ".",
            id="livelike_profiles.W001",
        )
        for key in sorted(set(raw) - set(DEFAULTS), key=str)
    ]


def _check_admin_token(raw: dict[str, Any]) -> list[CheckMessage]:
    if _check_client_id(raw):
        return []  # E001 already says what is wrong
    if raw.get("CLIENT_SECRET") or raw.get("ACCESS_TOKENS") == CLIENT_GENERATED:
        return []  # a lost answer is recovered with a minted token, no admin token needed
    if raw.get("CUSTOM_IDS", True) is True and not raw.get("API_TOKEN"):
        return [
            Warning(
                'LIVELIKE["CUSTOM_IDS"] is on but LIVELIKE["API_TOKEN"] is empty: a profile '
                "whose creation answer was lost cannot be recovered and is left in the "
                '"conflict" state for an operator.',
                hint="Set CLIENT_SECRET to the application's client secret (it recovers such "
                "profiles by minting a token for them), or API_TOKEN to its admin token.",
                id="livelike_profiles.W002",
            )
        ]
    return []


def _check_nickname_length(raw: dict[str, Any]) -> list[CheckMessage]:
    value = raw.get("NICKNAME_MAX_LENGTH", DEFAULTS["NICKNAME_MAX_LENGTH"])
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 255:
        return []
    return [
        Error(
            f'LIVELIKE["NICKNAME_MAX_LENGTH"] must be a whole number from 1 to 255, not {value!r}.',
            hint=f"The default is {DEFAULTS['NICKNAME_MAX_LENGTH']!r}.",
            id="livelike_profiles.E009",
        )
    ]


def _check_throttle_rate(raw: dict[str, Any]) -> list[CheckMessage]:
    value = raw.get("THROTTLE_RATE", DEFAULTS["THROTTLE_RATE"])
    if value is None:
        return []
    number, _, period = value.partition("/") if isinstance(value, str) else ("", "", "")
    if number.isdigit() and int(number) > 0 and period[:1] in ("s", "m", "h", "d"):
        return []
    return [
        Error(
            f'LIVELIKE["THROTTLE_RATE"] must be a DRF rate like "10/minute", or None, '
            f"not {value!r}.",
            hint=f"The default is {DEFAULTS['THROTTLE_RATE']!r}.",
            id="livelike_profiles.E010",
        )
    ]


def _check_sync_nickname(raw: dict[str, Any]) -> list[CheckMessage]:
    if raw.get("SYNC_NICKNAME") is True and not raw.get("NICKNAME"):
        return [
            Warning(
                'LIVELIKE["SYNC_NICKNAME"] is on but LIVELIKE["NICKNAME"] is not set: '
                "there is no nickname to keep in sync.",
                hint="Set NICKNAME to the dotted path of a function user -> str | None.",
                id="livelike_profiles.W003",
            )
        ]
    return []


def _check_strings(raw: dict[str, Any]) -> list[CheckMessage]:
    return [
        Error(
            f'LIVELIKE["{key}"] must be a string, not {type(raw[key]).__name__}.',
            hint="Leave it out for the default.",
            id="livelike_profiles.E012",
        )
        for key in _OPTIONAL_STRINGS
        if raw.get(key) is not None and not isinstance(raw[key], str)
    ]


def _check_lease(raw: dict[str, Any]) -> list[CheckMessage]:
    lease = raw.get("LEASE_SECONDS", DEFAULTS["LEASE_SECONDS"])
    timeout = raw.get("TIMEOUT", DEFAULTS["TIMEOUT"])
    if not (_is_number(lease) and _is_number(timeout)) or lease <= 0 or timeout <= 0:
        return []  # E003 says what is wrong
    if lease >= _LEASE_TIMEOUTS * timeout:
        return []
    return [
        Warning(
            f'LIVELIKE["LEASE_SECONDS"] ({lease:g}) is shorter than {_LEASE_TIMEOUTS} x '
            f'LIVELIKE["TIMEOUT"] ({timeout:g}): a slow attempt can lose its claim while '
            "LiveLike is still creating the profile, and without custom ids that costs a "
            "second profile.",
            hint=f"Set LEASE_SECONDS to at least {_LEASE_TIMEOUTS * timeout:g}.",
            id="livelike_profiles.W004",
        )
    ]


def _check_access_tokens(raw: dict[str, Any]) -> list[CheckMessage]:
    mode = raw.get("ACCESS_TOKENS", DEFAULTS["ACCESS_TOKENS"])
    if mode not in ACCESS_TOKEN_MODES:
        valid = " or ".join(f'"{m}"' for m in ACCESS_TOKEN_MODES)
        return [
            Error(
                f'LIVELIKE["ACCESS_TOKENS"] must be {valid}, not {mode!r}.',
                hint=f'The default is "{DEFAULTS["ACCESS_TOKENS"]}".',
                id="livelike_profiles.E013",
            )
        ]
    if mode != CLIENT_GENERATED:
        return []
    messages: list[CheckMessage] = []
    secret = raw.get("CLIENT_SECRET")
    if not isinstance(secret, str) or not secret.strip():
        # Never echo the value: it may be a (mistyped) secret.
        messages.append(
            Error(
                'LIVELIKE["ACCESS_TOKENS"] is "client-generated" but LIVELIKE["CLIENT_SECRET"] '
                "is missing or empty: nothing can sign the profiles' access tokens.",
                hint="Set CLIENT_SECRET to the application's client secret (server side only).",
                id="livelike_profiles.E014",
            )
        )
    if raw.get("CUSTOM_IDS", True) is not True:
        messages.append(
            Error(
                'LIVELIKE["ACCESS_TOKENS"] is "client-generated" but LIVELIKE["CUSTOM_IDS"] is '
                "off: a minted token names its profile by custom id.",
                hint="Remove CUSTOM_IDS (it defaults to True).",
                id="livelike_profiles.E015",
            )
        )
    return messages


def _check_token_ttl(raw: dict[str, Any]) -> list[CheckMessage]:
    value = raw.get("TOKEN_TTL", DEFAULTS["TOKEN_TTL"])
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return []
    return [
        Error(
            f'LIVELIKE["TOKEN_TTL"] must be a whole number of seconds above 0, or None for '
            f"tokens without expiry, not {value!r}.",
            hint=f"The default is {DEFAULTS['TOKEN_TTL']!r} (a day).",
            id="livelike_profiles.E016",
        )
    ]


def _check_client_class(raw: dict[str, Any]) -> list[CheckMessage]:
    path = raw.get("CLIENT_CLASS", DEFAULTS["CLIENT_CLASS"])
    base = "livelike_profiles.client.LiveLikeClient"
    if isinstance(path, str) and _is_subclass(_resolve(path), base):
        return []
    return [
        Error(
            f'LIVELIKE["CLIENT_CLASS"] must be the dotted path of a LiveLikeClient subclass, '
            f"not {path!r}.",
            hint=f"The default is {DEFAULTS['CLIENT_CLASS']!r}; subclass it to override "
            "create_session() (proxies, certificates, retries).",
            id="livelike_profiles.E017",
        )
    ]


@register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``LiveLikeProfileMiddleware`` needs ``AuthenticationMiddleware`` before it."""
    from django.conf import settings

    middleware = [_resolve(entry) for entry in getattr(settings, "MIDDLEWARE", None) or []]
    ours = [i for i, cls in enumerate(middleware) if _is_subclass(cls, _MIDDLEWARE)]
    if not ours:
        return []
    auth = [i for i, cls in enumerate(middleware) if _is_subclass(cls, _AUTH_MIDDLEWARE)]
    if not auth:
        problem = f"{_MIDDLEWARE} needs {_AUTH_MIDDLEWARE}, which is not in MIDDLEWARE."
    elif auth[0] > ours[0]:
        problem = f"{_MIDDLEWARE} must come after {_AUTH_MIDDLEWARE} in MIDDLEWARE."
    else:
        return []
    return [
        Error(
            problem,
            hint="It reads request.user, which AuthenticationMiddleware sets.",
            id="livelike_profiles.E011",
        )
    ]


def _resolve(entry: str) -> Any:
    try:
        return import_string(entry)
    except ImportError:
        return None  # Django reports unimportable middleware itself


def _is_subclass(cls: Any, path: str) -> bool:
    return isinstance(cls, type) and issubclass(cls, import_string(path))


@register(Tags.database)
def check_stored_tokens(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """Whether the configured keys decrypt the most recently stored tokens (a sample).

    Catches the key change that would orphan them, such as setting
    ``ENCRYPTION_KEYS`` without the key derived from ``SECRET_KEY``.
    """
    if not databases or (
        app_configs is not None and not any(c.name == "livelike_profiles" for c in app_configs)
    ):
        return []
    from django.db import connections, router

    from .encryption import get_fernet, is_readable
    from .models import LiveLikeProfile

    try:
        get_fernet()
    except (TypeError, ValueError):
        return []  # E005 says what is wrong with the keys
    messages: list[CheckMessage] = []
    table = LiveLikeProfile._meta.db_table
    for alias in databases:
        if not router.allow_migrate_model(alias, LiveLikeProfile):
            continue
        if table not in connections[alias].introspection.table_names():
            continue  # not migrated yet: nothing stored
        sample = list(
            LiveLikeProfile.objects.using(alias)
            .exclude(access_token="")
            .order_by("-pk")
            .values_list("access_token", flat=True)[:TOKEN_SAMPLE_SIZE]
        )
        unreadable = [ciphertext for ciphertext in sample if not is_readable(ciphertext)]
        if unreadable:
            messages.append(_unreadable_tokens(alias, len(sample), unreadable))
    return messages


def _unreadable_tokens(alias: str, sampled: int, unreadable: list[str]) -> CheckMessage:
    from django.conf import settings

    from .conf import conf

    every = len(unreadable) == sampled
    msg = (
        f"{len(unreadable)} of the {sampled} most recently stored LiveLike access tokens in "
        f"database {alias!r} cannot be decrypted with any configured key: those users' "
        "profiles are unusable until the key that encrypted them is configured again."
    )
    secrets = {"SECRET_KEY": settings.SECRET_KEY}
    for index, fallback in enumerate(getattr(settings, "SECRET_KEY_FALLBACKS", [])):
        secrets[f"SECRET_KEY_FALLBACKS[{index}]"] = fallback
    if conf.ENCRYPTION_KEYS:
        # The usual cause: ENCRYPTION_KEYS set without carrying the derived key over.
        derived = [name for name, secret in secrets.items() if _reads_any(secret, unreadable)]
        if derived:
            carried = ", ".join(f"derived_key({name})" for name in derived)
            hint = (
                "They are encrypted with the key derived from "
                f"{' and '.join(derived)} (the default before "
                'LIVELIKE["ENCRYPTION_KEYS"] was set). Add '
                f'{carried} to LIVELIKE["ENCRYPTION_KEYS"] after your new key '
                "(from livelike_profiles.encryption_keys import derived_key), then run "
                "manage.py livelike_rotate_keys."
            )
        else:
            hint = (
                'Put the key that encrypted them back in LIVELIKE["ENCRYPTION_KEYS"], after '
                "the first; manage.py livelike_rotate_keys --dry-run lists the rows."
            )
    else:
        hint = (
            "If SECRET_KEY was changed, put the old value in SECRET_KEY_FALLBACKS; if they "
            'were encrypted with LIVELIKE["ENCRYPTION_KEYS"], set those keys again. '
            "manage.py livelike_rotate_keys --dry-run lists the rows."
        )
    if every:
        return Error(msg, hint=hint, id="livelike_profiles.E101")
    return Warning(msg, hint=hint, id="livelike_profiles.W101")


def _reads_any(secret: Any, ciphertexts: list[str]) -> bool:
    """Whether the key derived from ``secret`` decrypts any of ``ciphertexts``."""
    from .encryption_keys import derived_key

    try:
        fernet = Fernet(derived_key(secret))
    except (TypeError, ValueError):
        return False
    for ciphertext in ciphertexts:
        try:
            fernet.decrypt(ciphertext.encode())
        except (InvalidToken, ValueError):
            continue
        return True
    return False
