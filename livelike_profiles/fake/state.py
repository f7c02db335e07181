"""What the fake remembers, behind one lock: profiles, the calls it answered, queued faults,
answers being held back and the connections being served."""

from __future__ import annotations

import contextlib
import random
import secrets
import socket
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .wire import Response

_ADJECTIVES = ("Brave", "Calm", "Clever", "Eager", "Gentle", "Happy", "Lucky", "Swift", "Witty")
_ANIMALS = ("Otter", "Falcon", "Badger", "Heron", "Lynx", "Panda", "Fox", "Koala", "Wren")


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _random_nickname() -> str:
    # Not security relevant: LiveLike's own default nicknames are just as guessable.
    adjective, animal = random.choice(_ADJECTIVES), random.choice(_ANIMALS)  # noqa: S311
    return f"{adjective} {animal} {random.randint(1, 999)}"  # noqa: S311


class Store:
    """The fake's memory. ``lock`` guards every attribute; methods named ``*_locked`` expect
    the caller to hold it, the others take it themselves."""

    def __init__(self, latency: float) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # same lock: still one lock
        self.initial_latency = float(latency)
        self.stopping = False
        self.connections: set[socket.socket] = set()
        self.held: set[threading.Event] = set()
        self.forget_locked()

    def forget_locked(self) -> None:
        """Forget profiles, calls and faults; latency returns to its initial value."""
        self.profiles: dict[str, FakeProfile] = {}
        self.tokens: dict[str, str] = {}  # access token -> profile id
        self.custom_ids: dict[str, str] = {}  # custom id -> profile id
        self.deleted: list[FakeProfile] = []  # as they were when deleted, oldest first
        self.calls: list[Call] = []
        self.create_count = 0
        self.latency = self.initial_latency
        self.request_faults: deque[Response] = deque()
        self.create_faults: deque[Response] = deque()
        self.lookup_faults: deque[Response] = deque()
        self.delete_faults: deque[Response] = deque()
        self.lost_answers: deque[float] = deque()

    # Faults

    def queue(self, queue: deque[Any], item: Any, n: int) -> None:
        """Append ``n`` times ``item`` to one of the fault queues."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self.lock:
            queue.extend([item] * n)

    def take(self, queue: deque[Response]) -> Response | None:
        """The next fault of ``queue``, consumed; None when there is none."""
        with self.lock:
            return queue.popleft() if queue else None

    # Profiles

    def add_locked(
        self,
        custom_id: str | None,
        *,
        created_by: str,
        nickname: str | None = None,
        custom_data: str = "",
    ) -> FakeProfile:
        """Create a profile with a new id and opaque token (a random nickname by default)."""
        profile = FakeProfile(
            id=str(uuid.uuid4()),
            nickname=nickname or _random_nickname(),
            custom_data=custom_data,
            custom_id=custom_id,
            access_token=secrets.token_urlsafe(32),
            created_at=_now(),
            created_by=created_by,
        )
        self.profiles[profile.id] = profile
        self.tokens[profile.access_token] = profile.id
        if custom_id is not None:
            self.custom_ids[custom_id] = profile.id
        self.create_count += 1
        return profile

    def delete_locked(self, profile_id: str) -> FakeProfile | None:
        """Remove a profile, its token and its custom id; None when there is no such profile."""
        profile = self.profiles.pop(profile_id, None)
        if profile is None:
            return None
        self.tokens.pop(profile.access_token, None)
        if profile.custom_id is not None:
            self.custom_ids.pop(profile.custom_id, None)
        self.deleted.append(profile)
        return profile

    # Held answers

    def maybe_lose_locked(self, response: Response) -> Response:
        """The answer to a request that created a profile, held back if one is to be lost."""
        if not self.lost_answers:
            return response
        delay = self.lost_answers.popleft()
        if self.stopping:  # stop() has released the held ones: hold no more
            return response
        hold = threading.Event()
        self.held.add(hold)
        self.changed.notify_all()
        return replace(response, hold=hold, hold_delay=delay)

    def release_locked(self) -> int:
        """Send every held answer now; return how many there were."""
        released = len(self.held)
        for event in self.held:
            event.set()
        self.held.clear()
        return released

    # Serving (called from the request threads)

    def track(self, conn: socket.socket, alive: bool) -> None:
        """Remember a connection being served (``alive``), or forget it."""
        with self.lock:
            if not alive:
                self.connections.discard(conn)
                return
            self.connections.add(conn)
            stopping = self.stopping
        if stopping:  # accepted while stop() was running: end it like the others
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RD)

    def record(self, method: str, path: str, status: int) -> None:
        """Remember a request answered."""
        with self.lock:
            self.calls.append(Call(method, path, status))

    def unhold(self, event: threading.Event) -> None:
        """Forget a held answer that has been sent."""
        with self.lock:
            self.held.discard(event)
