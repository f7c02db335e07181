"""The registered checks of the settings: ``LIVELIKE`` as a whole, and ``MIDDLEWARE``.

:func:`check_settings` runs the checks of each key's value
(:mod:`livelike_profiles.checks.values`) and, here, those of keys that only
make sense together (an admin token for custom ids, a lease long enough for
the timeout, what client-generated tokens need). :func:`check_middleware`
checks the middleware's place.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from ..conf import CLIENT_GENERATED, DEFAULTS, DELETE
from ..tokens.minting import MIN_SECRET_BYTES
from . import tasks as task_checks
from . import values as values

# One attempt may make two requests (a create, then a lookup after a 409), and
# TIMEOUT bounds each one's connect, the wait for its answer, and the reading of
# its body: leave room for all of them.
_LEASE_TIMEOUTS = 6
_MIDDLEWARE = "livelike_profiles.middleware.LiveLikeProfileMiddleware"
_AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"


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
        values.check_client_id,
        values.check_api_url,
        values.check_numbers,
        values.check_booleans,
        task_checks.check_provision_on_login,
        values.check_nickname,
        values.check_provision_if,
        values.check_encryption_keys,
        values.check_custom_id_path,
        values.check_unknown_keys,
        _check_admin_token,
        values.check_nickname_length,
        values.check_throttle_rate,
        values.check_guest_throttle_rate,
        _check_sync_nickname,
        values.check_strings,
        _check_lease,
        values.check_access_tokens,
        _check_client_generated,
        _check_client_secret_length,
        _check_retry_range,
        values.check_token_ttl,
        values.check_client_class,
        values.check_on_user_delete,
        _check_erasure_token,
        task_checks.check_task_backend,
    ):
        messages.extend(check(raw))
    return messages


def _check_admin_token(raw: dict[str, Any]) -> list[CheckMessage]:
    if values.check_client_id(raw):
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
                "profiles by minting a token for them). API_TOKEN, the admin token, recovers "
                "them only where LiveLike's lookup answer carries the token, which its "
                "documentation does not promise.",
                id="livelike_profiles.W002",
            )
        ]
    return []


def _check_erasure_token(raw: dict[str, Any]) -> list[CheckMessage]:
    if raw.get("ON_USER_DELETE", DEFAULTS["ON_USER_DELETE"]) == DELETE and not raw.get("API_TOKEN"):
        return [
            Warning(
                'LIVELIKE["ON_USER_DELETE"] is "delete" but LIVELIKE["API_TOKEN"] is empty: '
                "LiveLike erases a profile only when asked with the admin token, so deleted "
                "users' profiles wait in the erasure outbox until it is set.",
                hint="Set API_TOKEN to the application's admin token, or ON_USER_DELETE to "
                '"keep".',
                id="livelike_profiles.W005",
            )
        ]
    return []


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


def _check_lease(raw: dict[str, Any]) -> list[CheckMessage]:
    lease = raw.get("LEASE_SECONDS", DEFAULTS["LEASE_SECONDS"])
    timeout = raw.get("TIMEOUT", DEFAULTS["TIMEOUT"])
    if not (values.is_duration(lease) and values.is_duration(timeout)) or not lease or not timeout:
        return []  # E003 says what is wrong
    if lease >= _LEASE_TIMEOUTS * timeout:
        return []
    return [
        Warning(
            f'LIVELIKE["LEASE_SECONDS"] ({float(lease):g}) is shorter than {_LEASE_TIMEOUTS} x '
            f'LIVELIKE["TIMEOUT"] ({float(timeout):g}): a slow attempt can lose its claim while '
            "LiveLike is still creating the profile, and without custom ids that costs a "
            "second profile.",
            hint=f"Set LEASE_SECONDS to at least {float(_LEASE_TIMEOUTS * timeout):g}.",
            id="livelike_profiles.W004",
        )
    ]


def _check_client_generated(raw: dict[str, Any]) -> list[CheckMessage]:
    if raw.get("ACCESS_TOKENS", DEFAULTS["ACCESS_TOKENS"]) != CLIENT_GENERATED:
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


def _check_client_secret_length(raw: dict[str, Any]) -> list[CheckMessage]:
    secret = raw.get("CLIENT_SECRET")
    if not isinstance(secret, str) or not secret or not values.encodes(secret):
        return []  # unset, or E012 says what is wrong
    if len(secret.encode()) >= MIN_SECRET_BYTES:
        return []
    if raw.get("ACCESS_TOKENS") == CLIENT_GENERATED and not secret.strip():
        return []  # E014 says it is empty
    # Never echo the value, nor its length.
    return [
        Warning(
            f'LIVELIKE["CLIENT_SECRET"] is shorter than {MIN_SECRET_BYTES} bytes, too '
            "short a key to sign access tokens with (HS256, RFC 7518 section 3.2).",
            hint="Use your application's client secret exactly as LiveLike gives it; PyJWT "
            "also warns at every token signed with a key this short.",
            id="livelike_profiles.W006",
        )
    ]


def _check_retry_range(raw: dict[str, Any]) -> list[CheckMessage]:
    base = raw.get("RETRY_BASE_SECONDS", DEFAULTS["RETRY_BASE_SECONDS"])
    most = raw.get("RETRY_MAX_SECONDS", DEFAULTS["RETRY_MAX_SECONDS"])
    if not (values.is_duration(base) and values.is_duration(most)) or most >= base:
        return []  # E003 says what is wrong, or nothing is
    return [
        Warning(
            f'LIVELIKE["RETRY_MAX_SECONDS"] ({float(most):g}) is below '
            f'LIVELIKE["RETRY_BASE_SECONDS"] ({float(base):g}): every retry waits '
            "RETRY_MAX_SECONDS, with no backoff.",
            hint="RETRY_MAX_SECONDS caps the doubling delays that start at RETRY_BASE_SECONDS: "
            "set it at least as high.",
            id="livelike_profiles.W007",
        )
    ]


@register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``LiveLikeProfileMiddleware`` needs ``AuthenticationMiddleware`` before it."""
    from django.conf import settings

    middleware = [values.resolve(entry) for entry in getattr(settings, "MIDDLEWARE", None) or []]
    ours = [i for i, cls in enumerate(middleware) if values.is_subclass(cls, _MIDDLEWARE)]
    if not ours:
        return []
    auth = [i for i, cls in enumerate(middleware) if values.is_subclass(cls, _AUTH_MIDDLEWARE)]
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


@register()
def check_guest_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E020: ``GUEST_PROFILES`` needs ``SessionMiddleware``, and this app's middleware after it."""
    from django.conf import settings

    from ..conf import conf

    if conf.raw.get("GUEST_PROFILES") is not True:
        return []
    middleware = [values.resolve(entry) for entry in getattr(settings, "MIDDLEWARE", None) or []]
    sessions, ours = _places(middleware, _SESSION_MIDDLEWARE), _places(middleware, _MIDDLEWARE)
    if not sessions:
        problem = (
            f'LIVELIKE["GUEST_PROFILES"] needs {_SESSION_MIDDLEWARE}, which is not in MIDDLEWARE.'
        )
    elif ours and ours[0] < sessions[0]:
        problem = f"With guest profiles, {_MIDDLEWARE} must come after {_SESSION_MIDDLEWARE}."
    else:
        return []
    return [
        Error(
            problem,
            hint="A guest profile is kept in the visitor's session, which SessionMiddleware loads.",
            id="livelike_profiles.E020",
        )
    ]


def _places(middleware: list[Any], path: str) -> list[int]:
    """Where in ``middleware`` (classes) the class at ``path``, or a subclass, stands."""
    return [i for i, cls in enumerate(middleware) if values.is_subclass(cls, path)]
