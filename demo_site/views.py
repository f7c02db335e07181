"""The demo's pages: home, sign up, and the fan zone where the LiveLike SDK runs."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from demo_site.run import ADMIN, DEMO_USERS
from livelike_profiles.conf import conf

#: Where ``make demo`` copies the official SDK's browser bundle (npm's @livelike/javascript).
SDK_STATIC_PATH = "vendor/livelike-javascript.umd.js"


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html", {"demo_users": DEMO_USERS, "admin_user": ADMIN})


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    """Create an account and log it in.

    Logging in gives the account the session's guest profile, if the visitor
    used the fan zone as a guest; otherwise it provisions a new one.
    """
    if request.user.is_authenticated:
        return redirect("fan_zone")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save())
        return redirect("fan_zone")
    return render(request, "registration/signup.html", {"form": form})


def fan_zone(request: HttpRequest) -> HttpResponse:
    """The page that hands the visitor's LiveLike credentials to the official SDK.

    A signed-in user's profile; an anonymous visitor's guest profile, kept in
    their session, where ``LIVELIKE["GUEST_PROFILES"]`` is on (without it, the
    visitor is asked to log in). The token never enters this HTML: the page's
    script asks the API for it.
    """
    if not request.user.is_authenticated and not conf.GUEST_PROFILES:
        return redirect_to_login(request.get_full_path())
    context = {
        "sdk_path": SDK_STATIC_PATH,
        "sdk_installed": finders.find(SDK_STATIC_PATH) is not None,
        "minted_tokens": conf.CLIENT_GENERATED,
    }
    return render(request, "demo/fan_zone.html", context)
