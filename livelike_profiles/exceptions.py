"""The exceptions this app raises: :class:`LiveLikeError` and its family, and the token ones.

No message, ``str`` or ``repr`` of them ever holds an access token. Which
answer raises which is tabled in docs/reference/exceptions.md.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist


class LiveLikeConfigurationError(ImproperlyConfigured):
    """The ``LIVELIKE`` setting lacks something a call needs (e.g. ``API_TOKEN``)."""


class UnreadableTokenError(Exception):
    """A stored access token could not be decrypted with any configured key.

    Raised instead of returning the ciphertext or an empty string: the usual
    cause is a rotated ``SECRET_KEY`` whose old value is not in
    ``SECRET_KEY_FALLBACKS`` (or a key removed from ``LIVELIKE["ENCRYPTION_KEYS"]``).
    """


class UserGone(ObjectDoesNotExist):
    """The user no longer exists: deleted since it was loaded, or a stateless token's account.

    Raised by ``ensure_profile`` (after one refused ``INSERT``, nothing
    written, nobody called): such a user can have no profile. The middleware
    answers ``None``, the API a 403 (or 401) saying so, the login receiver
    nothing.
    """


class LiveLikeError(Exception):
    """Base class of every error met while talking to LiveLike."""

    description = "LiveLike request failed"

    def __init__(
        self,
        detail: str = "",
        *,
        method: str = "",
        url: str = "",
        status_code: int | None = None,
        response: Any = None,
    ) -> None:
        self.detail = detail
        self.method = method
        self.url = url
        self.status_code = status_code
        # The ``requests.Response``, for callers that need more; its request
        # headers hold the bearer token, which is why nothing here prints it.
        self.response = response
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.description]
        if self.method or self.url:
            parts.append(f"{self.method} {self.url}".strip())
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def summary(self) -> str:
        """What came back, without the URL: for places operators see (``last_error``).

        The URL of a lookup holds the user's custom id, which is better kept
        out of sight until the profile exists.
        """
        status = f"HTTP {self.status_code}" if self.status_code is not None else ""
        return ": ".join(part for part in (status, self.detail) if part) or self.description

    def __reduce__(self) -> Any:
        # Pickling (a task queue, a cache) must not carry the response: its
        # request headers hold the bearer token.
        state = {**self.__dict__, "response": None}
        return (_rebuild, (type(self), self.args), state)


def _rebuild(cls: type[LiveLikeError], args: tuple[Any, ...]) -> LiveLikeError:
    error = cls.__new__(cls)
    error.args = args
    return error


class LiveLikeUnavailable(LiveLikeError):
    """LiveLike could not be reached or failed (connection error, timeout, 5xx): retry later."""

    description = "LiveLike is unavailable"


class LiveLikeRateLimited(LiveLikeUnavailable):
    """LiveLike answered 429; ``retry_after`` is the number of seconds it asked us to wait."""

    description = "LiveLike rate limit reached"

    def __init__(self, detail: str = "", *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(detail, **kwargs)


class LiveLikeRejected(LiveLikeError):
    """LiveLike refused the request (4xx); ``errors`` holds its (redacted) field errors."""

    description = "LiveLike rejected the request"

    def __init__(self, detail: str = "", *, errors: dict[str, Any] | None = None, **kwargs: Any):
        self.errors = errors or {}
        super().__init__(detail, **kwargs)

    @property
    def refuses_value(self) -> bool:
        """Whether LiveLike refused a value the request sent (a nickname, say): a 400.

        Only a 400 says so; any other refusal (401/403, 404, 409) is about the
        request or its credential, and sending the same value again may succeed.
        """
        return self.status_code == 400


class LiveLikeTokenRejected(LiveLikeRejected):
    """LiveLike no longer accepts the profile's access token the request carried (401 or 403).

    Never raised for a request without one, nor for the admin token: those
    401/403 say nothing about any profile's token.
    """

    description = "LiveLike rejected the access token"


class LiveLikeConflict(LiveLikeRejected):
    """LiveLike answered 409: for a create by custom id, that custom id is taken."""

    description = "LiveLike reported a conflict"


class LiveLikeBadResponse(LiveLikeError):
    """LiveLike answered something we cannot use: not JSON, or a field missing."""

    description = "LiveLike sent an unusable answer"


#: What an operator reads for an error whose message could hold anything (a
#: token, a URL with a custom id): its traceback is in the log instead.
UNEXPECTED = "unexpected error, see the log"


def describe_error(error: BaseException, *, in_report: bool = False) -> str:
    """``error`` as operators read it: its class, then what went wrong; never a token or a URL.

    By default, for what is stored and shown later (a row's ``last_error``):
    a LiveLike error's :meth:`~LiveLikeError.summary`, a configuration
    error's message (the setting it lacks), and for any other error only that
    it happened (:data:`UNEXPECTED`). With ``in_report``, for the
    report of a run, read at once by whoever started it (a command's output,
    an admin message): any other error's own message, and a LiveLike status
    never left bare (its description stands in when LiveLike said nothing).
    """
    if isinstance(error, LiveLikeError):
        said = error.summary()
        if in_report:
            status = f"HTTP {error.status_code}" if error.status_code is not None else ""
            said = ": ".join(part for part in (status, error.detail or error.description) if part)
    elif isinstance(error, LiveLikeConfigurationError):
        said = str(error)  # ours, naming the missing setting: never its value
    else:
        said = str(error) if in_report else UNEXPECTED
    return f"{type(error).__name__}: {said}" if said else type(error).__name__
