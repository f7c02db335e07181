"""An in-memory, thread-safe fake of LiveLike's profile API, for tests and demos.

It answers the endpoints this app uses exactly as ``https://cf-blast.livelikecdn.com/api/v1/``
does on the wire, over real sockets, so the Django app and the official JavaScript SDK
(``init({endpoint: fake.url})``, CORS included) can both talk to it. Standard library and
PyJWT only: importable anywhere, no Django needed.

In a test::

    from livelike_profiles.fake import FakeLiveLike

    with FakeLiveLike(client_id="demo", admin_token="admin-secret") as fake:
        with override_settings(LIVELIKE=fake.settings(TIMEOUT=1.0)):
            ...  # the code under test talks to fake.url over HTTP
        assert fake.create_count == 1
        assert fake.profiles[0].nickname == "Ada"
        assert fake.count_calls("POST", path_contains="/profile/") == 1

A pytest fixture (pytest-django's ``settings`` fixture restores ``LIVELIKE`` afterwards)::

    @pytest.fixture
    def livelike(settings):
        with FakeLiveLike() as fake:
            settings.LIVELIKE = fake.settings()
            yield fake

Client-generated access tokens: a bearer token shaped like a JWT (three dot-separated parts;
the fake's own opaque tokens have no dot) is verified with PyJWT against ``client_secret``
(default ``DEMO_CLIENT_SECRET``): HS256 only (``none`` and every other algorithm are refused),
``iss`` equal to ``client_id``, ``iat`` required and not in the future, ``exp`` enforced when
present (no leeway for either), ``custom_profile_id`` required, a string of 1-255 characters.
Anything wrong: ``403 {"detail": ...}`` naming what is wrong, never echoing the token. A valid
one is the profile with that custom id, created on first use (random nickname, a new id and
opaque token of its own), atomically: concurrent first uses make one profile. Such an
*implicit* creation counts in ``create_count``, is ``FakeProfile.created_by == "token"``,
consumes ``fail_next_creates`` and ``lose_next_create_answers`` like a create, and happens
only where a profile token is accepted (``GET``/``PATCH`` of ``profile_url``; the admin lookup
refuses profile tokens with 403 and creates nothing). ``fake.mint(custom_id, ...)`` builds
such tokens, valid or deliberately bad, for tests. ``revoke()`` only revokes the opaque token
LiveLike issued: minted tokens for the profile's custom id still authenticate.

Faults, each consumed atomically (with 50 threads racing, exactly ``n`` requests get it)::

    fake.latency = 0.05                        # seconds added before every answer
    fake.fail_next_creates(2, status=503)      # next 2 creates (implicit ones too) fail
    fake.rate_limit_next(1, retry_after=30)    # next request of any kind: 429 + Retry-After
    fake.fail_next_lookups(1, status=503)      # next admin lookup by custom id fails
    fake.malformed_next(1)                     # next request of any kind: an HTML body
    fake.lose_next_create_answers(1, delay=5)  # created, but the answer is held back 5 s
    fake.wait_for_held(1)                      # block until one answer is being held
    fake.release_held()                        # send held answers now (stop() does too)
    fake.revoke(profile_id)                    # that profile's token now answers 401
    fake.reset()                               # forget profiles, calls and faults

Inspection: ``fake.profiles``, ``fake.profile(id)``, ``fake.profile_by_custom_id(cid)``
(``FakeProfile`` copies), ``fake.create_count`` (every profile created: by either create
endpoint or implicitly by a minted token), ``fake.calls`` (``Call(method, path, status)``;
each request once, whatever it created), ``fake.count_calls(method=None, path_contains=None)``.

CORS preflights (``OPTIONS``) are never given a fault: a browser would report a CORS
failure instead of the fault under test. Helper snapshots (``profiles``, ``calls``...) are
copies; neither an ``access_token``, a minted token nor the client secret ever appears in a
repr, a log line or a ``Call``.

From a shell: ``python -m livelike_profiles.fake --port 8765 --client-id demo``
(``--client-secret``, ``--lookup-includes-token``: see ``--help``).

``GET profile-by-custom-id/{client_id}/{id}/`` with the admin token answers the profile
*without* its ``access_token``, as LiveLike's OpenAPI reference shows;
``lookup_includes_token=True`` (or setting the attribute, or ``--lookup-includes-token``)
brings back this fake's older answer with the token. Assumptions where LiveLike's docs are
silent: the JWT algorithm is HS256; a bad minted token answers 403; a known route asked with
another method answers 405, as DRF would.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import secrets
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt

__all__ = ["BASE_PATH", "DEMO_CLIENT_SECRET", "Call", "FakeLiveLike", "FakeProfile", "main"]

BASE_PATH = "/api/v1/"
DEFAULT_ADMIN_TOKEN = "demo-admin-token"  # noqa: S105 - the demo settings use it too
#: The client secret the fake verifies minted tokens with unless told otherwise. Public on
#: purpose: a demo value, never a real application's secret.
DEMO_CLIENT_SECRET = "fake-livelike-client-secret-for-demos-only"  # noqa: S105
#: HS256 keys shorter than its digest are below RFC 7518 section 3.2 (PyJWT warns about them).
MIN_CLIENT_SECRET_BYTES = 32
TOKEN_ALGORITHM = "HS256"  # noqa: S105 - a JWT algorithm name, not a secret
DEFAULT_TOKEN_TTL = 86400  # LiveLike's example: exp = iat + 86400
NICKNAME_MAX_LENGTH = 50
CUSTOM_ID_MAX_LENGTH = 255
MAX_BODY_BYTES = 1 << 20

_ADJECTIVES = ("Brave", "Calm", "Clever", "Eager", "Gentle", "Happy", "Lucky", "Swift", "Witty")
_ANIMALS = ("Otter", "Falcon", "Badger", "Heron", "Lynx", "Panda", "Fox", "Koala", "Wren")
# The Host header becomes part of every URL we hand out; anything odd falls back to our address.
_HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


@dataclass
class FakeProfile:
    """A profile held by the fake. The helper hands out copies, so mutating one changes nothing."""

    id: str
    nickname: str
    custom_data: str = ""
    custom_id: str | None = None
    access_token: str = field(default="", repr=False)
    created_at: str = ""
    revoked: bool = False
    #: How it came to be: ``"create"``, ``"custom-id"`` (Create Profile by Custom ID) or
    #: ``"token"`` (implicitly, at the first use of a minted token for its custom id).
    created_by: str = "create"


@dataclass(frozen=True)
class Call:
    """One request the fake answered. No headers and no body, hence never a token."""

    method: str
    path: str
    status: int


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    hold: threading.Event | None = None  # set: send the answer; else wait ``hold_delay``
    hold_delay: float = 0.0


@dataclass(frozen=True)
class _Request:
    method: str
    headers: Message
    body: bytes
    base: str  # our base URL as the client reached us (its Host header)


class _Reject(Exception):
    """Raised by route code to answer with ``args[0]``, a ``_Response``, at once."""


def _json(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> _Response:
    return _Response(status, json.dumps(payload).encode(), headers=tuple(headers))


def _detail(status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> _Response:
    return _json(status, {"detail": message}, headers)


_NOT_FOUND = _detail(404, "Not found.")
_CHALLENGE = (("WWW-Authenticate", 'Bearer realm="api"'),)
_NO_CREDENTIALS = _detail(401, "Authentication credentials were not provided.", _CHALLENGE)
_INVALID_TOKEN = _detail(401, "Invalid token.", _CHALLENGE)
_FORBIDDEN = _detail(403, "You do not have permission to perform this action.")
_PREFLIGHT = _Response(
    204,
    headers=(
        ("Access-Control-Allow-Methods", "GET, POST, PATCH, OPTIONS"),
        ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
        ("Access-Control-Max-Age", "600"),
    ),
)


def _failure(status: int, body: str | None, retry_after: int | None) -> _Response:
    """An injected error: DRF-style JSON, or ``body`` as-is as HTML (a proxy's error page)."""
    headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
    if body is None:
        return _detail(status, f"{HTTPStatus(status).phrase}. (injected)", headers)
    return _Response(status, body.encode(), "text/html; charset=utf-8", headers)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _random_nickname() -> str:
    # Not security relevant: LiveLike's own default nicknames are just as guessable.
    adjective, animal = random.choice(_ADJECTIVES), random.choice(_ANIMALS)  # noqa: S311
    return f"{adjective} {animal} {random.randint(1, 999)}"  # noqa: S311


def _bearer(headers: Message) -> str | None:
    scheme, _, token = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None  # e.g. "Token ...", LiveLike's personal API tokens: not accepted here
    return token.strip() or None


def _is_jwt(token: str) -> bool:
    # The fake's own opaque tokens (token_urlsafe) never contain a dot.
    return token.count(".") == 2


# Fixed messages, most specific first: PyJWT's own texts are fine too, but a fixed text
# guarantees that nothing from the token is ever echoed.
_JWT_ERRORS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "Token has expired (exp)."),
    (jwt.ImmatureSignatureError, "Token is not valid yet (iat or nbf is in the future)."),
    (jwt.InvalidIssuedAtError, "Token iat must be an integer (Unix time)."),
    (jwt.InvalidIssuerError, "Token issuer (iss) is not this application's client id."),
    (jwt.InvalidSignatureError, "Token signature is invalid."),
    (jwt.InvalidAlgorithmError, f"Token algorithm is not allowed: {TOKEN_ALGORITHM} only."),
)


def _jwt_error(err: jwt.InvalidTokenError) -> str:
    if isinstance(err, jwt.MissingRequiredClaimError):
        return f"Token has no {err.claim} claim."
    for kind, message in _JWT_ERRORS:
        if isinstance(err, kind):
            return message
    if "(exp)" in str(err):  # PyJWT's DecodeError for a non-integer exp
        return "Token exp must be an integer (Unix time)."
    return "Token is invalid."


def _too_long(limit: int) -> str:
    return f"Ensure this field has no more than {limit} characters."


def _parse_fields(body: bytes, *, partial: bool) -> dict[str, str]:
    """Validate ``nickname``/``custom_data`` the way DRF's CharField would; raise ``_Reject``."""
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError as err:
        raise _Reject(_detail(400, f"JSON parse error - {err}")) from None
    if not isinstance(data, dict):
        message = f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
        raise _Reject(_json(400, {"non_field_errors": [message]}))
    fields: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name in ("nickname", "custom_data"):
        value = data.get(name)
        if value is None:
            # On create an explicit null means "not given"; on update it is a mistake.
            if partial and name in data:
                errors[name] = ["This field may not be null."]
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            errors[name] = ["Not a valid string."]
            continue
        text = str(value)
        if name == "nickname":
            text = text.strip()
            if not text:
                errors[name] = ["This field may not be blank."]
            elif len(text) > NICKNAME_MAX_LENGTH:
                errors[name] = [_too_long(NICKNAME_MAX_LENGTH)]
        fields[name] = text
    if errors:
        raise _Reject(_json(400, errors))
    return fields


def _profile_json(profile: FakeProfile, base: str, *, token: bool) -> dict[str, Any]:
    url = f"{base}profiles/{profile.id}/"
    data: dict[str, Any] = {
        "id": profile.id,
        "url": url,
        "nickname": profile.nickname,
        "custom_data": profile.custom_data,
        "custom_id": profile.custom_id,
        "created_at": profile.created_at,
        "subscribe_channel": f"profile-{profile.id}",
        "reported_count": 0,
        "chat_room_memberships_url": f"{url}chat-room-memberships/",
        "badges_url": f"{url}badges/",
        "rewards_url": f"{url}rewards/",
    }
    if token:
        data["access_token"] = profile.access_token
    return data


def _application_json(base: str, client_id: str) -> dict[str, Any]:
    app = f"{base}applications/{client_id}/"
    return {
        "client_id": client_id,
        "name": f"Fake LiveLike ({client_id})",
        "url": app,
        "organization_id": str(uuid.uuid5(uuid.NAMESPACE_URL, app)),
        "organization_name": "Fake LiveLike",
        "profile_url": f"{app}profile/",
        "profile_detail_url_template": f"{base}profiles/{{profile_id}}/",
        "program_detail_url_template": f"{base}programs/{{program_id}}/",
        "chat_room_detail_url_template": f"{base}chat-rooms/{{chat_room_id}}/",
        "leaderboard_detail_url_template": f"{base}leaderboards/{{leaderboard_id}}/",
        "create_chat_room_url": f"{base}chat-rooms/",
        "chat_rooms_invitations_url": f"{base}chat-room-invitations/",
        "sessions_url": f"{app}sessions/",
        "programs_url": f"{app}programs/",
        "stickerpacks_url": f"{app}stickerpacks/",
        "reaction_packs_url": f"{app}reaction-packs/",
        "badges_url": f"{app}badges/",
        "rewards_url": f"{app}rewards/",
        "pubnub_subscribe_key": None,
        "pubnub_publish_key": None,
        "pubnub_origin": None,
        "mixpanel_token": None,
        "analytics_properties": {},
        "api_polling_interval": 5,
    }


# (path below BASE_PATH, FakeLiveLike method, allowed methods). Each ``{name}`` matches one
# segment, passed URL-decoded as a keyword argument; ``{client_id}`` must be ours, else 404.
_ROUTES = tuple(
    (re.compile(path.replace("{", "(?P<").replace("}", ">[^/]+)")), name, tuple(methods.split()))
    for path, name, methods in (
        ("applications/{client_id}/", "_application", "GET"),
        ("applications/{client_id}/profile/", "_own_profile", "GET POST PATCH"),
        ("profiles/{profile_id}/", "_public_profile", "GET"),
        ("profile-by-custom-id/{client_id}/{custom_id}/", "_by_custom_id", "GET POST"),
    )
)


class FakeLiveLike:
    """A fake LiveLike profile API served on ``host:port`` (``port=0``: any free port).

    Use it as a context manager, or call ``start()`` and ``stop()``. All state lives in memory
    behind one lock; every public method is safe to call from any thread.
    """

    def __init__(
        self,
        client_id: str = "demo",
        admin_token: str | None = DEFAULT_ADMIN_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        verbose: bool = False,
        client_secret: str = DEMO_CLIENT_SECRET,
        lookup_includes_token: bool = False,
    ) -> None:
        if len(client_secret.encode()) < MIN_CLIENT_SECRET_BYTES:
            raise ValueError(
                f"client_secret must be at least {MIN_CLIENT_SECRET_BYTES} bytes "
                f"({TOKEN_ALGORITHM} key length, RFC 7518 section 3.2)"
            )
        self.client_id = client_id
        self.admin_token = admin_token
        self.client_secret = client_secret
        self.host = host
        self.port = port
        self.verbose = verbose
        #: Whether the admin lookup by custom id answers with the profile's access token
        #: (LiveLike's reference shows it without; True is this fake's older behaviour).
        self.lookup_includes_token = lookup_includes_token
        self._initial_latency = float(latency)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # same lock: still one lock
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._stopping = False
        self._connections: set[socket.socket] = set()
        self._held: set[threading.Event] = set()
        self._forget()

    def _forget(self) -> None:
        self._profiles: dict[str, FakeProfile] = {}
        self._tokens: dict[str, str] = {}  # access token -> profile id
        self._custom_ids: dict[str, str] = {}  # custom id -> profile id
        self._calls: list[Call] = []
        self._create_count = 0
        self._latency = self._initial_latency
        self._request_faults: deque[_Response] = deque()
        self._create_faults: deque[_Response] = deque()
        self._lookup_faults: deque[_Response] = deque()
        self._lost_answers: deque[float] = deque()

    def __repr__(self) -> str:
        return f"<FakeLiveLike {self._url or 'not started'} client_id={self.client_id!r}>"

    # Lifecycle

    def start(self) -> FakeLiveLike:
        """Start serving in a background thread; return self."""
        if self._server is not None:
            raise RuntimeError("FakeLiveLike is already running")
        server = _Server((self.host, self.port), self)
        host, port = server.server_address[:2]
        self._url = f"http://{host}:{port}{BASE_PATH}"
        self._stopping = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits up to one interval
            name=f"FakeLiveLike:{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held answers, stop serving and close every socket. Idempotent."""
        with self._lock:
            server, thread = self._server, self._thread
            if server is None or thread is None:
                return
            self._server = self._thread = None
            self._stopping = True
            self._release_locked()
            connections = list(self._connections)
        server.shutdown()
        # Keep-alive connections would go on being served by their own threads. SHUT_RD ends
        # an idle one at once, yet still lets an answer being written (a held one) go out.
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RD)
        server.server_close()
        thread.join()

    def __enter__(self) -> FakeLiveLike:
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Inspection

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT/api/v1/`` (kept after ``stop()``)."""
        if self._url is None:
            raise RuntimeError("FakeLiveLike has not been started")
        return self._url

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """A ``LIVELIKE`` Django setting pointing at this fake, with ``overrides`` merged in."""
        return {
            "CLIENT_ID": self.client_id,
            "API_URL": self.url,
            "API_TOKEN": self.admin_token,
            "CLIENT_SECRET": self.client_secret,
            **overrides,
        }

    def mint(
        self,
        custom_id: Any,
        *,
        ttl: float | None = DEFAULT_TOKEN_TTL,
        iat: float | None = None,
        secret: str | None = None,
        issuer: str | None = None,
        algorithm: str = TOKEN_ALGORITHM,
        omit: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A client-generated access token for ``custom_id``, as a site would sign it.

        By default it is one this fake accepts: HS256 with ``client_secret``, ``iss`` this
        client id, ``iat`` now, ``exp`` ``iat + ttl`` (none when ``ttl`` is None). For tests
        of refusals: ``iat``, ``secret``, ``issuer``, ``algorithm`` (``"none"``: unsigned)
        change one thing; ``omit`` drops claims; ``extra`` adds or overrides claims (any
        JSON value, e.g. a custom id that is not a string).
        """
        issued = int(time.time()) if iat is None else int(iat)
        claims: dict[str, Any] = {
            "iss": self.client_id if issuer is None else issuer,
            "iat": issued,
            "custom_profile_id": custom_id,
        }
        if ttl is not None:
            claims["exp"] = int(issued + ttl)
        claims.update(extra or {})
        for name in omit:
            claims.pop(name, None)
        key = None if algorithm == "none" else (secret or self.client_secret)
        return jwt.encode(claims, key, algorithm=algorithm)

    @property
    def profiles(self) -> list[FakeProfile]:
        """Copies of all profiles, oldest first."""
        with self._lock:
            return [replace(p) for p in self._profiles.values()]

    def profile(self, profile_id: str) -> FakeProfile:
        """A copy of the profile with that id; ``KeyError`` when unknown."""
        with self._lock:
            return replace(self._profiles[profile_id])

    def profile_by_custom_id(self, custom_id: str) -> FakeProfile | None:
        """A copy of the profile with that custom id, or None."""
        with self._lock:
            profile_id = self._custom_ids.get(custom_id)
            return replace(self._profiles[profile_id]) if profile_id else None

    @property
    def create_count(self) -> int:
        """How many profiles were created: by either create endpoint, or implicitly.

        An implicit creation (the first use of a minted token for an unknown custom id) counts
        once, like a create; the request that caused it is one ``Call`` (a ``GET`` or
        ``PATCH`` of ``profile_url``), not a ``POST``.
        """
        with self._lock:
            return self._create_count

    @property
    def calls(self) -> list[Call]:
        """Every request answered so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def count_calls(self, method: str | None = None, path_contains: str | None = None) -> int:
        """How many answered requests match ``method`` and contain ``path_contains``."""
        with self._lock:
            return sum(
                1
                for c in self._calls
                if (method is None or c.method == method.upper())
                and (path_contains is None or path_contains in c.path)
            )

    # Faults

    @property
    def latency(self) -> float:
        """Seconds added before answering every request."""
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = float(seconds)

    def fail_next_creates(
        self, n: int, status: int = 503, body: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``n`` create attempts with ``status``, creating nothing.

        A create attempt is a ``POST`` to either create endpoint, or a request with a valid
        minted token whose custom id has no profile yet. ``body=None`` sends DRF-style JSON;
        a string is sent as-is as ``text/html``.
        """
        self._queue(self._create_faults, _failure(status, body, retry_after), n)

    def fail_next_lookups(
        self, n: int, status: int = 503, body: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``n`` admin lookups by custom id with ``status``, like creates."""
        self._queue(self._lookup_faults, _failure(status, body, retry_after), n)

    def rate_limit_next(self, n: int, retry_after: int = 30) -> None:
        """Answer the next ``n`` requests of any kind with 429 and ``Retry-After``."""
        message = f"Request was throttled. Expected available in {retry_after} seconds."
        self._queue(
            self._request_faults, _detail(429, message, [("Retry-After", str(retry_after))]), n
        )

    def malformed_next(self, n: int, body: str = "<html>oops</html>", status: int = 200) -> None:
        """Answer the next ``n`` requests of any kind with a non-JSON ``body`` (nothing done)."""
        self._queue(
            self._request_faults, _Response(status, body.encode(), "text/html; charset=utf-8"), n
        )

    def lose_next_create_answers(self, n: int, delay: float = 5.0) -> None:
        """Let the next ``n`` creates happen but hold their answers ``delay`` seconds.

        Implicit creations (by a minted token) are creates too. A client with a shorter
        timeout thus loses the answer of a create that did happen. ``release_held()`` and
        ``stop()`` send held answers at once.
        """
        self._queue(self._lost_answers, float(delay), n)

    def wait_for_held(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` answers are being held; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._held) >= count, timeout)

    def release_held(self) -> int:
        """Send every held answer now; return how many there were."""
        with self._lock:
            return self._release_locked()

    def revoke(self, profile_id: str) -> None:
        """Make that profile's opaque access token answer 401 from now on.

        Minted tokens for its custom id still authenticate: whoever holds the client secret
        can always get back in, which is the point of client-generated tokens.
        """
        with self._lock:
            self._profiles[profile_id].revoked = True

    def reset(self) -> None:
        """Forget profiles, calls and faults (latency returns to its initial value)."""
        with self._lock:
            self._release_locked()
            self._forget()

    def _queue(self, queue: deque[Any], item: Any, n: int) -> None:
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            queue.extend([item] * n)

    def _take(self, queue: deque[_Response]) -> _Response | None:
        with self._lock:
            return queue.popleft() if queue else None

    def _release_locked(self) -> int:
        released = len(self._held)
        for event in self._held:
            event.set()
        self._held.clear()
        return released

    # Serving (called from the request threads)

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if not alive:
                self._connections.discard(conn)
                return
            self._connections.add(conn)
            stopping = self._stopping
        if stopping:  # accepted while stop() was running: end it like the others
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RD)

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._calls.append(Call(method, path, status))

    def _unhold(self, event: threading.Event) -> None:
        with self._lock:
            self._held.discard(event)

    def _base_url(self, host_header: str | None) -> str:
        if host_header and _HOST_RE.fullmatch(host_header):
            return f"http://{host_header}{BASE_PATH}"
        return self.url

    def _dispatch(self, method: str, path: str, headers: Message, body: bytes) -> _Response:
        if method == "OPTIONS":
            return _PREFLIGHT
        fault = self._take(self._request_faults)
        if fault is not None:
            return fault
        if not path.startswith(BASE_PATH):
            return _NOT_FOUND
        for pattern, name, methods in _ROUTES:
            match = pattern.fullmatch(path.removeprefix(BASE_PATH))
            if match is None:
                continue
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            if params.pop("client_id", self.client_id) != self.client_id:
                return _NOT_FOUND
            if method not in methods:
                allow = [("Allow", ", ".join((*methods, "OPTIONS")))]
                return _detail(405, f'Method "{method}" not allowed.', allow)
            request = _Request(method, headers, body, self._base_url(headers.get("Host")))
            route: Callable[..., _Response] = getattr(self, name)
            try:
                return route(request, **params)
            except _Reject as reject:
                return reject.args[0]
        return _NOT_FOUND

    def _application(self, request: _Request) -> _Response:
        return _json(200, _application_json(request.base, self.client_id))

    def _own_profile(self, request: _Request) -> _Response:
        if request.method == "POST":
            return self._create(request, custom_id=None)
        token = _bearer(request.headers)
        if token is None:
            return _NO_CREDENTIALS
        custom_id = self._verify_minted(token) if _is_jwt(token) else None
        fields: dict[str, str] = {}
        invalid: _Response | None = None
        if request.method == "PATCH":
            # Parsed before authenticating, answered after: like DRF, a first use with a bad
            # body still creates the profile (authentication comes first there).
            try:
                fields = _parse_fields(request.body, partial=True)
            except _Reject as reject:
                invalid = reject.args[0]
        with self._lock:
            created = False
            if custom_id is None:
                profile = self._profiles.get(self._tokens.get(token, ""))
                if profile is None or profile.revoked:
                    return _INVALID_TOKEN
            elif custom_id in self._custom_ids:
                profile = self._profiles[self._custom_ids[custom_id]]
            elif self._create_faults:
                return self._create_faults.popleft()
            else:
                profile = self._add_locked(custom_id, created_by="token")
                created = True
            if invalid is None:
                for name, value in fields.items():
                    setattr(profile, name, value)
                response = _json(200, _profile_json(profile, request.base, token=False))
            else:
                response = invalid
            return self._maybe_lose_locked(response) if created else response

    def _verify_minted(self, token: str) -> str:
        """The custom id a client-generated token stands for; raise ``_Reject`` (403) if bad."""
        try:
            claims = jwt.decode(
                token,
                self.client_secret,
                algorithms=[TOKEN_ALGORITHM],
                issuer=self.client_id,
                options={"require": ["iss", "iat", "custom_profile_id"]},
                leeway=0,
            )
        except jwt.InvalidTokenError as err:
            raise _Reject(_detail(403, _jwt_error(err))) from None
        except (TypeError, ValueError, OverflowError):
            # PyJWT 2.8 lets these out for claims of the wrong type (e.g. an iat list).
            raise _Reject(_detail(403, "Token is invalid.")) from None
        custom_id = claims["custom_profile_id"]
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX_LENGTH:
            message = (
                "Token custom_profile_id must be a string of 1 to "
                f"{CUSTOM_ID_MAX_LENGTH} characters."
            )
            raise _Reject(_detail(403, message))
        return custom_id

    def _public_profile(self, request: _Request, profile_id: str) -> _Response:
        with self._lock:
            profile = self._profiles.get(profile_id)
            if profile is None:
                return _NOT_FOUND
            public = {"id", "url", "nickname", "created_at"}
            data = _profile_json(profile, request.base, token=False)
            return _json(200, {key: value for key, value in data.items() if key in public})

    def _by_custom_id(self, request: _Request, custom_id: str) -> _Response:
        if request.method == "POST":
            return self._create(request, custom_id=custom_id)
        fault = self._take(self._lookup_faults)
        if fault is not None:
            return fault
        token = _bearer(request.headers)
        if token is None:
            return _NO_CREDENTIALS
        admin = (self.admin_token or "").encode()
        if not admin or not secrets.compare_digest(token.encode(), admin):
            if _is_jwt(token):
                self._verify_minted(token)  # a bad one: its own 403
                return _FORBIDDEN  # a profile token, not allowed here; creates nothing
            with self._lock:
                # A valid profile token is known but not allowed; anything else is unknown.
                return _FORBIDDEN if token in self._tokens else _INVALID_TOKEN
        with self._lock:
            profile_id = self._custom_ids.get(custom_id)
            if profile_id is None:
                return _NOT_FOUND
            profile = self._profiles[profile_id]
            data = _profile_json(profile, request.base, token=self.lookup_includes_token)
            return _json(200, data)

    def _create(self, request: _Request, custom_id: str | None) -> _Response:
        fault = self._take(self._create_faults)
        if fault is not None:
            return fault
        if custom_id is not None and len(custom_id) > CUSTOM_ID_MAX_LENGTH:
            return _json(400, {"custom_id": [_too_long(CUSTOM_ID_MAX_LENGTH)]})
        fields = _parse_fields(request.body, partial=False)
        with self._lock:
            if custom_id is not None and custom_id in self._custom_ids:
                return _detail(409, f"profile with custom_id '{custom_id}' already exists.")
            profile = self._add_locked(
                custom_id,
                created_by="create" if custom_id is None else "custom-id",
                nickname=fields.get("nickname"),
                custom_data=fields.get("custom_data", ""),
            )
            return self._maybe_lose_locked(
                _json(201, _profile_json(profile, request.base, token=True))
            )

    def _add_locked(
        self,
        custom_id: str | None,
        *,
        created_by: str,
        nickname: str | None = None,
        custom_data: str = "",
    ) -> FakeProfile:
        profile = FakeProfile(
            id=str(uuid.uuid4()),
            nickname=nickname or _random_nickname(),
            custom_data=custom_data,
            custom_id=custom_id,
            access_token=secrets.token_urlsafe(32),
            created_at=_now(),
            created_by=created_by,
        )
        self._profiles[profile.id] = profile
        self._tokens[profile.access_token] = profile.id
        if custom_id is not None:
            self._custom_ids[custom_id] = profile.id
        self._create_count += 1
        return profile

    def _maybe_lose_locked(self, response: _Response) -> _Response:
        """The answer to a request that created a profile, held back if one is to be lost."""
        if not self._lost_answers:
            return response
        delay = self._lost_answers.popleft()
        if self._stopping:  # stop() has released the held ones: hold no more
            return response
        hold = threading.Event()
        self._held.add(hold)
        self._changed.notify_all()
        return replace(response, hold=hold, hold_delay=delay)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a held answer or an idle keep-alive must never block exit
    request_queue_size = 128  # bursts of 50+ concurrent clients connect at once

    def __init__(self, address: tuple[str, int], fake: FakeLiveLike) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn): slow, and not needed.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up (timeouts, stop()) is routine for a fake; real bugs still show.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks must not pay a handshake per call
    disable_nagle_algorithm = True  # headers and body go out in two writes
    timeout = 120  # idle keep-alive connections give their thread back eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, alive=False)

    def version_string(self) -> str:
        return "FakeLiveLike"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: ``--verbose`` logs through ``_serve`` instead, without headers."""

    def end_headers(self) -> None:
        # Every answer, http.server's own errors included, is readable by a browser SDK.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Retry-After")
        super().end_headers()

    def _serve(self) -> None:
        fake = self.server.fake
        if fake._server is not self.server:
            # Stopped while this connection was kept alive. Hang up like a server that went
            # away: SHUT_RD alone does not do it, as Linux still delivers later data.
            self.close_connection = True
            return
        started = time.monotonic()
        path = urlsplit(self.path).path
        body, response = self._read_body()
        latency = fake.latency
        if latency:
            time.sleep(latency)
        if response is None:
            try:
                response = fake._dispatch(self.command, path, self.headers, body)
            except Exception:
                self.close_connection = True
                response = _detail(500, "Fake LiveLike crashed; see its stderr.")
                self.server.handle_error(self.request, self.client_address)
        fake._record(self.command, path, response.status)
        if response.hold is not None:
            response.hold.wait(response.hold_delay)
            fake._unhold(response.hold)
        self._send(response)
        if fake.verbose:
            elapsed = (time.monotonic() - started) * 1000
            print(
                f"{self.command} {path} {response.status} {elapsed:.0f} ms",
                file=sys.stderr,
                flush=True,
            )

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = _serve

    def _read_body(self) -> tuple[bytes, _Response | None]:
        # The whole body must be consumed, or its leftovers would be read as the next request.
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return b"", _detail(411, "Send a Content-Length, not a chunked body.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            return b"", _detail(400, "Bad or too large Content-Length.")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-body: nothing to act on
            self.close_connection = True
            return b"", _detail(400, "Incomplete body.")
        return body, None

    def _send(self, response: _Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:  # the client gave up (e.g. its timeout fired during a held answer)
            self.close_connection = True


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a fake LiveLike from the command line until Ctrl-C (or SIGTERM)."""
    parser = argparse.ArgumentParser(
        prog="python -m livelike_profiles.fake", description="Serve a fake LiveLike profile API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--client-id", default="demo")
    parser.add_argument(
        "--admin-token",
        default=DEFAULT_ADMIN_TOKEN,
        help="token the admin lookup by custom id accepts",
    )
    parser.add_argument(
        "--client-secret",
        default=DEMO_CLIENT_SECRET,
        help="secret that client-generated (JWT, HS256) access tokens must be signed with; "
        f"at least {MIN_CLIENT_SECRET_BYTES} bytes (default: the public demo value "
        f"{DEMO_CLIENT_SECRET!r})",
    )
    parser.add_argument(
        "--lookup-includes-token",
        action="store_true",
        help="answer the admin lookup by custom id with the profile's access_token (LiveLike's "
        "reference answers without it; this fake did before)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="milliseconds added before every answer"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print one line per request (never a token)"
    )
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must be >= 0")
    if len(args.client_secret.encode()) < MIN_CLIENT_SECRET_BYTES:
        parser.error(f"--client-secret must be at least {MIN_CLIENT_SECRET_BYTES} bytes")
    fake = FakeLiveLike(
        args.client_id,
        args.admin_token,
        host=args.host,
        port=args.port,
        latency=args.latency_ms / 1000,
        verbose=args.verbose,
        client_secret=args.client_secret,
        lookup_includes_token=args.lookup_includes_token,
    )
    try:
        fake.start()
    except OSError as err:
        print(f"Cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return 1
    if threading.current_thread() is threading.main_thread():
        # Process managers stop with SIGTERM: shut down as cleanly as on Ctrl-C.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(
        f"Fake LiveLike serving {fake.url} for client id {args.client_id!r} (Ctrl-C to stop)",
        flush=True,
    )
    try:
        threading.Event().wait()  # until Ctrl-C or SIGTERM raises KeyboardInterrupt here
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
