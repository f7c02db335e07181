"""Encryption of access tokens at rest: Fernet keys, encrypt, decrypt, re-encrypt.

A ``MultiFernet`` holds every configured key: the first encrypts, all of them
decrypt. By default the keys are derived with HKDF from ``SECRET_KEY``
followed by each of ``SECRET_KEY_FALLBACKS`` (see
:mod:`livelike_profiles.encryption_keys`); ``LIVELIKE["ENCRYPTION_KEYS"]``
replaces them.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from ..conf import conf
from ..encryption_keys import derived_key
from ..exceptions import UnreadableTokenError


@functools.lru_cache(maxsize=16)
def derive_key(secret: str | bytes) -> bytes:
    """The Fernet key derived from a Django secret (``SECRET_KEY`` or a fallback).

    Cached: HKDF on every encryption and decryption was most of their cost.
    """
    return derived_key(secret).encode("ascii")


def configured_keys() -> tuple[bytes, ...]:
    """Every key in force, the encrypting one first."""
    if conf.ENCRYPTION_KEYS:
        return tuple(k.encode() if isinstance(k, str) else bytes(k) for k in conf.ENCRYPTION_KEYS)
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return tuple(derive_key(secret) for secret in secrets)


@functools.lru_cache(maxsize=8)
def _fernet_for(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def get_fernet() -> MultiFernet:
    """The ``MultiFernet`` for the current settings (cached per set of keys)."""
    return _fernet_for(configured_keys())


def encrypt(plaintext: str) -> str:
    """Encrypt with the first key."""
    return get_fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt with whichever configured key fits, or raise :class:`UnreadableTokenError`."""
    try:
        return get_fernet().decrypt(ciphertext.encode()).decode()
    except (InvalidToken, ValueError):
        raise UnreadableTokenError(
            "A stored LiveLike access token cannot be decrypted with any configured key. "
            "If SECRET_KEY was changed, put the old value in SECRET_KEY_FALLBACKS "
            '(or the old key in LIVELIKE["ENCRYPTION_KEYS"]).'
        ) from None


def looks_encrypted(value: str) -> bool:
    """Whether ``value`` has the form of a Fernet token (whatever key made it).

    Version byte 0x80, then timestamp, IV, at least one AES block and the HMAC:
    73 bytes or more, url-safe base64. LiveLike's tokens (opaque strings or
    JWTs, ``eyJ...``) never decode to that.
    """
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return len(raw) >= 73 and raw[0] == 0x80 and (len(raw) - 57) % 16 == 0


def is_readable(ciphertext: str) -> bool:
    """Whether some configured key decrypts ``ciphertext``."""
    try:
        get_fernet().decrypt(ciphertext.encode())
    except (InvalidToken, ValueError):
        return False
    return True


def uses_current_key(ciphertext: str) -> bool:
    """Whether ``ciphertext`` is encrypted with the first (encrypting) key."""
    try:
        Fernet(configured_keys()[0]).decrypt(ciphertext.encode())
    except (InvalidToken, ValueError):
        return False
    return True


def reencrypt(ciphertext: str) -> str:
    """``ciphertext`` encrypted with the first key; unchanged if no key can read it.

    Keeping an unreadable value as it is loses nothing: restoring the missing
    key later makes it readable again.
    """
    try:
        return get_fernet().rotate(ciphertext.encode()).decode()
    except (InvalidToken, ValueError):
        return ciphertext


class Ciphertext(str):
    """A token as stored: encrypted. Marks values that must not be encrypted again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Ciphertext(<encrypted>)"


class FreshCiphertext(Ciphertext):
    """A :class:`Ciphertext` just made with the first key: saved as it is, not re-encrypted.

    The field stores it once and keeps a plain :class:`Ciphertext` of it on
    the instance, so that a later save still moves it to whatever key is
    first by then.
    """

    __slots__ = ()

    @classmethod
    def of(cls, plaintext: str) -> FreshCiphertext:
        """``plaintext`` encrypted with the first key."""
        return cls(encrypt(plaintext))
