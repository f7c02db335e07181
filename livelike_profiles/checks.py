"""System checks for the ``LIVELIKE`` setting, run by ``manage.py check`` and at startup.

Every message names the exact key and says what would be valid.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS

_NON_NEGATIVE_NUMBERS = ("LEASE_SECONDS", "WAIT_SECONDS", "APPLICATION_CACHE_SECONDS")
_POSITIVE_NUMBERS = ("TIMEOUT", "RETRY_BASE_SECONDS", "RETRY_MAX_SECONDS")
_BOOLEANS = ("PROVISION_ON_LOGIN", "CUSTOM_IDS")


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
    if raw.get("CUSTOM_IDS", True) is True and not raw.get("API_TOKEN"):
        return [
            Warning(
                'LIVELIKE["CUSTOM_IDS"] is on but LIVELIKE["API_TOKEN"] is empty: a profile '
                "whose creation answer was lost cannot be recovered and is left in the "
                '"conflict" state for an operator.',
                hint="Set API_TOKEN to the application's admin token (server side only).",
                id="livelike_profiles.W002",
            )
        ]
    return []
