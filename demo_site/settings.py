"""Settings of the demo site: SQLite, the admin, and the app talking to the fake LiveLike.

What a project adds to use the app is marked "django-livelike-profiles" below.
Not for production: the secret key and DEBUG are for a local demo only.
"""

import os
from pathlib import Path

from livelike_profiles.fake import DEMO_CLIENT_SECRET

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DEMO_SECRET_KEY", "demo-only-secret-key-change-me")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "livelike_profiles",
    "demo_site",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # django-livelike-profiles: after AuthenticationMiddleware (check E011 says so otherwise).
    "livelike_profiles.middleware.LiveLikeProfileMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "demo_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "demo_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # django-livelike-profiles: LIVELIKE_CLIENT_ID, LIVELIKE_API_URL, livelike_profile.
                "livelike_profiles.context_processors.livelike",
            ]
        },
    }
]
WSGI_APPLICATION = "demo_site.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "demo.sqlite3")),
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}
if os.environ.get("DEMO_DATABASE_URL"):
    # The demo on a server database instead (PostgreSQL, MariaDB/MySQL): CI runs
    # manage.py check and migrate on MariaDB this way.
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DEMO_DATABASE_URL"])}
if os.environ.get("DEMO_FAST_PASSWORD_HASHING"):
    # The end-to-end tests sign in a dozen times; Django's real hasher costs a second each.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "fan_zone"
LOGOUT_REDIRECT_URL = "home"

# The profile API authenticates the browser by its session (PATCH then needs the
# X-CSRFToken header, which the fan zone's script sends).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
}

# django-livelike-profiles: the fake LiveLike service that `make demo` starts
# (python -m livelike_profiles.fake); a real project sets its own client id,
# admin token and client secret (server side only, like SECRET_KEY) and leaves
# API_URL at its default.
#
# DEMO_ACCESS_TOKENS chooses how profiles get their access tokens:
# "client-generated" (the default, the setup we recommend) has the site sign
# them with the client secret; "stored" keeps the tokens LiveLike issues,
# encrypted. The demo sets CLIENT_SECRET either way, to the secret the fake
# started by run.py verifies: in "stored" mode it recovers a profile whose
# creation answer was lost, and keeps usable the rows an earlier run in
# "client-generated" mode made without a stored token.
# DEMO_TOKEN_TTL: seconds a minted token lives ("none": no expiry; unset: the
# app's default, a day). Any other value is passed on for `manage.py check`
# to report.
LIVELIKE = {
    "CLIENT_ID": "demo",
    "API_URL": os.environ.get("DEMO_LIVELIKE_URL", "http://127.0.0.1:8765/api/v1/"),
    "API_TOKEN": "demo-admin-token",
    "ACCESS_TOKENS": os.environ.get("DEMO_ACCESS_TOKENS", "client-generated"),
    "CLIENT_SECRET": DEMO_CLIENT_SECRET,
    # A local fake answers at once: after a failure, try again within a second
    # (the default, 5 s doubling, suits a real LiveLike outage).
    "RETRY_BASE_SECONDS": 1,
    # Each user's LiveLike profile on their page of the admin.
    "USER_ADMIN": True,
    # Guest profiles: an anonymous visitor of the fan zone gets a LiveLike
    # profile kept in their session (the API's GET makes it, "guest": true in
    # its answers), and may change its nickname. Signing up, or logging in to
    # an account with no profile yet, keeps it: same profile id, nickname and
    # points. Logging in to an account that has a profile keeps that one, and
    # the guest is abandoned. GUEST_THROTTLE_RATE stays at the app's default.
    "GUEST_PROFILES": True,
}
if "DEMO_TOKEN_TTL" in os.environ:
    _ttl = os.environ["DEMO_TOKEN_TTL"].strip()
    LIVELIKE["TOKEN_TTL"] = (
        None if _ttl.lower() == "none" else int(_ttl) if _ttl.isdigit() else _ttl
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"livelike_profiles": {"handlers": ["console"], "level": "INFO"}},
}
