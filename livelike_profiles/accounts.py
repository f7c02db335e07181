"""Which accounts get a LiveLike profile: not deactivated ones (``is_active=False``).

The login receiver, ``request.livelike_profile`` and the API refuse them;
:func:`~livelike_profiles.provisioning.ensure_profile`, called explicitly
(by site code, the admin's action or ``livelike_provision --include-inactive``),
does not ask. See the README's "Deactivated accounts".
"""

from __future__ import annotations

from typing import Any


def is_deactivated(user: Any) -> bool:
    """Whether ``user`` is deactivated: ``is_active`` is false. No query.

    A user model without ``is_active`` (custom models may lack it) has only
    active users, as Django's own ``AbstractBaseUser`` assumes.
    """
    return not getattr(user, "is_active", True)
