"""The LiveLike HTTP client: the only module that imports ``requests``.

One :class:`LiveLikeClient` owns one pooled ``requests.Session``. Like the
official SDK it does not build profile URLs itself: it reads ``profile_url``
from the application resource (``GET {API_URL}applications/{CLIENT_ID}/``),
cached per client for ``APPLICATION_CACHE_SECONDS``. What comes back is read
within ``TIMEOUT`` by :mod:`livelike_profiles.livelike.bodies`, and checked by
:mod:`livelike_profiles.livelike.answers` (whose ``RemoteProfile``,
``clean_text`` and ``MAX_RETRY_AFTER`` are importable from here too).

Every failure is raised as a :mod:`livelike_profiles.exceptions` class; none of
them, and no log line here, ever contains an access token. Nothing is retried
here: whether a call is safe to repeat is the caller's decision (a create is
only repeatable with a custom id, see :mod:`livelike_profiles.provisioning.dispatch`).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from urllib.parse import quote

import requests
from django.utils.module_loading import import_string
from requests.adapters import HTTPAdapter

from .. import __version__
from ..conf import conf
from ..exceptions import (
    LiveLikeBadResponse,
    LiveLikeConfigurationError,
    LiveLikeError,
    LiveLikeRejected,
    LiveLikeUnavailable,
)
from ..tokens.redaction import Secret, forgets_frames
from .answers import (
    ADMIN,
    MAX_RETRY_AFTER,
    PROFILE,
    RemoteProfile,
    WhoseToken,
    clean_text,
    is_profile_id,
    parse_answer,
    remote_profile,
)
from .bodies import MAX_ANSWER_BYTES, read_body

USER_AGENT = f"django-livelike-profiles/{__version__} python-requests/{requests.__version__}"

# Enough pooled connections for a backfill running 16-32 threads on one client.
POOL_SIZE = 32


class LiveLikeClient:
    """Talks to one LiveLike application. Thread-safe; share one per process."""

    def __init__(
        self,
        *,
        api_url: str | None = None,
        client_id: str | None = None,
        api_token: str | None = None,
        timeout: float | None = None,
        custom_id_path: str | None = None,
        application_cache_seconds: float | None = None,
    ) -> None:
        self.api_url = api_url if api_url is not None else conf.API_URL
        if not self.api_url.endswith("/"):
            self.api_url += "/"
        self.client_id = client_id if client_id is not None else conf.CLIENT_ID
        self._api_token = api_token if api_token is not None else conf.API_TOKEN
        self.timeout = timeout if timeout is not None else conf.TIMEOUT
        self.custom_id_path = custom_id_path or conf.CUSTOM_ID_PATH
        self.application_cache_seconds = (
            application_cache_seconds
            if application_cache_seconds is not None
            else conf.APPLICATION_CACHE_SECONDS
        )
        self.session = self.create_session()
        self._application: dict[str, Any] | None = None
        self._application_expires = 0.0
        self._application_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<LiveLikeClient {self.api_url} client_id={self.client_id!r}>"

    def create_session(self) -> requests.Session:
        """Build the pooled session; override to add proxies, certificates or retries."""
        session = requests.Session()
        # Only what bodies.read_body decodes (urllib3 would add br or zstd, if installed).
        session.headers.update(
            {
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            }
        )
        # Read the environment's proxy and CA-bundle settings once, here, rather
        # than on every request (which trust_env does, netrc file included):
        # that alone was a third of a backfill's CPU time per call.
        session.proxies.update(requests.utils.get_environ_proxies(self.api_url))
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
            "CURL_CA_BUNDLE", True
        )
        session.trust_env = False
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    # -- discovery ---------------------------------------------------------

    def get_application(self, *, refresh: bool = False) -> dict[str, Any]:
        """The application resource, from the per-client cache unless stale or ``refresh``."""
        with self._application_lock:
            if not refresh and self._application and time.monotonic() < self._application_expires:
                return self._application
        url = f"{self.api_url}applications/{quote(self.client_id, safe='')}/"
        try:
            application = self._request("GET", url)
        except LiveLikeRejected as err:
            if err.status_code != 404:
                raise
            # What a wrong CLIENT_ID or API_URL looks like: say so where operators look.
            raise LiveLikeRejected(
                f"{err.detail or 'Not found.'} (no application {self.client_id!r} at "
                f'{self.api_url}: check LIVELIKE["CLIENT_ID"] and LIVELIKE["API_URL"])',
                method="GET",
                url=url,
                status_code=404,
                response=err.response,
            ) from err
        if not isinstance(application.get("profile_url"), str):
            raise LiveLikeBadResponse("the application resource has no profile_url", url=url)
        with self._application_lock:
            self._application = application
            self._application_expires = time.monotonic() + self.application_cache_seconds
        return application

    def forget_application(self) -> None:
        """Drop the cached application resource so the next call discovers it again."""
        with self._application_lock:
            self._application = None

    def profile_url(self) -> str:
        """The URL the application resource gives for creating and reading own profiles."""
        url: str = self.get_application()["profile_url"]  # a str: get_application checks
        return url

    # -- profiles ----------------------------------------------------------

    def create_profile(self, *, nickname: str | None = None) -> RemoteProfile:
        """Create a new profile (never idempotent: a retry makes a second one)."""
        url = self.profile_url()
        return remote_profile(
            self._discovered("POST", url, json=_body(nickname)), require_token=True, url=url
        )

    def create_profile_by_custom_id(
        self, custom_id: str, *, nickname: str | None = None
    ) -> RemoteProfile:
        """Create the profile with ``custom_id``; raises :class:`LiveLikeConflict` if taken."""
        url = self._custom_id_url(custom_id)
        return remote_profile(
            self._request("POST", url, json=_body(nickname)), require_token=True, url=url
        )

    def get_profile_by_custom_id(self, custom_id: str) -> RemoteProfile:
        """Look up a profile by custom id with the admin ``API_TOKEN``.

        Whether LiveLike includes the access token in this answer is not
        documented; the result's ``access_token`` is ``""`` when it does not.
        """
        token = self._admin_token("look profiles up by custom id")
        url = self._custom_id_url(custom_id)
        data = self._request("GET", url, token=token, whose_token=ADMIN)
        return remote_profile(data, require_token=False, url=url)

    def delete_profile(self, profile_id: str) -> bool:
        """Delete the profile ``profile_id`` at LiveLike with the admin ``API_TOKEN``.

        True when LiveLike deleted it; False when it answered its JSON 404:
        there is no such profile (any more), so there is nothing left to
        erase. Safe to repeat: a repeat after a lost answer gets that 404. A
        404 that is not LiveLike's JSON raises :class:`LiveLikeBadResponse`.
        """
        token = self._admin_token("delete profiles")
        if not is_profile_id(profile_id):
            raise ValueError("a profile id is 1 to 64 printable characters, no spaces")
        url = f"{self.api_url}profiles/{quote(profile_id, safe='')}/"
        try:
            # LiveLike answers 200 with an empty body.
            self._request("DELETE", url, token=token, whose_token=ADMIN, empty_ok=True)
        except LiveLikeRejected as err:
            if err.status_code != 404:
                raise
            if not err.errors:
                # Not LiveLike's JSON 404 ({"detail": ...}) but a page from
                # something else (a wrong API_URL, a proxy): it proves nothing
                # about the profile, and an erasure must not be dropped on it.
                raise LiveLikeBadResponse(
                    "404 without LiveLike's JSON error body (is API_URL right?)",
                    method="DELETE",
                    url=url,
                    status_code=404,
                ) from None
            return False
        return True

    def get_own_profile(self, access_token: str) -> RemoteProfile:
        """Read the profile that ``access_token`` belongs to."""
        url = self.profile_url()
        data = self._discovered("GET", url, token=access_token, whose_token=PROFILE)
        return remote_profile(data, require_token=False, url=url)

    def update_own_profile(
        self,
        access_token: str,
        *,
        nickname: str | None = None,
        custom_data: str | None = None,
    ) -> RemoteProfile:
        """Change the nickname and/or custom data of the profile ``access_token`` belongs to."""
        body = _body(nickname, custom_data=custom_data)
        if not body:
            raise ValueError("update_own_profile() needs a nickname or custom_data")
        url = self.profile_url()
        data = self._discovered("PATCH", url, token=access_token, whose_token=PROFILE, json=body)
        return remote_profile(data, require_token=False, url=url)

    # -- plumbing ----------------------------------------------------------

    def _admin_token(self, purpose: str) -> Secret:
        """The admin token, masked in the reports of the frames that hold it."""
        if not self._api_token:
            raise LiveLikeConfigurationError(
                f'LIVELIKE["API_TOKEN"] (an admin token) is needed to {purpose}.'
            )
        return Secret(self._api_token)

    def _custom_id_url(self, custom_id: str) -> str:
        if not custom_id or len(custom_id) > 255:
            raise ValueError("a custom id is 1 to 255 characters")
        path = self.custom_id_path.format(
            client_id=quote(self.client_id, safe=""), custom_id=quote(custom_id, safe="")
        )
        return self.api_url + path

    def _discovered(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """A request to a URL read from the application resource.

        A 404 there means the resource we cached is out of date, so forget it:
        the next call discovers the URLs afresh.
        """
        try:
            return self._request(method, url, **kwargs)
        except LiveLikeRejected as err:
            if err.status_code == 404:
                self.forget_application()
            raise

    @forgets_frames  # see redaction: error reports must not show the header or an answer
    def _request(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        whose_token: WhoseToken = "",
        json: Any = None,
        empty_ok: bool = False,
    ) -> dict[str, Any]:
        """Send one request; ``whose_token`` says whose ``token`` is (``PROFILE``, ``ADMIN``).

        ``empty_ok``: a success without a body answers ``{}``.
        """
        # Prints masked in error reports; requests sends the value as it is.
        headers = {"Authorization": Secret(f"Bearer {token}")} if token else None
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                json=json if json else None,
                timeout=self.timeout,
                allow_redirects=method == "GET",
                stream=True,  # the body is read by read_body, within TIMEOUT
            )
            read_body(response, self.timeout, method=method, url=url)
        except requests.Timeout as err:
            raise LiveLikeUnavailable(
                f"no answer within {self.timeout:g}s", method=method, url=url
            ) from err
        except requests.RequestException as err:
            raise LiveLikeUnavailable(type(err).__name__, method=method, url=url) from err
        data = parse_answer(response, method, url, whose_token if token else "", empty_ok=empty_ok)
        if isinstance(data.get("access_token"), str):  # a create's (or a lookup's) answer
            data["access_token"] = Secret(data["access_token"])
        return data


def _body(nickname: str | None, *, custom_data: str | None = None) -> dict[str, str]:
    body = {}
    if nickname is not None:
        body["nickname"] = nickname
    if custom_data is not None:
        body["custom_data"] = custom_data
    return body


# -- one shared client per process and configuration ------------------------

_clients: dict[tuple[Any, ...], LiveLikeClient] = {}
_clients_lock = threading.Lock()


def get_client() -> LiveLikeClient:
    """The process-wide client for the current ``LIVELIKE`` settings.

    Sharing it shares the connection pool and the discovered application
    resource; a change of settings (``override_settings``) gets its own client.
    """
    key = (
        conf.CLIENT_CLASS,
        conf.API_URL,
        conf.CLIENT_ID,
        conf.API_TOKEN,
        conf.TIMEOUT,
        conf.CUSTOM_ID_PATH,
        conf.APPLICATION_CACHE_SECONDS,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) >= 8:  # settings churn (tests): don't grow without bound
                _clients.pop(next(iter(_clients)))
            client = _clients[key] = import_string(conf.CLIENT_CLASS)()
        return client


def _forget_clients_after_fork() -> None:
    # A forked worker must not share the parent's pooled sockets, nor inherit
    # a lock some other thread of the parent held at the fork.
    global _clients_lock
    _clients.clear()
    _clients_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_clients_after_fork)

__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_RETRY_AFTER",
    "POOL_SIZE",
    "USER_AGENT",
    "LiveLikeClient",
    "LiveLikeError",
    "RemoteProfile",
    "clean_text",
    "get_client",
]
