"""The model field that stores access tokens encrypted and reads them as plain text.

The instance only ever holds the ciphertext (:class:`~.tokens.encryption.Ciphertext`):
decryption happens on each read, so a pickled instance (a cache entry, a
session) or a serialized fixture never carries the plain token, and an
unreadable value fails only the code that reads it. The encryption itself is
in :mod:`livelike_profiles.tokens.encryption`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from .tokens.encryption import (
    Ciphertext,
    FreshCiphertext,
    decrypt,
    encrypt,
    looks_encrypted,
    reencrypt,
)
from .tokens.redaction import Secret


def _as_str(value: Any) -> str:
    # str() of a Secret is a plain str: keep the Secret (masked in reports).
    return value if isinstance(value, str) else str(value)


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

    A model may define ``read_access_token(stored)``: given the stored value
    (ciphertext or ``""``), it returns the token to read (decrypted, or one
    the site mints itself, see :mod:`livelike_profiles.tokens.minting`). Without it,
    the stored value is decrypted.
    """

    field: EncryptedTokenField  # only ever this module's field (its descriptor_class)

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if _copying.get():
            return value
        read = getattr(instance, "read_access_token", None)
        if read is not None:
            return read(value)
        # Masked in any repr(): error reports list every frame's variables.
        return Secret(decrypt(value)) if isinstance(value, Ciphertext) else value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = self.field.to_stored(value)


def stored_value(instance: Any, attname: str) -> str | None:
    """What ``instance`` holds for the token field ``attname``, unread: ``None`` if deferred.

    The ciphertext (a :class:`Ciphertext`) or ``""``: never decrypted.
    """
    value: str | None = instance.__dict__.get(attname)
    return value


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
        if isinstance(value, FreshCiphertext):
            return Ciphertext(value)  # a later save re-encrypts it with the first key then
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
        return stored_value(model_instance, self.attname) or ""

    def get_prep_value(self, value: Any) -> Any:
        if value is None or value == "":
            return value
        if isinstance(value, FreshCiphertext):
            return str(value)  # made with the first key just now: nothing to move
        if isinstance(value, Ciphertext):
            # Saving moves the token to the current key (key rotation).
            return reencrypt(value)
        return encrypt(_as_str(value))

    def value_from_object(self, obj: Any) -> Any:
        # Serializers and model_to_dict() see the ciphertext, never the token.
        return stored_value(obj, self.attname) or ""
