"""The API: the caller's own LiveLike profile for the SDK (GET), and its nickname (PATCH)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from .. import guests
from ..conf import conf
from ..exceptions import (
    LiveLikeBadResponse,
    LiveLikeRejected,
    LiveLikeTokenRejected,
    LiveLikeUnavailable,
    UnreadableTokenError,
    UserGone,
)
from ..livelike.client import get_client
from ..models import LiveLikeProfile
from ..provisioning.accounts import is_deactivated, is_excluded
from ..provisioning.client_generated import learn_profile_id
from ..provisioning.dispatch import ensure_profile
from ..tokens.minting import AccessToken
from .errors import BadGateway, ProfileNotReady, ServiceUnavailable
from .parsers import FormParser, JSONParser, as_api_error
from .schema import ProfileSchema
from .serializers import NicknameSerializer, ProfileSerializer

# How soon to ask again while a create is in flight at LiveLike.
_PENDING_RETRY_AFTER = 2
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
    """Limits nickname changes per user (``LIVELIKE["THROTTLE_RATE"]``), sparing LiveLike.

    A guest's are counted per session, not per address: a crowd behind one
    address (a stadium's network) would otherwise share one allowance.
    """

    scope = "livelike_profiles"

    def get_rate(self) -> str | None:
        return conf.THROTTLE_RATE

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        session_key = getattr(getattr(request, "session", None), "session_key", None)
        if request.user.is_authenticated or not session_key:
            return super().get_cache_key(request, view)
        return self.cache_format % {"scope": self.scope, "ident": f"guest-{session_key}"}


class GuestCreationThrottle(AnonRateThrottle):
    """Limits the guest profiles made per client address (``LIVELIKE["GUEST_THROTTLE_RATE"]``).

    Each one is a LiveLike profile (in ``"stored"`` mode, a create call at
    once): this bounds what a script discarding its cookies can cost. The
    address is ``REMOTE_ADDR``, or DRF's reading of ``X-Forwarded-For`` when
    DRF's ``NUM_PROXIES`` says how many proxies stand in front.
    """

    scope = "livelike_profiles_guests"

    def get_rate(self) -> str | None:
        return conf.GUEST_THROTTLE_RATE

    def get_ident(self, request: Request) -> str:
        """The client's address, never one the client wrote itself.

        With ``NUM_PROXIES`` unset DRF counts the whole ``X-Forwarded-For``
        header, which a script rewrites on every request to make as many
        guests as it likes: without a proxy count, only the socket's address
        is trusted.
        """
        if api_settings.NUM_PROXIES is None:
            return request.META.get("REMOTE_ADDR") or ""
        return super().get_ident(request)


class IsSignedInOrGuest(BasePermission):
    """A signed-in user; or, with ``GUEST_PROFILES``, an anonymous visitor with a session."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.user and request.user.is_authenticated:
            return True
        return conf.GUEST_PROFILES and getattr(request, "session", None) is not None


class IsActiveAccount(BasePermission):
    """Turns a deactivated account (``is_active`` false) away with a 403 naming why.

    DRF's own authentication classes never let such a user in; a site's own
    (or ``force_authenticate``) may. A permission, so it is checked before the
    throttle, the body and any provisioning.
    """

    message = gettext_lazy("This account is deactivated.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return not (request.user.is_authenticated and is_deactivated(request.user))


class GetsAProfile(BasePermission):
    """Turns away an account ``PROVISION_IF`` gives no profile (staff, say): a 403 saying so."""

    message = gettext_lazy("This account has no LiveLike profile.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return not (request.user.is_authenticated and is_excluded(request.user))


class ProfileView(APIView):
    """``GET``: the caller's profile and what the SDK needs. ``PATCH``: change its nickname."""

    permission_classes = [IsSignedInOrGuest, IsActiveAccount, GetsAProfile]
    # JSON only: the browsable API would render the access token into an HTML page.
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    schema = ProfileSchema()

    def get_throttles(self) -> list[Any]:
        if self.request.method == "PATCH":  # only a change costs a call to LiveLike
            return [*super().get_throttles(), NicknameChangeThrottle()]
        if self.request.method in ("GET", "HEAD") and _makes_a_guest(self.request):
            return [*super().get_throttles(), GuestCreationThrottle()]
        return super().get_throttles()

    def handle_exception(self, exc: Exception) -> Response:
        """DRF's own answer to ``exc``: its exceptions, and this module's 502s and 503s."""
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
        """The caller's profile with its token; a 503 (with Retry-After) while there is none.

        An anonymous caller (``GUEST_PROFILES``) gets the session's guest
        profile, made by this ``GET`` if the session has none.
        """
        if not request.user.is_authenticated:
            profile = guests.ensure_guest_profile(request)
        else:
            profile = _callers_profile(request)
        if not profile.is_active:
            raise _not_ready(profile)
        if not profile.is_guest:
            # Client-generated tokens: the first answer learns the profile id (one call).
            # Not a guest's: for a visitor who never runs the SDK (a script), that call
            # would make the very profile minted tokens spare LiveLike (and the bill).
            profile = learn_profile_id(profile)
        return _answer(profile, _credential_to_hand_out(profile))

    def patch(self, request: Request) -> Response:
        """Change the nickname at LiveLike, then on the row; answer as ``get`` does.

        A 400 names the field, LiveLike's own 400 included; LiveLike failing is a
        503 (asking again may work) or a 502, with nothing changed.
        """
        if not request.user.is_authenticated:
            # DRF checks CSRF for a session's signed-in user only: a guest's too.
            SessionAuthentication().enforce_csrf(request)
        serializer = NicknameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        nickname = serializer.validated_data["nickname"]
        try:
            row, credential = _change_callers_nickname(request, nickname)
        except LiveLikeRejected as error:
            if error.refuses_value:
                return Response(error.errors or {"nickname": [error.detail]}, status=400)
            raise _livelike_failure(error) from error
        except (LiveLikeUnavailable, LiveLikeBadResponse) as error:
            raise _livelike_failure(error) from error
        return _answer(row, credential)


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


def _makes_a_guest(request: Request) -> bool:
    """Whether this request would make the session a guest profile (the throttle counts it)."""
    return (
        conf.GUEST_PROFILES and not request.user.is_authenticated and not guests.has_guest(request)
    )


def _change_callers_nickname(
    request: Request, nickname: str
) -> tuple[LiveLikeProfile, AccessToken]:
    """The nickname changed, a user's or the session's guest's: the profile and its token."""
    if not request.user.is_authenticated:
        try:
            return guests.change_guest_nickname(request, nickname)
        except LookupError:
            raise NotFound(_("This session has no guest profile yet: GET it first.")) from None
    profile = _callers_profile(request)
    if not profile.is_active:
        raise _not_ready(profile)
    profile = learn_profile_id(profile)  # so the answer names the profile
    return _change_nickname(profile, nickname)


def _answer(profile: LiveLikeProfile, credential: AccessToken) -> Response:
    """The 200: the profile with the token already obtained (minting twice makes two)."""
    return Response(ProfileSerializer(profile, context={"credential": credential}).data)


def _change_nickname(
    profile: LiveLikeProfile, nickname: str
) -> tuple[LiveLikeProfile, AccessToken]:
    """LiveLike first (if it refuses, nothing local changes), then the row: the row and its token.

    Raises LiveLikeError, or ProfileNotReady for a row deleted, changed or left without
    a token to hand out while we waited.
    """
    client = get_client()
    client.profile_url()  # discovered before the lock, which then covers one call only
    with _one_change_at_a_time(profile) as row:
        if row is None or not row.is_active:  # deleted or changed while we waited
            raise _not_ready(row or profile)
        credential = _credential_to_hand_out(row)
        remote = client.update_own_profile(credential.token, nickname=nickname)
        LiveLikeProfile.objects.record_nickname(row, remote.nickname or nickname)
    return row, credential


def _livelike_failure(
    error: LiveLikeUnavailable | LiveLikeRejected | LiveLikeBadResponse,
) -> ServiceUnavailable | BadGateway:
    """The API's answer to LiveLike failing a nickname change (a 400 aside: the field's fault).

    503 when asking again may work (after LiveLike's own Retry-After, if it
    sent one), 502 when it will not.
    """
    if isinstance(error, LiveLikeUnavailable):
        return ServiceUnavailable(wait=getattr(error, "retry_after", None))
    if isinstance(error, LiveLikeTokenRejected):
        return BadGateway(_("LiveLike no longer accepts this profile's access token."))
    if isinstance(error, LiveLikeRejected):
        detail = _("LiveLike refused the change (HTTP %(status)s).")
        return BadGateway(detail % {"status": error.status_code})
    return BadGateway(_("LiveLike sent an unusable answer."))


@contextmanager
def _one_change_at_a_time(profile: LiveLikeProfile) -> Iterator[LiveLikeProfile | None]:
    """The user's row read again and locked until the block ends.

    Two changes of one user must reach LiveLike and the row in the same order,
    or each side keeps a different winner. The row lock serializes them; a
    second change waits at most one LiveLike call (``TIMEOUT``). SQLite has no
    row lock, only the whole database's, which would hold every other write
    (logins included) behind a LiveLike call: there the changes are not
    serialized (see docs/explanation/databases.md).

    A :class:`ProfileNotReady` raised in the block leaves it as an answer does:
    what the block wrote (the row marked with why it has no token) is committed.
    Any other exception rolls it back.
    """
    using = router.db_for_write(LiveLikeProfile, instance=profile)
    if not connections[using].features.has_select_for_update:
        yield profile
        return
    refusal: ProfileNotReady | None = None
    with transaction.atomic(using=using):
        rows = LiveLikeProfile.objects.using(using).select_for_update()
        try:
            yield rows.of_pk(profile.pk)
        except ProfileNotReady as not_ready:
            refusal = not_ready
    if refusal is not None:
        raise refusal


def _credential_and_problem(profile: LiveLikeProfile) -> tuple[AccessToken | None, str]:
    """The profile's access token, or ``None`` and why there is none to hand out.

    That is a stored token no configured key can decrypt, or a row with no
    stored token (it mints one) while no ``CLIENT_SECRET`` is set. Reads only.
    """
    try:
        credential = profile.credential()
    except UnreadableTokenError:
        return None, _KEY_MISSING
    if not credential.token:
        return None, _CANNOT_MINT
    return credential, ""


def _mark_credential_problem(profile: LiveLikeProfile, problem: str) -> None:
    """Write on the row why it has no token to hand out; clear that once the cause is gone."""
    if profile.is_guest:
        return  # no row: a session's guest
    if problem:
        # A queryset update: saving the row would touch the token, and the
        # status stays as it is, since the profile itself is fine.
        LiveLikeProfile.objects.mark_credential_problem(profile, problem)
    elif profile.last_error in (_KEY_MISSING, _CANNOT_MINT):  # the key or secret is back
        LiveLikeProfile.objects.clear_last_error(profile)


def _credential_to_hand_out(profile: LiveLikeProfile) -> AccessToken:
    """The profile's access token, else the 503 saying why; the row's mark follows either way."""
    credential, problem = _credential_and_problem(profile)
    _mark_credential_problem(profile, problem)
    if credential is None:
        raise _unreadable(profile)
    return credential


def _not_ready(profile: LiveLikeProfile) -> ProfileNotReady:
    """The 503 while there is no usable profile, saying when to ask again."""
    status = profile.status
    if status == LiveLikeProfile.Status.ACTIVE:  # but no token to hand out
        problem = _credential_and_problem(profile)[1]
        _mark_credential_problem(profile, problem)  # the row says why
        return _unreadable(profile)
    if status == LiveLikeProfile.Status.FAILED and profile.next_attempt_at:
        wait = (profile.next_attempt_at - timezone.now()).total_seconds()
        return ProfileNotReady(
            _("LiveLike is unavailable; try again later."), wait=wait, status=status
        )
    if status in (LiveLikeProfile.Status.CONFLICT, LiveLikeProfile.Status.REVOKED):
        detail = _("This LiveLike profile needs an operator's attention.")
        return ProfileNotReady(detail, wait=conf.RETRY_MAX_SECONDS, status=status)
    detail = _("The LiveLike profile is being created.")
    return ProfileNotReady(detail, wait=_PENDING_RETRY_AFTER, status=status)


def _unreadable(profile: LiveLikeProfile) -> ProfileNotReady:
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
    return ProfileNotReady(detail, wait=conf.RETRY_MAX_SECONDS, status=profile.status)


# Provisioning must run outside the request's transaction (ATOMIC_REQUESTS),
# or the GET could only schedule it for after the answer.
profile_view = transaction.non_atomic_requests(ProfileView.as_view())
