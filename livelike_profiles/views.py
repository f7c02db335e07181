"""The API: the caller's own LiveLike profile for the SDK (GET), and its nickname (PATCH)."""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from .client import get_client
from .conf import conf
from .exceptions import (
    LiveLikeBadResponse,
    LiveLikeRejected,
    LiveLikeTokenRejected,
    LiveLikeUnavailable,
)
from .models import LiveLikeProfile
from .provisioning import ensure_profile
from .schema import ProfileSchema
from .serializers import NicknameSerializer, ProfileSerializer

# How soon to ask again while a create is in flight at LiveLike.
_PENDING_RETRY_AFTER = 2
# A failed update is retried by the caller; LiveLike did not say when.
_UNAVAILABLE_RETRY_AFTER = 30


class NicknameChangeThrottle(UserRateThrottle):
    """Limits nickname changes per user (``LIVELIKE["THROTTLE_RATE"]``), sparing LiveLike."""

    scope = "livelike_profiles"

    def get_rate(self) -> str | None:
        return conf.THROTTLE_RATE


class ProfileView(APIView):
    """``GET``: the caller's profile and what the SDK needs. ``PATCH``: change its nickname."""

    permission_classes = [IsAuthenticated]
    schema = ProfileSchema()

    def get_throttles(self) -> list[Any]:
        if self.request.method == "PATCH":  # only a change costs a call to LiveLike
            return [*super().get_throttles(), NicknameChangeThrottle()]
        return super().get_throttles()

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Answers carry a credential: no browser, proxy or CDN may keep them.
        add_never_cache_headers(response)
        return response

    def get(self, request: Request) -> Response:
        profile = ensure_profile(request.user)
        if not profile.is_active:
            return _not_ready(profile)
        return Response(ProfileSerializer(profile).data)

    def patch(self, request: Request) -> Response:
        serializer = NicknameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        nickname = serializer.validated_data["nickname"]
        profile = ensure_profile(request.user)
        if not profile.is_active:
            return _not_ready(profile)
        # LiveLike first: if it refuses, nothing local has changed.
        try:
            remote = get_client().update_own_profile(profile.access_token, nickname=nickname)
        except LiveLikeTokenRejected:
            return _error(502, _("LiveLike no longer accepts this profile's access token."))
        except LiveLikeRejected as error:
            return Response(error.errors or {"nickname": [error.detail]}, status=400)
        except LiveLikeUnavailable as error:
            retry_after = getattr(error, "retry_after", None) or _UNAVAILABLE_RETRY_AFTER
            return _error(503, _("LiveLike is unavailable; try again later."), retry_after)
        except LiveLikeBadResponse:
            return _error(502, _("LiveLike sent an unusable answer."))
        profile.nickname = (remote.nickname or nickname)[:255]
        LiveLikeProfile.objects.filter(pk=profile.pk).update(
            nickname=profile.nickname, nickname_sync_due=False, updated_at=timezone.now()
        )
        return Response(ProfileSerializer(profile).data)


def _error(
    http_status: int, detail: str, retry_after: float | None = None, **extra: Any
) -> Response:
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after else None
    return Response({"detail": detail, **extra}, status=http_status, headers=headers)


def _not_ready(profile: LiveLikeProfile) -> Response:
    """503 while there is no usable profile, with when to ask again."""
    status = profile.status
    if status == LiveLikeProfile.Status.FAILED and profile.next_attempt_at:
        wait = max(1.0, (profile.next_attempt_at - timezone.now()).total_seconds())
        return _error(503, _("LiveLike is unavailable; try again later."), wait, status=status)
    if status in (LiveLikeProfile.Status.CONFLICT, LiveLikeProfile.Status.REVOKED):
        detail = _("This LiveLike profile needs an operator's attention.")
        return _error(503, detail, conf.RETRY_MAX_SECONDS, status=status)
    return _error(
        503, _("The LiveLike profile is being created."), _PENDING_RETRY_AFTER, status=status
    )


# Provisioning must run outside the request's transaction (ATOMIC_REQUESTS),
# or the GET could only schedule it for after the answer.
profile_view = transaction.non_atomic_requests(ProfileView.as_view())
