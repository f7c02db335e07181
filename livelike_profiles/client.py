"""The LiveLike HTTP client, where sites have always imported it (``LIVELIKE["CLIENT_CLASS"]``).

It lives in :mod:`livelike_profiles.livelike.client`; subclass
:class:`LiveLikeClient` from either place.
"""

from .livelike.client import LiveLikeClient, RemoteProfile, get_client

__all__ = ["LiveLikeClient", "RemoteProfile", "get_client"]
