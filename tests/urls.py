from django.contrib import admin
from django.contrib.auth.views import LoginView, LogoutView
from django.urls import include, path

from tests import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(next_page="/"), name="login"),
    path("accounts/logout/", LogoutView.as_view(next_page="/"), name="logout"),
    path("livelike/", include("livelike_profiles.urls")),
    path("plain/", views.plain),
    path("touch/", views.touch),
    path("trivial/", views.trivial),
    path("csrf/", views.csrf),
    path("async-touch/", views.async_touch),
    path("drf-token/", views.TokenProfileView.as_view()),
    path("login-then-fail/", views.login_then_fail),
]
