"""``request.livelike_profile``: the current user's LiveLike profile, looked up only when used.

A request that never touches it costs nothing. ``get_livelike_profile`` and
``aget_livelike_profile`` give the plain answer (the active profile or
``None``; always ``None`` for a deactivated user). See docs/reference/python-api.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.utils.functional import LazyObject

from . import guests
from .conf import conf
from .exceptions import UserGone
from .models import LiveLikeProfile
from .provisioning import user_state
from .provisioning.accounts import agets_a_profile, gets_a_profile
from .provisioning.dispatch import ensure_profile

_MEMO = "_livelike_profile_memo"


def _http_request(request: Any) -> HttpRequest:
    # A DRF Request wraps the HttpRequest; remember the answer on the latter
    # so the view and the middleware's lazy attribute share it.
    http_request: HttpRequest = getattr(request, "_request", request)
    return http_request


def _remembered(request: Any, user: Any) -> tuple[bool, LiveLikeProfile | None]:
    memo = _http_request(request).__dict__.get(_MEMO)
    if memo is not None and memo[0] == user.pk:
        return True, memo[1]
    return False, None


def _remember(request: Any, user: Any, profile: LiveLikeProfile | None) -> None:
    _http_request(request).__dict__[_MEMO] = (user.pk, profile)


def get_livelike_profile(request: Any) -> LiveLikeProfile | None:
    """The request user's active LiveLike profile, or ``None``.

    Provisions a user who has none (bounded by ``WAIT_SECONDS``, never raising
    for LiveLike trouble). One query the first time for a user with a profile;
    nothing more afterwards in the same request. ``None``, with no query and
    nothing provisioned, for a deactivated user (``is_active`` false) or one
    ``PROVISION_IF`` turns away. For an
    anonymous visitor, with ``GUEST_PROFILES``, the session's guest profile if
    it has one (never made here: only the API's ``GET`` makes one), else ``None``.
    """
    user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated and conf.GUEST_PROFILES:
        return guests.guest_profile(request)
    if user is None or not user.is_authenticated or not gets_a_profile(user):
        return None
    known, profile = _remembered(request, user)
    if not known:
        profile = _usable(ensure_profile, user)
        _remember(request, user, profile)
    return profile


def _usable(ensure: Callable[[Any], LiveLikeProfile], user: Any) -> LiveLikeProfile | None:
    """``ensure(user)`` if active, else ``None``; ``None`` too for a user who no longer exists."""
    try:
        row = ensure(user)
    except UserGone:
        return None
    return row if row.is_active else None


async def aget_livelike_profile(request: Any) -> LiveLikeProfile | None:
    """Async :func:`get_livelike_profile`, for async views."""
    auser = getattr(request, "auser", None)
    user = await auser() if auser is not None else getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return await _aguest_of(request, user)
    if not await agets_a_profile(user):
        return None
    known, profile = _remembered(request, user)
    if known:
        return profile
    row = await LiveLikeProfile.objects.filter(user_id=user.pk).afirst()
    if row is None or not row.is_active:
        # Only provisioning needs the sync machinery (and a thread). Hand it
        # the row just read (or its absence), so it does not read it again;
        # a user that is no model instance (a stateless JWT user) has no cache.
        user_state.remember(user, row)
        profile = await sync_to_async(_usable)(ensure_profile, user)
    else:
        profile = row
    _remember(request, user, profile)
    return profile


async def _aguest_of(request: Any, user: Any) -> LiveLikeProfile | None:
    """An anonymous request's guest profile (``GUEST_PROFILES``), or ``None``."""
    if user is None or not conf.GUEST_PROFILES:
        return None
    return await guests.aguest_profile(request)


class LazyLiveLikeProfile(LazyObject):
    """Stands in for ``get_livelike_profile(request)``, resolved on each use.

    Unlike ``SimpleLazyObject`` it does not keep its first answer: it asks
    again every time (a dictionary lookup once answered), so it follows a
    user that changes after the middleware ran, as DRF's authentication does.
    """

    def __init__(self, request: Any) -> None:
        # No super().__init__(): it only stores ``empty`` in ``_wrapped``,
        # which the property below replaces. This runs on every request.
        self.__dict__["_request"] = request

    # LazyObject proxies every operation to ``self._wrapped``; computing it on
    # each read is what keeps the answer tied to the current user.
    @property
    def _wrapped(self) -> Any:
        return get_livelike_profile(self.__dict__["_request"])

    def __repr__(self) -> str:
        # Never provisions: an error report repr()s the locals of every frame, and
        # must not call LiveLike (nor query) while it is being written.
        # Nor load a lazy request.user: only what a read of the profile remembered.
        request = self.__dict__["_request"]
        if _MEMO not in _http_request(request).__dict__:
            return "<LazyLiveLikeProfile: not read>"
        known, profile = _remembered(request, request.user)
        return f"<LazyLiveLikeProfile: {profile!r}>" if known else "<LazyLiveLikeProfile: not read>"


class LiveLikeProfileMiddleware:
    """Sets ``request.livelike_profile`` (lazy) and ``request.alivelike_profile()`` (async)."""

    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        # Nothing to await here: under ASGI this hands back get_response's
        # coroutine unawaited, so no thread is needed to run this middleware.
        self._attach(request)
        return self.get_response(request)

    @staticmethod
    def _attach(request: HttpRequest) -> None:
        # Attributes of our own on Django's request, which its stubs cannot know.
        request.livelike_profile = LazyLiveLikeProfile(request)  # type: ignore[attr-defined]
        request.alivelike_profile = partial(aget_livelike_profile, request)  # type: ignore[attr-defined]
