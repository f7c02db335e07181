from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from demo_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("fan-zone/", views.fan_zone, name="fan_zone"),
    path("accounts/signup/", views.sign_up, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # django-livelike-profiles: GET/PATCH /livelike/profile/ for the SDK.
    path("livelike/", include("livelike_profiles.urls")),
]
