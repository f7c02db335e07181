"""A site's own LiveLike client, as ``LIVELIKE["CLIENT_CLASS"]`` lets one be."""

from __future__ import annotations

import requests

from livelike_profiles.livelike.client import LiveLikeClient


class ProxiedClient(LiveLikeClient):
    """Overrides ``create_session()``, here only to mark the session it makes."""

    def create_session(self) -> requests.Session:
        session = super().create_session()
        session.headers["X-Site-Client"] = "proxied"
        return session


class BrokenSessionClient(LiveLikeClient):
    """A site's client whose session cannot be built (a CA bundle that is not there, say)."""

    def create_session(self) -> requests.Session:
        raise OSError("the CA bundle /etc/ssl/site-ca.pem does not exist")
