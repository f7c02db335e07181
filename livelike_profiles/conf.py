"""The app's settings: one ``LIVELIKE`` dict, read on every access.

Reading lazily (never at import time, never bound into default arguments) is
what lets ``override_settings(LIVELIKE=...)`` work in tests and lets
``manage.py check`` report a bad value instead of crashing at import.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from .tokens.redaction import Secret

DEFAULTS: dict[str, Any] = {
    "CLIENT_ID": "",
    "API_URL": "https://cf-blast.livelikecdn.com/api/v1/",
    "API_TOKEN": "",
    "TIMEOUT": 5.0,
    "PROVISION_ON_LOGIN": True,
    "NICKNAME": None,
    "CUSTOM_IDS": True,
    "CUSTOM_ID_SECRET": None,
    "CUSTOM_ID_PATH": "profile-by-custom-id/{client_id}/{custom_id}/",
    "ENCRYPTION_KEYS": None,
    "APPLICATION_CACHE_SECONDS": 600,
    "LEASE_SECONDS": 30,
    "WAIT_SECONDS": 2.0,
    "RETRY_BASE_SECONDS": 5,
    "RETRY_MAX_SECONDS": 3600,
    "NICKNAME_MAX_LENGTH": 50,
    "THROTTLE_RATE": "10/minute",
    "SYNC_NICKNAME": False,
    "ACCESS_TOKENS": "stored",
    "CLIENT_SECRET": "",
    "TOKEN_TTL": 86400,
    "USER_ADMIN": False,
    "CLIENT_CLASS": "livelike_profiles.client.LiveLikeClient",
    "ON_USER_DELETE": "delete",
    "GUEST_PROFILES": False,
    "GUEST_THROTTLE_RATE": "1000/minute",
    "TASK_BACKEND": None,
    "PROVISION_IF": None,
}

STORED = "stored"
CLIENT_GENERATED = "client-generated"
ACCESS_TOKEN_MODES = (STORED, CLIENT_GENERATED)

#: ``PROVISION_ON_LOGIN``'s third value: the login enqueues the provisioning (``TASK_BACKEND``).
BACKGROUND = "background"

DELETE = "delete"
KEEP = "keep"
ON_USER_DELETE_CHOICES = (DELETE, KEEP)

#: Ten years (of 365 days): the longest duration any key accepts (checks E003 and
#: E016), and the longest wait anything here computes or takes as an option.
#: Beyond it (or infinity, or NaN) the arithmetic on dates overflows, at a
#: login rather than in ``manage.py check``.
MAX_SECONDS = 10 * 365 * 24 * 3600


class LiveLikeSettings:
    """Typed, lazily read view of ``settings.LIVELIKE`` with the documented defaults."""

    @property
    def raw(self) -> dict[str, Any]:
        """The ``LIVELIKE`` dict as configured (empty when unset)."""
        value = getattr(settings, "LIVELIKE", None)
        return value if isinstance(value, dict) else {}

    def _get(self, key: str) -> Any:
        return self.raw.get(key, DEFAULTS[key])

    @property
    def CLIENT_ID(self) -> str:
        return self._get("CLIENT_ID") or ""

    @property
    def API_URL(self) -> str:
        """Base URL of LiveLike's REST API, always with a trailing slash."""
        url: str = self._get("API_URL") or DEFAULTS["API_URL"]
        return url if url.endswith("/") else url + "/"

    @property
    def API_TOKEN(self) -> str:
        # Secrets are Secret (a str printing masked): whichever frame holds one,
        # an error report's variables show "********".
        return Secret(self._get("API_TOKEN") or "")

    @property
    def TIMEOUT(self) -> float:
        return float(self._get("TIMEOUT"))

    @property
    def PROVISION_ON_LOGIN(self) -> bool:
        """Whether a login provisions the profile (at once, or in the background)."""
        return bool(self._get("PROVISION_ON_LOGIN"))

    @property
    def PROVISION_IN_BACKGROUND(self) -> bool:
        """Whether a login enqueues the provisioning (``PROVISION_ON_LOGIN = "background"``)."""
        return self._get("PROVISION_ON_LOGIN") == BACKGROUND and bool(self.TASK_BACKEND)

    @property
    def PROVISION_IF(self) -> str | None:
        """Dotted path of a callable ``user -> bool``: who gets a profile; None: everyone."""
        path: str | None = self._get("PROVISION_IF") or None
        return path

    @property
    def TASK_BACKEND(self) -> str | None:
        """The alias, in the site's ``TASKS``, of the backend background work goes to; or None."""
        alias: str | None = self._get("TASK_BACKEND") or None
        return alias

    @property
    def NICKNAME(self) -> str | None:
        return self._get("NICKNAME") or None

    @property
    def CUSTOM_IDS(self) -> bool:
        return bool(self._get("CUSTOM_IDS"))

    @property
    def CUSTOM_ID_SECRET(self) -> str:
        """Secret keying the custom-id HMAC; ``SECRET_KEY`` unless set."""
        return Secret(self._get("CUSTOM_ID_SECRET") or settings.SECRET_KEY)

    @property
    def CUSTOM_ID_PATH(self) -> str:
        path: str = self._get("CUSTOM_ID_PATH")
        return path

    @property
    def ENCRYPTION_KEYS(self) -> list[str] | None:
        keys = self._get("ENCRYPTION_KEYS")
        return list(keys) if keys else None

    @property
    def APPLICATION_CACHE_SECONDS(self) -> float:
        return float(self._get("APPLICATION_CACHE_SECONDS"))

    @property
    def ON_USER_DELETE(self) -> str:
        """``"delete"``: a deleted user's profile is erased at LiveLike; ``"keep"``: left."""
        return str(self._get("ON_USER_DELETE"))

    @property
    def ERASES_ON_USER_DELETE(self) -> bool:
        """Whether deleting a user records the erasure of their LiveLike profile."""
        return self.ON_USER_DELETE == DELETE

    @property
    def LEASE_SECONDS(self) -> float:
        return float(self._get("LEASE_SECONDS"))

    @property
    def WAIT_SECONDS(self) -> float:
        return float(self._get("WAIT_SECONDS"))

    @property
    def RETRY_BASE_SECONDS(self) -> float:
        return float(self._get("RETRY_BASE_SECONDS"))

    @property
    def RETRY_MAX_SECONDS(self) -> float:
        return float(self._get("RETRY_MAX_SECONDS"))

    @property
    def NICKNAME_MAX_LENGTH(self) -> int:
        return int(self._get("NICKNAME_MAX_LENGTH"))

    @property
    def THROTTLE_RATE(self) -> str | None:
        """DRF rate ("10/minute") for nickname changes through the API; None: no limit."""
        return self._get("THROTTLE_RATE") or None

    @property
    def SYNC_NICKNAME(self) -> bool:
        return bool(self._get("SYNC_NICKNAME"))

    @property
    def ACCESS_TOKENS(self) -> str:
        """``"stored"`` (tokens LiveLike issues, kept encrypted) or ``"client-generated"``."""
        return self._get("ACCESS_TOKENS") or STORED

    @property
    def CLIENT_GENERATED(self) -> bool:
        """Whether the site mints every profile's token itself (``ACCESS_TOKENS``)."""
        return self.ACCESS_TOKENS == CLIENT_GENERATED

    @property
    def CLIENT_SECRET(self) -> str:
        """The application's client secret, which signs minted tokens; ``""`` when unset."""
        return Secret(self._get("CLIENT_SECRET") or "")

    @property
    def USER_ADMIN(self) -> bool:
        """Whether to swap Django's default ``UserAdmin`` for one with the profile inline."""
        return bool(self._get("USER_ADMIN"))

    @property
    def CLIENT_CLASS(self) -> str:
        """Dotted path of the LiveLike client class (a ``LiveLikeClient`` subclass)."""
        path: str = self._get("CLIENT_CLASS") or DEFAULTS["CLIENT_CLASS"]
        return path

    @property
    def GUEST_PROFILES(self) -> bool:
        """Whether anonymous visitors get a guest profile, kept in their session."""
        return bool(self._get("GUEST_PROFILES"))

    @property
    def GUEST_THROTTLE_RATE(self) -> str | None:
        """DRF rate of guest profiles made per client address; ``None``: no limit."""
        rate: str | None = self._get("GUEST_THROTTLE_RATE") or None
        return rate

    @property
    def TOKEN_TTL(self) -> int | None:
        """Seconds a minted token lives (its ``exp``); ``None``: no ``exp`` at all."""
        value = self._get("TOKEN_TTL")
        return None if value is None else int(value)


conf = LiveLikeSettings()
