"""Reading LiveLike's answers: from an HTTP response to a JSON dict or an exception.

Everything an answer brings in is checked here before it is used: JSON that
is a dict and not nested beyond reason, a profile id that fits our column, a
token fit for an ``Authorization`` header, text without control characters.
Error details never carry a token. No HTTP is done here (:mod:`.client` does
it), and this module needs nothing of ``requests`` but a response's shape.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, TypedDict, TypeGuard

from ..exceptions import (
    LiveLikeBadResponse,
    LiveLikeConflict,
    LiveLikeError,
    LiveLikeRateLimited,
    LiveLikeRejected,
    LiveLikeTokenRejected,
    LiveLikeUnavailable,
)

_DETAIL_LIMIT = 200
#: The longest wait a ``Retry-After`` can ask for; anything longer (``inf``,
#: ``1e12``, a date in year 9999) is read as this.
MAX_RETRY_AFTER = 86400.0
# How deeply nested an answer may be. LiveLike's are two or three levels deep;
# a deeper one is garbage, and walking it recursively could exhaust the stack.
_MAX_DEPTH = 32
# Our profile_id column's length; LiveLike's ids are UUIDs.
_PROFILE_ID_MAX_LENGTH = 64
# A token that comes back goes into an Authorization header: printable ASCII.
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,4096}")
_NICKNAME_MAX_LENGTH = 255

#: Whose token a request carried (``""``: none of ours), which decides what a 401/403 means.
WhoseToken = Literal["", "profile", "admin"]
PROFILE: Final = "profile"  # the profile's own access token
ADMIN: Final = "admin"  # the application's API_TOKEN


class Response(Protocol):
    """What is read of an HTTP response (a ``requests.Response`` has it)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    def json(self) -> Any: ...


class _Context(TypedDict):
    method: str
    url: str
    status_code: int
    response: Response


@dataclass(frozen=True)
class RemoteProfile:
    """A profile as LiveLike describes it.

    ``access_token`` is ``""`` when the answer did not carry one (reads and
    updates of one's own profile do not). It is left out of ``repr``.
    """

    id: str
    nickname: str = ""
    access_token: str = field(default="", repr=False)
    custom_id: str | None = None
    custom_data: str = ""
    # The rest of LiveLike's answer, minus the token.
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def parse_answer(
    response: Response,
    method: str,
    url: str,
    whose_token: WhoseToken = "",
    *,
    empty_ok: bool = False,
) -> dict[str, Any]:
    """Turn an HTTP answer into a JSON dict, or raise the matching exception.

    ``empty_ok``: a success without a body (a delete's) is ``{}``, not a bad response.

    A 401/403 only speaks about the credential the request carried: a
    profile's own token (:class:`LiveLikeTokenRejected`), the admin token (a
    plain :class:`LiveLikeRejected`, for an operator). Without a token of ours
    (discovery, creates), or with a body that is not LiveLike's JSON (an HTML
    page), it is something in front of LiveLike, a CDN or a firewall, or a
    change on its side: :class:`LiveLikeUnavailable`, retried.
    """
    status = response.status_code
    context: _Context = {"method": method, "url": url, "status_code": status, "response": response}
    data = _json_body(response) if response.content else None
    if status >= 400 or status < 200:
        raise _error_for(data, whose_token, context)
    if status >= 300:
        raise LiveLikeBadResponse("unexpected redirect", **context)
    if empty_ok and not response.content.strip():
        return {}
    if not isinstance(data, dict):
        raise LiveLikeBadResponse(_describe_body(response), **context)
    return data


def _error_for(data: Any, whose_token: WhoseToken, context: _Context) -> LiveLikeError:
    """The exception an error answer (or a status below 200) raises; see :func:`parse_answer`."""
    response, status = context["response"], context["status_code"]
    detail, errors = _error_detail(data, response)
    if status == 429:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return LiveLikeRateLimited(detail, retry_after=retry_after, **context)
    if status >= 500 or status < 200:
        return LiveLikeUnavailable(detail, **context)
    if status in (401, 403) and whose_token != ADMIN:
        # Revoking a row is an operator's matter: only LiveLike's own (JSON) refusal
        # of the profile's token says the token is dead, not a firewall's page.
        if whose_token == PROFILE and isinstance(data, dict):
            return LiveLikeTokenRejected(detail, errors=errors, **context)
        return LiveLikeUnavailable(detail, **context)
    if status == 409:
        return LiveLikeConflict(detail, errors=errors, **context)
    return LiveLikeRejected(detail, errors=errors, **context)


def _json_body(response: Response) -> Any:
    """The parsed body; ``None`` when it is not JSON or nested beyond reason."""
    try:
        data = response.json()
    except (ValueError, RecursionError):  # the parser recurses too
        return None
    return None if _too_deep(data) else data


def _too_deep(data: Any) -> bool:
    """Whether ``data`` nests deeper than ``_MAX_DEPTH`` (walked without recursion)."""
    level: list[Any] = [data]
    for _ in range(_MAX_DEPTH):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


def _error_detail(data: Any, response: Response) -> tuple[str, dict[str, Any]]:
    """LiveLike's error text and field errors, with anything token-like removed."""
    if not isinstance(data, dict):
        return _describe_body(response), {}
    errors = _redact(data)
    detail = errors.get("detail")
    if not isinstance(detail, str):
        detail = "; ".join(f"{key}: {value}" for key, value in errors.items())
    return clean_text(detail, _DETAIL_LIMIT), errors


def _redact(data: Any) -> Any:
    """``data`` without any key that names a token, however deeply nested.

    Recursive: only ever given answers :func:`_json_body` let through.
    """
    if isinstance(data, dict):
        return {k: _redact(v) for k, v in data.items() if "token" not in str(k).lower()}
    if isinstance(data, list):
        return [_redact(item) for item in data]
    return data


def clean_text(value: str, limit: int) -> str:
    """``value`` without control characters (NUL, escapes, newlines), cut to ``limit``.

    For text from outside (LiveLike, the site's ``NICKNAME`` callable) that
    is stored or shown: PostgreSQL refuses NUL bytes, and terminals and logs
    should not get escape sequences.
    """
    return "".join(c for c in value if unicodedata.category(c) != "Cc")[:limit]


def _describe_body(response: Response) -> str:
    # Never echo a body we could not parse: it may be anything, a token included.
    content_type = response.headers.get("Content-Type", "no content type")
    return f"answer is not a JSON object ({content_type}, {len(response.content)} bytes)"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), at most a day."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError, OSError):
            return None
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def remote_profile(data: dict[str, Any], *, require_token: bool, url: str) -> RemoteProfile:
    """The profile in an answer; :class:`LiveLikeBadResponse` if its id or token is unusable."""
    profile_id = data.get("id")
    if not is_profile_id(profile_id):
        raise LiveLikeBadResponse("the profile in the answer has no usable id", url=url)
    nickname = data.get("nickname")
    custom_id = data.get("custom_id")
    custom_data = data.get("custom_data")
    return RemoteProfile(
        id=profile_id,
        nickname=clean_text(nickname, _NICKNAME_MAX_LENGTH) if isinstance(nickname, str) else "",
        access_token=_token_in(data, require_token=require_token, url=url),
        custom_id=custom_id if isinstance(custom_id, str) else None,
        custom_data=custom_data if isinstance(custom_data, str) else "",
        data=_redact(data),
    )


def _token_in(data: dict[str, Any], *, require_token: bool, url: str) -> str:
    """The answer's access token (``""``: none); :class:`LiveLikeBadResponse` if unusable."""
    token = data.get("access_token") or ""
    if not isinstance(token, str) or (require_token and not token):
        raise LiveLikeBadResponse("the created profile in the answer has no access token", url=url)
    if token and not _TOKEN_RE.fullmatch(token):
        raise LiveLikeBadResponse("the access token in the answer is malformed", url=url)
    return token


def is_profile_id(value: Any) -> TypeGuard[str]:
    """Whether ``value`` fits our ``profile_id`` column: 1-64 printable, non-space characters."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= _PROFILE_ID_MAX_LENGTH
        and value.isprintable()
        and not any(c.isspace() for c in value)
    )
