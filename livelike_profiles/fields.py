"""Encryption at rest for access tokens.

Tokens are encrypted with Fernet (AES-128-CBC + HMAC-SHA256). A ``MultiFernet``
holds every configured key: the first encrypts, all of them decrypt. By
default the keys are derived with HKDF from ``SECRET_KEY`` followed by each of
``SECRET_KEY_FALLBACKS``, so rotating Django's secret the documented way keeps
old tokens readable, and re-saving a row moves it to the new key.
``LIVELIKE["ENCRYPTION_KEYS"]`` (Fernet keys) replaces the derived keys.

The model attribute reads as the plain token, but the instance only ever holds
the ciphertext: decryption happens on each read, so a pickled instance (a
cache entry, a session) or a serialized fixture never carries the plain token,
and an unreadable value fails only the code that reads it.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from .conf import conf
from .encryption_keys import derived_key
from .exceptions import UnreadableTokenError
from .redaction import Secret


def derive_key(secret: str | bytes) -> bytes:
    """The Fernet key derived from a Django secret (``SECRET_KEY`` or a fallback)."""
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


def _as_str(value: Any) -> str:
    # str() of a Secret is a plain str: keep the Secret (masked in reports).
    return value if isinstance(value, str) else str(value)


class Ciphertext(str):
    """A token as stored: encrypted. Marks values that must not be encrypted again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Ciphertext(<encrypted>)"


# Set while Django copies field values from one instance to another
# (refresh_from_db): the copy is of the ciphertext, never a decryption.
_copying = ContextVar("livelike_profiles_copying_ciphertext", default=False)


@contextmanager
def ciphertext_as_is() -> Iterator[None]:
    """While in this block, reading the token attribute gives the stored ciphertext.

    Only for copying values between instances of the same row; any other code
    running meanwhile in this context (a ``post_init`` receiver, say) would
    read ciphertext too.
    """
    reset = _copying.set(True)
    try:
        yield
    finally:
        _copying.reset(reset)


class EncryptedTokenDescriptor(DeferredAttribute):
    """Holds the ciphertext on the instance and decrypts on every read.

    A model may define ``minted_access_token(stored)``: given the stored value
    (ciphertext or ``""``), it returns a token to read instead (one the site
    mints itself, see :mod:`livelike_profiles.tokens`), or ``None`` to read
    the stored one. It is asked again, with ``""``, when no key can decrypt
    the stored one.
    """

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if _copying.get():
            return value
        minted = getattr(instance, "minted_access_token", None)
        if minted is not None:
            token = minted(value)
            if token is not None:
                return token
        if not isinstance(value, Ciphertext):
            return value
        try:
            # Masked in any repr(): error reports list every frame's variables.
            return Secret(decrypt(value))
        except UnreadableTokenError:
            # A row that can mint its token loses nothing with the key.
            token = minted("") if minted is not None else None
            if token is None:
                raise
            return token

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = self.field.to_stored(value)


class EncryptedTokenField(models.TextField):
    """A text column whose value is encrypted before it reaches the database.

    An empty value stays empty (no token yet). Lookups other than on the empty
    string are meaningless: each encryption of the same token differs.
    """

    descriptor_class = EncryptedTokenDescriptor

    def to_stored(self, value: Any) -> str:
        """The form an instance holds: ``""`` or a :class:`Ciphertext`."""
        if value is None or value == "":
            return ""
        if isinstance(value, Ciphertext):
            return value
        return Ciphertext(encrypt(_as_str(value)))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return Ciphertext(value) if value else value

    def to_python(self, value: Any) -> Any:
        # Deserializing a fixture hands us what value_from_object() wrote: the
        # ciphertext. Recognise it by its form, not by whether a key reads it
        # now, so one made with another key is kept (and reading it raises),
        # never encrypted again and handed back as if it were the token.
        if isinstance(value, str) and not isinstance(value, Ciphertext) and looks_encrypted(value):
            return Ciphertext(value)
        return value

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        return model_instance.__dict__.get(self.attname, "")

    def get_prep_value(self, value: Any) -> Any:
        if value is None or value == "":
            return value
        if isinstance(value, Ciphertext):
            # Saving moves the token to the current key (key rotation).
            return reencrypt(value)
        return encrypt(_as_str(value))

    def value_from_object(self, obj: Any) -> Any:
        # Serializers and model_to_dict() see the ciphertext, never the token.
        return obj.__dict__.get(self.attname, "")
