"""The API's 503 and 502 answers as DRF exceptions, each 503 with its ``Retry-After``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import APIException
from rest_framework.status import HTTP_502_BAD_GATEWAY, HTTP_503_SERVICE_UNAVAILABLE

from ..livelike.client import MAX_RETRY_AFTER

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# How soon to ask again when nothing says when: LiveLike failed without a
# Retry-After of its own (or a wait is not a number).
UNAVAILABLE_RETRY_AFTER = 30


def retry_after(seconds: Any, default: float = UNAVAILABLE_RETRY_AFTER) -> int:
    """``seconds`` as a ``Retry-After``: whole seconds from 1 to ``MAX_RETRY_AFTER`` (a day).

    An infinite or absurd wait becomes a day (past that a client should stop
    waiting and someone should look); a NaN or a non-number becomes ``default``.
    """
    try:
        wanted = float(seconds)
    except (TypeError, ValueError):
        wanted = math.nan
    if math.isnan(wanted):
        wanted = default
    return math.ceil(min(max(wanted, 1.0), MAX_RETRY_AFTER))


class ServiceUnavailable(APIException):
    """503: ask again after ``wait`` seconds.

    DRF's exception handler sends an exception's ``wait`` as ``Retry-After``, as
    for its own :class:`~rest_framework.exceptions.Throttled`.
    """

    status_code = HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("LiveLike is unavailable; try again later.")
    default_code = "unavailable"

    def __init__(
        self, detail: StrOrPromise | dict[str, Any] | None = None, *, wait: Any = None
    ) -> None:
        super().__init__(detail)
        self.wait = retry_after(wait)


class ProfileNotReady(ServiceUnavailable):
    """503: the caller's profile has no token to hand out (yet); the answer names its status."""

    default_code = "profile_not_ready"

    def __init__(self, detail: StrOrPromise, *, wait: Any, status: str) -> None:
        # DRF's exception handler answers a dict detail as the whole body.
        super().__init__({"detail": detail, "status": status}, wait=wait)


class BadGateway(APIException):
    """502: LiveLike refused the request or answered something unusable; no ``Retry-After``."""

    status_code = HTTP_502_BAD_GATEWAY
    default_detail = _("LiveLike sent an unusable answer.")
    default_code = "bad_gateway"
