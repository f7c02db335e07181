"""Checks of each ``LIVELIKE`` key's value on its own: its type, its range, its form.

Each takes the raw ``settings.LIVELIKE`` dict and returns the messages for
one key or one group of keys; :func:`livelike_profiles.checks.settings.check_settings`
runs them. Every message names the exact key and says what would be valid,
and never echoes a key or a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from ..conf import ACCESS_TOKEN_MODES, DEFAULTS, MAX_SECONDS, ON_USER_DELETE_CHOICES

_NON_NEGATIVE_NUMBERS = ("WAIT_SECONDS", "APPLICATION_CACHE_SECONDS")
_POSITIVE_NUMBERS = ("TIMEOUT", "LEASE_SECONDS", "RETRY_BASE_SECONDS", "RETRY_MAX_SECONDS")
_OPTIONAL_STRINGS = ("API_TOKEN", "CUSTOM_ID_SECRET", "CLIENT_SECRET")
_BOOLEANS = ("CUSTOM_IDS", "SYNC_NICKNAME", "USER_ADMIN", "GUEST_PROFILES")


def check_client_id(raw: dict[str, Any]) -> list[CheckMessage]:
    """E001: ``CLIENT_ID`` is a non-empty string."""
    value = raw.get("CLIENT_ID")
    if value is not None and not isinstance(value, str):
        return [
            Error(
                f'LIVELIKE["CLIENT_ID"] must be a string, not {type(value).__name__}.',
                hint="Set it to your application's client id from LiveLike's Producer Suite.",
                id="livelike_profiles.E001",
            )
        ]
    if not value or not value.strip():
        return [
            Error(
                'LIVELIKE["CLIENT_ID"] is missing or empty.',
                hint="Set it to your application's client id from LiveLike's Producer Suite.",
                id="livelike_profiles.E001",
            )
        ]
    return []


def check_api_url(raw: dict[str, Any]) -> list[CheckMessage]:
    """E002: ``API_URL`` is an http(s) URL."""
    value = raw.get("API_URL", DEFAULTS["API_URL"])
    if not (isinstance(value, str) and is_http_url(value)):
        return [
            Error(
                f'LIVELIKE["API_URL"] must be an http(s) URL, not {shown(value)}.',
                hint=f"The default is {DEFAULTS['API_URL']!r}.",
                id="livelike_profiles.E002",
            )
        ]
    return []


def shown(value: Any) -> str:
    """``repr(value)`` for a message, cut short; never raises, as repr of a huge int does."""
    try:
        text = repr(value)
    except Exception:
        return f"a {type(value).__name__} that cannot be shown"
    return text if len(text) <= 80 else text[:77] + "..."


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL with a host and, if any, a valid port."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:  # urlsplit does too, for a bracket left open ("http://[::1/")
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (``True`` and ``False`` are not)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def is_duration(value: Any) -> bool:
    """Whether ``value`` is a number of seconds from 0 to :data:`MAX_SECONDS`.

    NaN fails both comparisons, infinity the second; no float() conversion, which
    an integer too large for a float (``10**400``) would make raise.
    """
    return is_number(value) and 0 <= value <= MAX_SECONDS


def check_numbers(raw: dict[str, Any]) -> list[CheckMessage]:
    """E003: the timeouts and delays are numbers of seconds in range."""
    messages: list[CheckMessage] = []
    for key in _POSITIVE_NUMBERS + _NON_NEGATIVE_NUMBERS:
        value = raw.get(key, DEFAULTS[key])
        positive = key in _POSITIVE_NUMBERS
        if is_duration(value) and (value > 0 or not positive):
            continue
        least = "above 0" if positive else "from 0"
        messages.append(
            Error(
                f'LIVELIKE["{key}"] must be a number of seconds {least} to {MAX_SECONDS:,} '
                f"(ten years), not {shown(value)}.",
                hint=f"The default is {DEFAULTS[key]!r}.",
                id="livelike_profiles.E003",
            )
        )
    return messages


def check_booleans(raw: dict[str, Any]) -> list[CheckMessage]:
    """E007: the switches are ``True`` or ``False``."""
    return [
        Error(
            f'LIVELIKE["{key}"] must be True or False, not {shown(raw[key])}.',
            hint=f"The default is {DEFAULTS[key]!r}.",
            id="livelike_profiles.E007",
        )
        for key in _BOOLEANS
        if key in raw and not isinstance(raw[key], bool)
    ]


def check_nickname(raw: dict[str, Any]) -> list[CheckMessage]:
    """E004: ``NICKNAME`` is the dotted path of a callable."""
    hint = 'Use the dotted path of a function user -> str | None, e.g. "myapp.nicknames.for_user".'
    return _callable_path(raw, "NICKNAME", hint, "livelike_profiles.E004")


def check_provision_if(raw: dict[str, Any]) -> list[CheckMessage]:
    """E024: ``PROVISION_IF`` is the dotted path of a callable."""
    hint = 'Use the dotted path of a function user -> bool, e.g. "myapp.livelike.not_staff".'
    return _callable_path(raw, "PROVISION_IF", hint, "livelike_profiles.E024")


def _callable_path(raw: dict[str, Any], key: str, hint: str, check_id: str) -> list[CheckMessage]:
    path = raw.get(key)
    if path is None:
        return []
    problem = None
    if not isinstance(path, str) or not path:
        problem = f"must be a dotted path to a callable, not {shown(path)}"
    else:
        target: Callable[..., Any] | None
        target, error = imported(path)
        if error is not None:
            problem = f"{shown(path)} does not import ({error})"
        elif not callable(target):
            problem = f"{shown(path)} is not callable"
    if problem is None:
        return []
    return [Error(f'LIVELIKE["{key}"] {problem}.', hint=hint, id=check_id)]


def check_encryption_keys(raw: dict[str, Any]) -> list[CheckMessage]:
    """E005: ``ENCRYPTION_KEYS`` is a non-empty list of Fernet keys."""
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


def check_custom_id_path(raw: dict[str, Any]) -> list[CheckMessage]:
    """E008: ``CUSTOM_ID_PATH`` is a relative path with ``{custom_id}``."""
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
                f"{{custom_id}}, not {shown(value)}.",
                hint=f"The default is {DEFAULTS['CUSTOM_ID_PATH']!r}.",
                id="livelike_profiles.E008",
            )
        ]
    try:
        value.format(client_id="x", custom_id="x")
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return [
            Error(
                'LIVELIKE["CUSTOM_ID_PATH"] may only use {client_id} and {custom_id}, '
                f"not {shown(value)}.",
                hint=f"The default is {DEFAULTS['CUSTOM_ID_PATH']!r}.",
                id="livelike_profiles.E008",
            )
        ]
    return []


def check_unknown_keys(raw: dict[str, Any]) -> list[CheckMessage]:
    """W001: every key is one of ours."""
    return [
        Warning(
            f'LIVELIKE["{key}"] is not a setting of django-livelike-profiles and is ignored.',
            hint="Known keys: " + ", ".join(sorted(DEFAULTS)) + ".",
            id="livelike_profiles.W001",
        )
        for key in sorted(set(raw) - set(DEFAULTS), key=str)
    ]


def check_nickname_length(raw: dict[str, Any]) -> list[CheckMessage]:
    """E009: ``NICKNAME_MAX_LENGTH`` is a whole number from 1 to 255."""
    value = raw.get("NICKNAME_MAX_LENGTH", DEFAULTS["NICKNAME_MAX_LENGTH"])
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 255:
        return []
    return [
        Error(
            'LIVELIKE["NICKNAME_MAX_LENGTH"] must be a whole number from 1 to 255, '
            f"not {shown(value)}.",
            hint=f"The default is {DEFAULTS['NICKNAME_MAX_LENGTH']!r}.",
            id="livelike_profiles.E009",
        )
    ]


def check_throttle_rate(raw: dict[str, Any]) -> list[CheckMessage]:
    """E010: ``THROTTLE_RATE`` is a DRF rate or ``None``."""
    return _rate_or_none(raw, "THROTTLE_RATE", "livelike_profiles.E010")


def check_guest_throttle_rate(raw: dict[str, Any]) -> list[CheckMessage]:
    """E019: ``GUEST_THROTTLE_RATE`` is a DRF rate or ``None``."""
    return _rate_or_none(raw, "GUEST_THROTTLE_RATE", "livelike_profiles.E019")


def _rate_or_none(raw: dict[str, Any], key: str, check_id: str) -> list[CheckMessage]:
    value = raw.get(key, DEFAULTS[key])
    if value is None or (isinstance(value, str) and is_rate(value)):
        return []
    return [
        Error(
            f'LIVELIKE["{key}"] must be a DRF rate like "10/minute", or None, not {shown(value)}.',
            hint=f"The default is {DEFAULTS[key]!r}.",
            id=check_id,
        )
    ]


def is_rate(value: str) -> bool:
    """Whether DRF's throttles read ``value``: a count above 0, one "/", a period s, m, h or d."""
    number, _, period = value.partition("/")
    # isdecimal(), not isdigit(): int() refuses "²"; and at most 18 digits, as int()
    # refuses more than 4,300.
    return (
        number.isdecimal()
        and len(number) <= 18
        and int(number) > 0
        and period[:1] in ("s", "m", "h", "d")
        and "/" not in period  # DRF splits on every "/" and expects two parts
    )


def check_strings(raw: dict[str, Any]) -> list[CheckMessage]:
    """E012: the optional secrets and ids are strings that UTF-8 encodes."""
    messages: list[CheckMessage] = []
    for key in _OPTIONAL_STRINGS:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and encodes(value)):
            continue
        # Never echo the value: it is a secret.
        problem = (
            "holds a lone surrogate, which UTF-8 cannot encode"
            if isinstance(value, str)
            else f"must be a string, not {type(value).__name__}"
        )
        messages.append(
            Error(
                f'LIVELIKE["{key}"] {problem}.',
                hint="Leave it out for the default.",
                id="livelike_profiles.E012",
            )
        )
    return messages


def encodes(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8: a lone surrogate ("\\ud800") does not."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_access_tokens(raw: dict[str, Any]) -> list[CheckMessage]:
    """E013: ``ACCESS_TOKENS`` is one of the modes."""
    return _one_of(raw, "ACCESS_TOKENS", ACCESS_TOKEN_MODES, "livelike_profiles.E013")


def check_on_user_delete(raw: dict[str, Any]) -> list[CheckMessage]:
    """E018: ``ON_USER_DELETE`` is ``"delete"`` or ``"keep"``."""
    return _one_of(raw, "ON_USER_DELETE", ON_USER_DELETE_CHOICES, "livelike_profiles.E018")


def _one_of(
    raw: dict[str, Any], key: str, choices: tuple[str, ...], check_id: str
) -> list[CheckMessage]:
    value = raw.get(key, DEFAULTS[key])
    if isinstance(value, str) and value in choices:
        return []
    valid = " or ".join(f'"{choice}"' for choice in choices)
    return [
        Error(
            f'LIVELIKE["{key}"] must be {valid}, not {shown(value)}.',
            hint=f'The default is "{DEFAULTS[key]}".',
            id=check_id,
        )
    ]


def check_token_ttl(raw: dict[str, Any]) -> list[CheckMessage]:
    """E016: ``TOKEN_TTL`` is a whole number of seconds up to ten years, or ``None``."""
    value = raw.get("TOKEN_TTL", DEFAULTS["TOKEN_TTL"])
    if value is None or (
        isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SECONDS
    ):
        return []
    return [
        Error(
            f'LIVELIKE["TOKEN_TTL"] must be a whole number of seconds above 0 to '
            f"{MAX_SECONDS:,} (ten years), or None for tokens without expiry, "
            f"not {shown(value)}.",
            hint=f"The default is {DEFAULTS['TOKEN_TTL']!r} (a day).",
            id="livelike_profiles.E016",
        )
    ]


def check_client_class(raw: dict[str, Any]) -> list[CheckMessage]:
    """E017: ``CLIENT_CLASS`` is the dotted path of a ``LiveLikeClient`` subclass."""
    path = raw.get("CLIENT_CLASS", DEFAULTS["CLIENT_CLASS"])
    base = "livelike_profiles.livelike.client.LiveLikeClient"
    if isinstance(path, str) and is_subclass(resolve(path), base):
        return []
    return [
        Error(
            f'LIVELIKE["CLIENT_CLASS"] must be the dotted path of a LiveLikeClient subclass, '
            f"not {shown(path)}.",
            hint=f"The default is {DEFAULTS['CLIENT_CLASS']!r}; subclass it to override "
            "create_session() (proxies, certificates, retries).",
            id="livelike_profiles.E017",
        )
    ]


def resolve(entry: str) -> Any:
    """The object at dotted path ``entry``, or ``None`` if it does not import."""
    return imported(entry)[0]  # Django reports unimportable middleware itself


def imported(path: str) -> tuple[Any, str | None]:
    """The object at dotted path ``path`` and ``None``, or ``None`` and why it does not import."""
    try:
        return import_string(path), None
    except Exception as error:
        # Not only ImportError: ".x" raises ValueError, "..x.y" TypeError, and a module
        # whatever its code raises. A check says so; it never ends in a traceback.
        return None, str(error) or type(error).__name__


def is_subclass(cls: Any, path: str) -> bool:
    """Whether ``cls`` is a class deriving from the one at dotted path ``path``."""
    return isinstance(cls, type) and issubclass(cls, import_string(path))
