"""The encryption key derived from a Django secret, for use in ``settings.py``.

By default tokens are encrypted with keys derived from ``SECRET_KEY`` (and
each of ``SECRET_KEY_FALLBACKS``). Setting ``LIVELIKE["ENCRYPTION_KEYS"]``
replaces those keys, so tokens stored until then become unreadable unless the
derived key stays in the list, after the new one::

    from livelike_profiles.encryption_keys import derived_key

    LIVELIKE = {
        ...
        "ENCRYPTION_KEYS": [NEW_KEY, derived_key(SECRET_KEY)],
    }

This module imports nothing from Django (``settings.py`` runs before Django is
set up), only the ``cryptography`` package.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_HKDF_SALT = b"django-livelike-profiles"
_HKDF_INFO = b"livelike_profiles access token encryption v1"


def derived_key(secret: str | bytes) -> str:
    """The Fernet key this app derives from ``secret`` (a ``SECRET_KEY``), as text.

    HKDF-SHA256 with a fixed salt and info: the same secret always gives the
    same key, and the key tells nothing about the secret.
    """
    material = secret.encode() if isinstance(secret, str) else bytes(secret)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(material)).decode("ascii")
