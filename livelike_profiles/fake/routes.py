"""The endpoints the fake serves, and the routing of a request to one of them.

Every answer is shaped as ``https://cf-blast.livelikecdn.com/api/v1/`` answers on the wire.
Assumptions where LiveLike's docs are silent: a bad minted token answers 403; a known route
asked with another method answers 405, as DRF would; a deleted profile is gone for good (its
opaque token answers 401, its custom id is free again: a minted token for it creates a new
profile on first use, as for any unknown custom id).
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable
from email.message import Message
from typing import Any, Protocol
from urllib.parse import unquote

from . import tokens
from .state import FakeProfile, Store
from .wire import (
    BASE_PATH,
    CUSTOM_ID_MAX_LENGTH,
    FORBIDDEN,
    INVALID_TOKEN,
    NO_CREDENTIALS,
    NOT_FOUND,
    PREFLIGHT,
    Reject,
    Request,
    Response,
    bearer,
    detail,
    json_response,
    parse_fields,
    too_long,
)

# The Host header becomes part of every URL we hand out; anything odd falls back to our address.
_HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")

# (path below BASE_PATH, Endpoints method, allowed methods). Each ``{name}`` matches one
# segment, passed URL-decoded as a keyword argument; ``{client_id}`` must be ours, else 404.
_ROUTES = tuple(
    (re.compile(path.replace("{", "(?P<").replace("}", ">[^/]+)")), name, tuple(methods.split()))
    for path, name, methods in (
        ("applications/{client_id}/", "_application", "GET"),
        ("applications/{client_id}/profile/", "_own_profile", "GET POST PATCH"),
        ("profiles/{profile_id}/", "_profile_detail", "GET DELETE"),
        ("profile-by-custom-id/{client_id}/{custom_id}/", "_by_custom_id", "GET POST"),
    )
)


class Config(Protocol):
    """The fake's settings as its endpoints and server read them, on every request (tests
    change some while it serves). ``FakeLiveLike`` is one."""

    client_id: str
    admin_token: str | None
    client_secret: str
    lookup_includes_token: bool
    verbose: bool
    clock_offset: float

    @property
    def url(self) -> str: ...

    @property
    def latency(self) -> float: ...


def profile_json(profile: FakeProfile, base: str, *, token: bool) -> dict[str, Any]:
    """A profile as LiveLike answers it, with its ``access_token`` when ``token``."""
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


def application_json(base: str, client_id: str) -> dict[str, Any]:
    """The application resource, whose URLs point the SDK at ``base``."""
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


class Endpoints:
    """LiveLike's profile API over ``store``, as ``config`` says (client id, tokens...)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store

    def dispatch(self, method: str, path: str, headers: Message, body: bytes) -> Response:
        """The answer to one request: a queued fault, or what its endpoint answers."""
        if method == "OPTIONS":
            return PREFLIGHT
        fault = self.store.take(self.store.request_faults)
        if fault is not None:
            return fault
        if not path.startswith(BASE_PATH):
            return NOT_FOUND
        client_id = self.config.client_id
        for pattern, name, methods in _ROUTES:
            match = pattern.fullmatch(path.removeprefix(BASE_PATH))
            if match is None:
                continue
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            if params.pop("client_id", client_id) != client_id:
                return NOT_FOUND
            if method not in methods:
                allow = [("Allow", ", ".join((*methods, "OPTIONS")))]
                return detail(405, f'Method "{method}" not allowed.', allow)
            request = Request(method, headers, body, self._base_url(headers.get("Host")))
            route: Callable[..., Response] = getattr(self, name)
            try:
                return route(request, **params)
            except Reject as reject:
                return reject.response
        return NOT_FOUND

    def _base_url(self, host_header: str | None) -> str:
        if host_header and _HOST_RE.fullmatch(host_header):
            return f"http://{host_header}{BASE_PATH}"
        return self.config.url

    def _verify_minted(self, token: str) -> str:
        now = time.time() + self.config.clock_offset
        return tokens.verify(token, self.config.client_secret, self.config.client_id, now)

    def _application(self, request: Request) -> Response:
        return json_response(200, application_json(request.base, self.config.client_id))

    def _own_profile(self, request: Request) -> Response:
        if request.method == "POST":
            return self._create(request, custom_id=None)
        token = bearer(request.headers)
        if token is None:
            return NO_CREDENTIALS
        custom_id = self._verify_minted(token) if tokens.is_jwt(token) else None
        fields: dict[str, str] = {}
        invalid: Response | None = None
        if request.method == "PATCH":
            # Parsed before authenticating, answered after: like DRF, a first use with a bad
            # body still creates the profile (authentication comes first there).
            try:
                fields = parse_fields(request.body, partial=True)
            except Reject as reject:
                invalid = reject.response
        store = self.store
        with store.lock:
            created = False
            if custom_id is None:
                profile = store.profiles.get(store.tokens.get(token, ""))
                if profile is None or profile.revoked:
                    return INVALID_TOKEN
            elif custom_id in store.custom_ids:
                profile = store.profiles[store.custom_ids[custom_id]]
            elif store.create_faults:
                return store.create_faults.popleft()
            else:
                profile = store.add_locked(custom_id, created_by="token")
                created = True
            if invalid is None:
                for name, value in fields.items():
                    setattr(profile, name, value)
                response = json_response(200, profile_json(profile, request.base, token=False))
            else:
                response = invalid
            return store.maybe_lose_locked(response) if created else response

    def _profile_detail(self, request: Request, profile_id: str) -> Response:
        if request.method == "DELETE":
            return self._delete(request, profile_id)
        with self.store.lock:
            profile = self.store.profiles.get(profile_id)
            if profile is None:
                return NOT_FOUND
            public = {"id", "url", "nickname", "created_at"}
            data = profile_json(profile, request.base, token=False)
            return json_response(200, {key: value for key, value in data.items() if key in public})

    def _by_custom_id(self, request: Request, custom_id: str) -> Response:
        if request.method == "POST":
            return self._create(request, custom_id=custom_id)
        fault = self.store.take(self.store.lookup_faults)
        if fault is not None:
            return fault
        self._require_admin(request)
        with self.store.lock:
            profile_id = self.store.custom_ids.get(custom_id)
            if profile_id is None:
                return NOT_FOUND
            profile = self.store.profiles[profile_id]
            token_included = self.config.lookup_includes_token
            return json_response(200, profile_json(profile, request.base, token=token_included))

    def _delete(self, request: Request, profile_id: str) -> Response:
        fault = self.store.take(self.store.delete_faults)
        if fault is not None:
            return fault
        self._require_admin(request)
        with self.store.lock:
            if self.store.delete_locked(profile_id) is None:
                return NOT_FOUND
        # An empty body, still labelled JSON: what DRF sends for a Response without data.
        return Response(200)

    def _require_admin(self, request: Request) -> None:
        """Raise ``Reject`` unless the request carries the admin token."""
        token = bearer(request.headers)
        if token is None:
            raise Reject(NO_CREDENTIALS)
        admin = (self.config.admin_token or "").encode()
        if admin and secrets.compare_digest(token.encode(), admin):
            return
        if tokens.is_jwt(token):
            self._verify_minted(token)  # a bad one: its own 403
            raise Reject(FORBIDDEN)  # a profile token, not allowed here; creates nothing
        with self.store.lock:
            # A valid profile token is known but not allowed; anything else is unknown.
            raise Reject(FORBIDDEN if token in self.store.tokens else INVALID_TOKEN)

    def _create(self, request: Request, custom_id: str | None) -> Response:
        fault = self.store.take(self.store.create_faults)
        if fault is not None:
            return fault
        if custom_id is not None and len(custom_id) > CUSTOM_ID_MAX_LENGTH:
            return json_response(400, {"custom_id": [too_long(CUSTOM_ID_MAX_LENGTH)]})
        fields = parse_fields(request.body, partial=False)
        with self.store.lock:
            if custom_id is not None and custom_id in self.store.custom_ids:
                return detail(409, f"profile with custom_id '{custom_id}' already exists.")
            profile = self.store.add_locked(
                custom_id,
                created_by="create" if custom_id is None else "custom-id",
                nickname=fields.get("nickname"),
                custom_data=fields.get("custom_data", ""),
            )
            return self.store.maybe_lose_locked(
                json_response(201, profile_json(profile, request.base, token=True))
            )
