"""Template context for initialising the LiveLike SDK (optional; see docs/tutorial.md).

``LIVELIKE_CLIENT_ID``, ``LIVELIKE_API_URL`` and the lazy ``livelike_profile``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .conf import conf
from .middleware import LazyLiveLikeProfile


def livelike(request: HttpRequest) -> dict[str, Any]:
    """``LIVELIKE_CLIENT_ID``, ``LIVELIKE_API_URL`` and the lazy ``livelike_profile``."""
    # "is None", never truthiness: testing the lazy value would run the query.
    profile = getattr(request, "livelike_profile", None)
    if profile is None:
        profile = LazyLiveLikeProfile(request)
    return {
        "LIVELIKE_CLIENT_ID": conf.CLIENT_ID,
        "LIVELIKE_API_URL": conf.API_URL,
        "livelike_profile": profile,
    }
