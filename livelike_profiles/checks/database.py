"""System checks: importing this module registers them all (``AppConfig.ready`` does).

The checks of the settings are in :mod:`livelike_profiles.checks.settings`
(``LIVELIKE``, ``MIDDLEWARE``). The one here is tagged ``database`` (so it runs
with ``manage.py check --database default`` and before ``migrate``, never at
startup): whether the configured keys decrypt the stored tokens. Its ids are
numbered from 101. No message ever shows a token, a ciphertext or a key.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .settings import check_middleware, check_settings

__all__ = ["TOKEN_SAMPLE_SIZE", "check_middleware", "check_settings", "check_stored_tokens"]

# How many of the most recently stored tokens the database check tries to decrypt.
TOKEN_SAMPLE_SIZE = 100


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
    from ..tokens.encryption import get_fernet

    try:
        get_fernet()
    except (TypeError, ValueError):
        return []  # E005 says what is wrong with the keys
    messages = (_check_database(alias) for alias in databases)
    return [message for message in messages if message is not None]


def _check_database(alias: str) -> CheckMessage | None:
    """The message for one database's sample of stored tokens (``None``: all readable)."""
    from django.db import connections, router

    from ..models import LiveLikeProfile
    from ..tokens.encryption import is_readable

    if not router.allow_migrate_model(alias, LiveLikeProfile):
        return None
    if LiveLikeProfile._meta.db_table not in connections[alias].introspection.table_names():
        return None  # not migrated yet: nothing stored
    sample = list(
        LiveLikeProfile.objects.using(alias)
        .exclude(access_token="")
        .order_by("-pk")
        .only("access_token", "custom_id", "status")[:TOKEN_SAMPLE_SIZE]
    )
    # The ciphertexts as stored: reading the attribute would decrypt (or mint).
    unreadable = [row for row in sample if not is_readable(row.stored_token or "")]
    return _unreadable_tokens(alias, len(sample), unreadable) if unreadable else None


def _unreadable_tokens(alias: str, sampled: int, rows: list[Any]) -> CheckMessage:
    """The message for ``rows``, the unreadable ones of ``sampled`` stored tokens.

    A row whose token cannot be read still serves its user when the site can
    mint a token for the same profile (models.py says which rows can). When
    every unreadable row can, W102; otherwise E101 if the whole sample is
    unreadable (the keys are surely wrong), W101 if only part of it is.
    """
    minted = sum(row.mints_instead_of_unreadable() for row in rows)
    lost = len(rows) - minted
    msg = (
        f"{len(rows)} of the {sampled} most recently stored LiveLike access tokens in "
        f"database {alias!r} cannot be decrypted with any configured key: "
        f"{_meanwhile(minted, lost)} until the key that encrypted them is configured again."
    )
    hint = _key_hint([row.stored_token or "" for row in rows])
    if not lost:
        # No user is affected, so it need not stop migrate (a database check runs before it).
        return Warning(msg, hint=hint, id="livelike_profiles.W102")
    if len(rows) == sampled:
        return Error(msg, hint=hint, id="livelike_profiles.E101")
    return Warning(msg, hint=hint, id="livelike_profiles.W101")


def _meanwhile(minted: int, lost: int) -> str:
    """What the users of the unreadable rows get until the key is back."""
    if not minted:
        return "those users' profiles are unusable"
    if not lost:
        return (
            "those users get tokens minted with CLIENT_SECRET for the same profiles instead "
            "(unusable if CLIENT_SECRET is removed)"
        )
    return (
        f"{minted} of those users get tokens minted with CLIENT_SECRET for the same "
        f"profiles instead; the other {lost} (no custom id, or not active) are unusable"
    )


def _key_hint(unreadable: list[str]) -> str:
    """How to configure the key again; names the derived key ENCRYPTION_KEYS left out, if it is."""
    from ..conf import conf

    if not conf.ENCRYPTION_KEYS:
        return (
            "If SECRET_KEY was changed, put the old value in SECRET_KEY_FALLBACKS; if they "
            'were encrypted with LIVELIKE["ENCRYPTION_KEYS"], set those keys again. '
            "manage.py livelike_rotate_keys --dry-run lists the rows."
        )
    derived = [name for name, secret in _secret_keys() if _reads_any(secret, unreadable)]
    if not derived:
        return (
            'Put the key that encrypted them back in LIVELIKE["ENCRYPTION_KEYS"], after '
            "the first; manage.py livelike_rotate_keys --dry-run lists the rows."
        )
    carried = ", ".join(f"derived_key({name})" for name in derived)
    return (
        "They are encrypted with the key derived from "
        f"{' and '.join(derived)} (the default before "
        'LIVELIKE["ENCRYPTION_KEYS"] was set). Add '
        f'{carried} to LIVELIKE["ENCRYPTION_KEYS"] after your new key '
        "(from livelike_profiles.encryption_keys import derived_key), then run "
        "manage.py livelike_rotate_keys."
    )


def _secret_keys() -> list[tuple[str, Any]]:
    """``SECRET_KEY`` and each of ``SECRET_KEY_FALLBACKS``, with the name a hint gives it."""
    from django.conf import settings

    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", [])
    return [("SECRET_KEY", settings.SECRET_KEY)] + [
        (f"SECRET_KEY_FALLBACKS[{index}]", fallback) for index, fallback in enumerate(fallbacks)
    ]


def _reads_any(secret: Any, ciphertexts: list[str]) -> bool:
    """Whether the key derived from ``secret`` decrypts any of ``ciphertexts``."""
    from ..encryption_keys import derived_key

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
