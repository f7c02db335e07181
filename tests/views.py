"""Views the middleware and API tests request."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from livelike_profiles.middleware import get_livelike_profile


def login_then_fail(request):
    """Logs the user in, then fails: under ATOMIC_REQUESTS the login rolls back."""
    from django.contrib.auth import authenticate, login

    user = authenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    login(request, user)
    raise RuntimeError("the view failed after login()")


def plain(request):
    """Uses the user, never the profile."""
    return HttpResponse(f"user {request.user.pk}")


def touch(request):
    """Uses the user and the profile."""
    profile = request.livelike_profile
    return HttpResponse(f"user {request.user.pk} profile {profile.profile_id if profile else '-'}")


@ensure_csrf_cookie
def csrf(request):
    """Sets the CSRF cookie, as any page of a site with a form does."""
    return HttpResponse("ok")


def trivial(request):
    """Uses nothing: the benchmark's baseline page."""
    return HttpResponse("ok")


async def async_touch(request):
    profile = await request.alivelike_profile()
    user = await request.auser()
    return JsonResponse({"user": str(user.pk), "profile_id": profile and profile.profile_id})


class TokenProfileView(APIView):
    """A DRF view behind token authentication only (no session)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        helper = get_livelike_profile(request)
        lazy = request.livelike_profile
        return Response(
            {
                "user": str(request.user.pk),
                "profile_id": lazy.profile_id if lazy else None,
                "helper_profile_id": helper.profile_id if helper else None,
            }
        )
