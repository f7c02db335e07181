"""The nickname the site gives a user: ``LIVELIKE["NICKNAME"]``, called safely."""

from __future__ import annotations

import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.module_loading import import_string

from ..conf import conf
from ..livelike.client import clean_text

logger = logging.getLogger("livelike_profiles.provisioning")


def nickname_for(user: AbstractBaseUser) -> str | None:
    """The nickname ``LIVELIKE["NICKNAME"]`` gives the user; ``None`` if unset or it fails.

    Control characters (NUL included) are removed and the result is cut to
    ``NICKNAME_MAX_LENGTH``; anything but a string counts as no nickname.
    """
    path = conf.NICKNAME
    if not path:
        return None
    try:
        nickname = import_string(path)(user)
    except Exception:
        # A bug in the site's callable must not cost the user a profile.
        logger.exception("LIVELIKE['NICKNAME'] callable failed for user=%s", user.pk)
        return None
    if nickname is None:
        return None
    if not isinstance(nickname, str):
        logger.warning(
            "LIVELIKE['NICKNAME'] callable returned a %s, not a str, for user=%s: no nickname",
            type(nickname).__name__,
            user.pk,
        )
        return None
    return clean_text(nickname, conf.NICKNAME_MAX_LENGTH) or None
