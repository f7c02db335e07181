"""``path("livelike/", include("livelike_profiles.urls"))``: the caller's own profile."""

from django.urls import path

from .api.views import profile_view

app_name = "livelike_profiles"

urlpatterns = [
    path("profile/", profile_view, name="profile"),
]
