"""``FakeLiveLike``: the fake LiveLike service as tests and demos drive it.

Start and stop it, point Django's ``LIVELIKE`` setting at it, queue faults, inspect what it
was asked. docs/reference/fake.md lists every helper.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from . import tokens
from .routes import Endpoints
from .server import Server
from .state import Call, FakeProfile, Store
from .tokens import DEFAULT_TOKEN_TTL, DEMO_CLIENT_SECRET, MIN_CLIENT_SECRET_BYTES, TOKEN_ALGORITHM
from .wire import BASE_PATH, Response, detail, failure

DEFAULT_ADMIN_TOKEN = "demo-admin-token"  # noqa: S105 - the demo settings use it too


class FakeLiveLike:
    """A fake LiveLike profile API served on ``host:port`` (``port=0``: any free port).

    Use it as a context manager, or call ``start()`` and ``stop()``. All state lives in memory
    behind one lock; every public method is safe to call from any thread::

        with FakeLiveLike(client_id="demo", admin_token="admin-secret") as fake:
            with override_settings(LIVELIKE=fake.settings(TIMEOUT=1.0)):
                ...  # the code under test talks to fake.url over HTTP
            assert fake.create_count == 1
            assert fake.count_calls("POST", path_contains="/profile/") == 1

    In pytest, the ``livelike_fake`` fixture the app ships does this for each test.

    Faults (``latency``, ``fail_next_creates``, ``rate_limit_next``, ``fail_next_lookups``,
    ``fail_next_deletes``, ``malformed_next``, ``lose_next_create_answers``, ``revoke``) are
    each consumed atomically: with 50 threads racing, exactly ``n`` requests get one. CORS
    preflights (``OPTIONS``) never get a fault: a browser would report a CORS failure instead
    of the fault under test. Inspection helpers (``profiles``, ``deleted``, ``calls``...)
    return copies; neither an ``access_token``, a minted token nor the client secret ever
    appears in a repr, a log line or a ``Call``.

    ``DELETE {base}profiles/{id}/`` with the admin token deletes a profile for good (200, an
    empty body; 404 when unknown): its opaque token then answers 401 and its custom id is
    free, so a minted token for it creates a new profile on first use.

    A bearer token shaped like a JWT is a client-generated token (see ``mint()`` and
    ``livelike_profiles.fake.tokens``): a valid one is the profile with that custom id,
    created on first use (``created_by == "token"``) where a profile token is accepted, at
    most once however many requests race for it; it counts as a create for
    ``create_count``, ``fail_next_creates`` and ``lose_next_create_answers``.
    ``revoke()`` only revokes the opaque token the fake issued.
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
        clock_offset: float = 0.0,
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
        #: Seconds this fake's clock is ahead of the real one (negative: behind), for the
        #: times of minted tokens (``iat``, ``nbf``, ``exp``): a LiveLike out of step with the site.
        self.clock_offset = clock_offset
        self._store = Store(latency)
        self._endpoints = Endpoints(self, self._store)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    def __repr__(self) -> str:
        return f"<FakeLiveLike {self._url or 'not started'} client_id={self.client_id!r}>"

    # Lifecycle

    def start(self) -> FakeLiveLike:
        """Start serving in a background thread; return self."""
        if self._server is not None:
            raise RuntimeError("FakeLiveLike is already running")
        server = Server((self.host, self.port), self._endpoints)
        host, port = server.server_name, server.server_port
        self._url = f"http://{host}:{port}{BASE_PATH}"
        self._store.stopping = False
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
        with self._store.lock:
            server, thread = self._server, self._thread
            if server is None or thread is None:
                return
            self._server = self._thread = None
            server.stopped = True
            self._store.stopping = True
            self._store.release_locked()
            connections = list(self._store.connections)
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
        return tokens.mint(
            custom_id,
            client_id=self.client_id,
            client_secret=self.client_secret,
            ttl=ttl,
            iat=iat,
            secret=secret,
            issuer=issuer,
            algorithm=algorithm,
            omit=omit,
            extra=extra,
        )

    @property
    def profiles(self) -> list[FakeProfile]:
        """Copies of all profiles, oldest first."""
        with self._store.lock:
            return [replace(p) for p in self._store.profiles.values()]

    def profile(self, profile_id: str) -> FakeProfile:
        """A copy of the profile with that id; ``KeyError`` when unknown."""
        with self._store.lock:
            return replace(self._store.profiles[profile_id])

    def profile_by_custom_id(self, custom_id: str) -> FakeProfile | None:
        """A copy of the profile with that custom id, or None."""
        with self._store.lock:
            profile_id = self._store.custom_ids.get(custom_id)
            return replace(self._store.profiles[profile_id]) if profile_id else None

    @property
    def create_count(self) -> int:
        """How many profiles were created: by either create endpoint, or implicitly.

        An implicit creation (the first use of a minted token for an unknown custom id) counts
        once, like a create; the request that caused it is one ``Call`` (a ``GET`` or
        ``PATCH`` of ``profile_url``), not a ``POST``.
        """
        with self._store.lock:
            return self._store.create_count

    @property
    def deleted(self) -> list[FakeProfile]:
        """Copies of the profiles deleted (``DELETE {base}profiles/{id}/``), oldest first."""
        with self._store.lock:
            return [replace(p) for p in self._store.deleted]

    @property
    def calls(self) -> list[Call]:
        """Every request answered so far, oldest first."""
        with self._store.lock:
            return list(self._store.calls)

    def count_calls(self, method: str | None = None, path_contains: str | None = None) -> int:
        """How many answered requests match ``method`` and contain ``path_contains``."""
        with self._store.lock:
            return sum(
                1
                for c in self._store.calls
                if (method is None or c.method == method.upper())
                and (path_contains is None or path_contains in c.path)
            )

    # Faults

    @property
    def latency(self) -> float:
        """Seconds added before answering every request."""
        with self._store.lock:
            return self._store.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._store.lock:
            self._store.latency = float(seconds)

    def fail_next_creates(
        self, n: int, status: int = 503, body: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``n`` create attempts with ``status``, creating nothing.

        A create attempt is a ``POST`` to either create endpoint, or a request with a valid
        minted token whose custom id has no profile yet. ``body=None`` sends DRF-style JSON;
        a string is sent as-is as ``text/html``.
        """
        self._store.queue(self._store.create_faults, failure(status, body, retry_after), n)

    def fail_next_lookups(
        self, n: int, status: int = 503, body: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``n`` admin lookups by custom id with ``status``, like creates."""
        self._store.queue(self._store.lookup_faults, failure(status, body, retry_after), n)

    def fail_next_deletes(
        self, n: int, status: int = 503, body: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``n`` deletes (``DELETE`` of a profile) with ``status``, deleting
        nothing, like creates."""
        self._store.queue(self._store.delete_faults, failure(status, body, retry_after), n)

    def rate_limit_next(self, n: int, retry_after: int = 30) -> None:
        """Answer the next ``n`` requests of any kind with 429 and ``Retry-After``."""
        message = f"Request was throttled. Expected available in {retry_after} seconds."
        answer = detail(429, message, [("Retry-After", str(retry_after))])
        self._store.queue(self._store.request_faults, answer, n)

    def malformed_next(self, n: int, body: str = "<html>oops</html>", status: int = 200) -> None:
        """Answer the next ``n`` requests of any kind with a non-JSON ``body`` (nothing done)."""
        answer = Response(status, body.encode(), "text/html; charset=utf-8")
        self._store.queue(self._store.request_faults, answer, n)

    def lose_next_create_answers(self, n: int, delay: float = 5.0) -> None:
        """Let the next ``n`` creates happen but hold their answers ``delay`` seconds.

        Implicit creations (by a minted token) are creates too. A client with a shorter
        timeout thus loses the answer of a create that did happen. ``release_held()`` and
        ``stop()`` send held answers at once.
        """
        self._store.queue(self._store.lost_answers, float(delay), n)

    def wait_for_held(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` answers are being held; False on timeout."""
        store = self._store
        with store.changed:
            return store.changed.wait_for(lambda: len(store.held) >= count, timeout)

    def release_held(self) -> int:
        """Send every held answer now; return how many there were."""
        with self._store.lock:
            return self._store.release_locked()

    def revoke(self, profile_id: str) -> None:
        """Make that profile's opaque access token answer 401 from now on.

        Minted tokens for its custom id still authenticate: whoever holds the client secret
        can always get back in, which is the point of client-generated tokens.
        """
        with self._store.lock:
            self._store.profiles[profile_id].revoked = True

    def reset(self) -> None:
        """Forget profiles, deletions, calls and faults (latency returns to its initial value)."""
        with self._store.lock:
            self._store.release_locked()
            self._store.forget_locked()
