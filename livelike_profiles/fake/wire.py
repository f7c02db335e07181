"""What the fake sends and reads on the wire: answers, DRF-style errors, request bodies."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from typing import Any

BASE_PATH = "/api/v1/"
NICKNAME_MAX_LENGTH = 50
CUSTOM_ID_MAX_LENGTH = 255


@dataclass(frozen=True)
class Response:
    """An answer, ready to send."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    hold: threading.Event | None = None  # set: send the answer; else wait ``hold_delay``
    hold_delay: float = 0.0


@dataclass(frozen=True)
class Request:
    """A request routed to an endpoint."""

    method: str
    headers: Message
    body: bytes
    base: str  # our base URL as the client reached us (its Host header)


class Reject(Exception):
    """Raised by route code to answer with ``response`` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response)
        self.response = response


def json_response(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """``payload`` as a JSON answer."""
    return Response(status, json.dumps(payload).encode(), headers=tuple(headers))


def detail(status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """DRF's error shape: ``{"detail": message}``."""
    return json_response(status, {"detail": message}, headers)


NOT_FOUND = detail(404, "Not found.")
_CHALLENGE = (("WWW-Authenticate", 'Bearer realm="api"'),)
NO_CREDENTIALS = detail(401, "Authentication credentials were not provided.", _CHALLENGE)
INVALID_TOKEN = detail(401, "Invalid token.", _CHALLENGE)
FORBIDDEN = detail(403, "You do not have permission to perform this action.")
PREFLIGHT = Response(
    204,
    headers=(
        ("Access-Control-Allow-Methods", "GET, POST, PATCH, OPTIONS"),
        ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
        ("Access-Control-Max-Age", "600"),
    ),
)


def failure(status: int, body: str | None, retry_after: int | None) -> Response:
    """An injected error: DRF-style JSON, or ``body`` as-is as HTML (a proxy's error page)."""
    headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
    if body is None:
        return detail(status, f"{HTTPStatus(status).phrase}. (injected)", headers)
    return Response(status, body.encode(), "text/html; charset=utf-8", headers)


def bearer(headers: Message) -> str | None:
    """The bearer token of a request, or None."""
    scheme, _, token = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None  # e.g. "Token ...", LiveLike's personal API tokens: not accepted here
    return token.strip() or None


def too_long(limit: int) -> str:
    """DRF's message for a string over ``limit`` characters."""
    return f"Ensure this field has no more than {limit} characters."


def parse_fields(body: bytes, *, partial: bool) -> dict[str, str]:
    """Validate ``nickname``/``custom_data`` the way DRF's CharField would; raise ``Reject``."""
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError as err:
        raise Reject(detail(400, f"JSON parse error - {err}")) from None
    if not isinstance(data, dict):
        message = f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
        raise Reject(json_response(400, {"non_field_errors": [message]}))
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
                errors[name] = [too_long(NICKNAME_MAX_LENGTH)]
        fields[name] = text
    if errors:
        raise Reject(json_response(400, errors))
    return fields
