"""Which accounts get a LiveLike profile: active ones that ``LIVELIKE["PROVISION_IF"]`` admits.

Deactivated accounts (``is_active=False``) get none; ``PROVISION_IF`` (a
callable ``user -> bool``, say one excluding staff) may turn more away. The
login receiver, ``request.livelike_profile``, the API, the guests' adoption
and the backfill ask; :func:`~livelike_profiles.provisioning.dispatch.ensure_profile`,
called explicitly (by site code, the admin's action), does not. See
docs/how-to/choosing-who-gets-a-profile.md.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.utils.module_loading import import_string

from ..conf import conf

logger = logging.getLogger("livelike_profiles.provisioning")


def is_deactivated(user: Any) -> bool:
    """Whether ``user`` is deactivated: ``is_active`` is false. No query.

    A user model without ``is_active`` (custom models may lack it) has only
    active users, as Django's own ``AbstractBaseUser`` assumes.
    """
    return not getattr(user, "is_active", True)


def is_excluded(user: Any) -> bool:
    """Whether ``PROVISION_IF`` turns ``user`` away (never, when it is not set).

    A callable that raises turns them away (logged): a bug in the site's
    rule must neither fail a login nor bill a profile it meant to spare.
    """
    path = conf.PROVISION_IF
    if not path:
        return False
    try:
        admitted = import_string(path)(user)
    except Exception:
        logger.exception("LIVELIKE['PROVISION_IF'] callable failed for user=%s", user.pk)
        return True
    return not admitted


def gets_a_profile(user: Any) -> bool:
    """Whether ``user`` gets a LiveLike profile: active, and admitted by ``PROVISION_IF``."""
    return not is_deactivated(user) and not is_excluded(user)


async def agets_a_profile(user: Any) -> bool:
    """Async :func:`gets_a_profile` (the site's ``PROVISION_IF`` may query: run in a thread)."""
    if is_deactivated(user):
        return False
    if not conf.PROVISION_IF:
        return True
    return not await sync_to_async(is_excluded)(user)
