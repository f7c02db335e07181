"""The custom id a row sends LiveLike: made once per row, keyed and random."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from ..conf import conf


def new_custom_id(user: Any) -> str:
    """A new custom id for the user's row: HMAC-SHA256 of the pk and a random nonce.

    Made once per row, at its first claim, and stored: every later attempt
    sends the stored value, never a recomputed one. So identity follows the
    row: a newcomer given a deleted user's primary key gets a custom id (and a
    profile) of their own. Keyed and random, so nobody can guess a future
    user's custom id, create that profile first and keep its token.
    """
    key = conf.CUSTOM_ID_SECRET.encode()
    nonce = secrets.token_hex(16)
    message = f"livelike_profiles.custom_id:{user.pk}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def new_guest_custom_id() -> str:
    """A new custom id for an anonymous visitor's guest profile: 128 random bits.

    Made once per guest and kept in the session; it becomes the user's custom
    id if the guest is adopted. The prefix tells operators where a profile
    began; nothing secret hangs on it.
    """
    return f"guest-{secrets.token_hex(16)}"
