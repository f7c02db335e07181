"""The demo's pages: home, sign up, and the fan zone where the LiveLike SDK runs."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from demo_site.run import ADMIN, DEMO_USERS

#: Where ``make demo`` copies the official SDK's browser bundle (npm's @livelike/javascript).
SDK_STATIC_PATH = "vendor/livelike-javascript.umd.js"


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html", {"demo_users": DEMO_USERS, "admin_user": ADMIN})


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    """Create an account and log it in; logging in provisions its LiveLike profile."""
    if request.user.is_authenticated:
        return redirect("fan_zone")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save())
        return redirect("fan_zone")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def fan_zone(request: HttpRequest) -> HttpResponse:
    """The page that hands the user's LiveLike credentials to the official SDK.

    The token never enters this HTML: the page's script asks the API for it.
    """
    return render(
        request,
        "demo/fan_zone.html",
        {"sdk_path": SDK_STATIC_PATH, "sdk_installed": finders.find(SDK_STATIC_PATH) is not None},
    )
