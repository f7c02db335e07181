"""The API: the caller's own LiveLike profile for the SDK (GET), and its nickname (PATCH)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from .accounts import is_deactivated
from .client import get_client
from .client_generated import learn_profile_id
from .conf import conf
from .exceptions import (
    LiveLikeBadResponse,
    LiveLikeRejected,
    LiveLikeTokenRejected,
    LiveLikeUnavailable,
    UnreadableTokenError,
    UserGone,
)
from .models import LiveLikeProfile
from .parsers import FormParser, JSONParser, as_api_error
from .provisioning import ensure_profile
from .schema import ProfileSchema
from .serializers import NicknameSerializer, ProfileSerializer
from .tokens import AccessToken

# How soon to ask again while a create is in flight at LiveLike.
_PENDING_RETRY_AFTER = 2
# A failed update is retried by the caller; LiveLike did not say when.
_UNAVAILABLE_RETRY_AFTER = 30
# The longest Retry-After we send: past a day a client should stop waiting and
# someone should look. Also what an infinite or absurd wait from LiveLike becomes.
_MAX_RETRY_AFTER = 24 * 3600
# What an operator sees on a row whose token no configured key can decrypt.
_KEY_MISSING = (
    "The stored access token cannot be decrypted: restore the encryption key "
    '(the old SECRET_KEY in SECRET_KEY_FALLBACKS, or the key in LIVELIKE["ENCRYPTION_KEYS"]).'
)

# ... and on a row whose token is minted (none stored) while no secret is set.
_CANNOT_MINT = (
    "No access token is stored for this profile and none can be minted: "
    'set LIVELIKE["CLIENT_SECRET"] (the profile itself is fine).'
)


class NicknameChangeThrottle(UserRateThrottle):
    """Limits nickname changes per user (``LIVELIKE["THROTTLE_RATE"]``), sparing LiveLike."""

    scope = "livelike_profiles"

    def get_rate(self) -> str | None:
        return conf.THROTTLE_RATE


class IsActiveAccount(BasePermission):
    """Turns a deactivated account (``is_active`` false) away with a 403 naming why.

    DRF's own authentication classes never let such a user in; a site's own
    (or ``force_authenticate``) may. A permission, so it is checked before the
    throttle, the body and any provisioning.
    """

    message = gettext_lazy("This account is deactivated.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return not is_deactivated(request.user)


class ProfileView(APIView):
    """``GET``: the caller's profile and what the SDK needs. ``PATCH``: change its nickname."""

    permission_classes = [IsAuthenticated, IsActiveAccount]
    # JSON only: the browsable API would render the access token into an HTML page.
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    schema = ProfileSchema()

    def get_throttles(self) -> list[Any]:
        if self.request.method == "PATCH":  # only a change costs a call to LiveLike
            return [*super().get_throttles(), NicknameChangeThrottle()]
        return super().get_throttles()

    def handle_exception(self, exc: Exception) -> Response:
        # A body Django refuses would otherwise get its HTML 400 page.
        return super().handle_exception(as_api_error(exc))

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Answers carry a credential: no browser, proxy or CDN may keep them.
        add_never_cache_headers(response)
        return response

    def get(self, request: Request) -> Response:
        profile = _callers_profile(request)
        if not profile.is_active:
            return _not_ready(profile)
        # Client-generated tokens: the first answer learns the profile id (one call).
        profile = learn_profile_id(profile)
        credential = _credential_of(profile)
        if credential is None:
            return _unreadable(profile)
        return Response(ProfileSerializer(profile, context={"credential": credential}).data)

    def patch(self, request: Request) -> Response:
        serializer = NicknameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        nickname = serializer.validated_data["nickname"]
        profile = _callers_profile(request)
        if not profile.is_active:
            return _not_ready(profile)
        profile = learn_profile_id(profile)  # so the answer names the profile
        try:
            return _change_nickname(profile, nickname)
        except LiveLikeTokenRejected:
            return _error(502, _("LiveLike no longer accepts this profile's access token."))
        except LiveLikeRejected as error:
            if error.status_code == 400:  # only a 400 says the value was wrong
                return Response(error.errors or {"nickname": [error.detail]}, status=400)
            detail = _("LiveLike refused the change (HTTP %(status)s).")
            return _error(502, detail % {"status": error.status_code})
        except LiveLikeUnavailable as error:
            retry_after = getattr(error, "retry_after", None)
            return _error(503, _("LiveLike is unavailable; try again later."), retry_after)
        except LiveLikeBadResponse:
            return _error(502, _("LiveLike sent an unusable answer."))


def _signed_in(request: Request) -> AbstractBaseUser:
    """The caller: the stubs allow an ``AnonymousUser``, which IsAuthenticated has turned away."""
    return cast(AbstractBaseUser, request.user)


def _callers_profile(request: Request) -> LiveLikeProfile:
    """``ensure_profile`` of the caller; an authentication failure if their account is gone.

    (A stateless token's user, such as simplejwt's ``TokenUser``, outlives its
    account.) DRF answers it 401 where the authentication sends a challenge, else 403.
    """
    try:
        return ensure_profile(_signed_in(request))
    except UserGone as gone:
        raise AuthenticationFailed(_("This account no longer exists.")) from gone


def _change_nickname(profile: LiveLikeProfile, nickname: str) -> Response:
    """LiveLike first (if it refuses, nothing local changes), then the row; raises LiveLikeError."""
    client = get_client()
    client.profile_url()  # discovered before the lock, which then covers one call only
    with _one_change_at_a_time(profile) as row:
        if row is None or not row.is_active:  # deleted or changed while we waited
            return _not_ready(row or profile)
        credential = _credential_of(row)
        if credential is None:
            return _unreadable(row)
        remote = client.update_own_profile(credential.token, nickname=nickname)
        LiveLikeProfile.objects.record_nickname(row, remote.nickname or nickname)
    return Response(ProfileSerializer(row, context={"credential": credential}).data)


@contextmanager
def _one_change_at_a_time(profile: LiveLikeProfile) -> Iterator[LiveLikeProfile | None]:
    """The user's row read again and locked until the block ends.

    Two changes of one user must reach LiveLike and the row in the same order,
    or each side keeps a different winner. The row lock serializes them; a
    second change waits at most one LiveLike call (``TIMEOUT``). SQLite has no
    row lock, only the whole database's, which would hold every other write
    (logins included) behind a LiveLike call: there the changes are not
    serialized (see the README).
    """
    using = router.db_for_write(LiveLikeProfile, instance=profile)
    if not connections[using].features.has_select_for_update:
        yield profile
        return
    with transaction.atomic(using=using):
        rows = LiveLikeProfile.objects.using(using).select_for_update()
        yield rows.of_pk(profile.pk)


def _credential_of(profile: LiveLikeProfile) -> AccessToken | None:
    """The profile's access token, or ``None`` (the row marked) when there is none to hand out.

    That is a stored token no configured key can decrypt, or a row with no
    stored token (it mints one) while no ``CLIENT_SECRET`` is set.
    """
    try:
        credential = profile.credential()
        problem = "" if credential.token else _CANNOT_MINT
    except UnreadableTokenError:
        credential, problem = None, _KEY_MISSING
    if problem:
        # A queryset update: saving the row would touch the token, and the
        # status stays as it is, since the profile itself is fine.
        LiveLikeProfile.objects.mark_credential_problem(profile, problem)
        return None
    if profile.last_error in (_KEY_MISSING, _CANNOT_MINT):  # the key or secret is back
        LiveLikeProfile.objects.clear_last_error(profile)
    return credential


def _retry_after(seconds: Any, default: float | None = None) -> int | None:
    """Whole seconds, 1 to a day, for ``Retry-After``; ``default`` for a NaN or a non-number."""
    try:
        wanted = float(seconds)
    except (TypeError, ValueError):
        wanted = math.nan
    if math.isnan(wanted):
        if default is None:
            return None
        wanted = default
    return math.ceil(min(max(wanted, 1.0), _MAX_RETRY_AFTER))


def _error(
    http_status: int, detail: str, retry_after: float | None = None, **extra: Any
) -> Response:
    seconds = _retry_after(retry_after, _UNAVAILABLE_RETRY_AFTER if http_status == 503 else None)
    headers = {"Retry-After": str(seconds)} if seconds else None
    return Response({"detail": detail, **extra}, status=http_status, headers=headers)


def _not_ready(profile: LiveLikeProfile) -> Response:
    """503 while there is no usable profile, with when to ask again."""
    status = profile.status
    if status == LiveLikeProfile.Status.ACTIVE:  # but no token to hand out
        _credential_of(profile)  # marks the row, saying why
        return _unreadable(profile)
    if status == LiveLikeProfile.Status.FAILED and profile.next_attempt_at:
        wait = (profile.next_attempt_at - timezone.now()).total_seconds()
        return _error(503, _("LiveLike is unavailable; try again later."), wait, status=status)
    if status in (LiveLikeProfile.Status.CONFLICT, LiveLikeProfile.Status.REVOKED):
        detail = _("This LiveLike profile needs an operator's attention.")
        return _error(503, detail, conf.RETRY_MAX_SECONDS, status=status)
    return _error(
        503, _("The LiveLike profile is being created."), _PENDING_RETRY_AFTER, status=status
    )


def _unreadable(profile: LiveLikeProfile) -> Response:
    """503: the profile exists but has no token to hand out until an operator acts."""
    detail = _(
        "This profile's access token cannot be decrypted: an operator must restore "
        "the encryption key."
    )
    if not profile.stored_token:
        detail = _(
            "This profile's access token is minted by the site: an operator must set "
            "the client secret."
        )
    return _error(503, detail, conf.RETRY_MAX_SECONDS, status=profile.status)


# Provisioning must run outside the request's transaction (ATOMIC_REQUESTS),
# or the GET could only schedule it for after the answer.
profile_view = transaction.non_atomic_requests(ProfileView.as_view())
