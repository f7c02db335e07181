"""Settings for the test suite: SQLite by default, the database in DATABASE_URL when set."""

import importlib.util
import os

import dj_database_url
import django

SECRET_KEY = "tests-only-secret-key-not-for-production"
DEBUG = False
USE_TZ = True
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework.authtoken",
    "livelike_profiles",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "livelike_profiles.middleware.LiveLikeProfileMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "livelike_profiles.context_processors.livelike",
            ]
        },
    }
]
if django.VERSION >= (6, 1):
    # Django 6.1 sends mail through MAILERS (the test run swaps in its locmem
    # backend) and warns when a site sends any without it.
    MAILERS: dict[str, dict[str, str]] = {"default": {}}

# Fast hashing: the concurrency tests log users in a thousand times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
    # TEST_DATABASE_NAME lets two runs share one server without clobbering each other.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_DATABASE_NAME", "test_livelike_profiles")
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(os.path.dirname(__file__), "db.sqlite3"),
            # A file, not memory, so threads with their own connections share
            # it; IMMEDIATE transactions and a busy timeout let writers queue
            # instead of failing with "database is locked".
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
            # TEST_DATABASE_NAME names the file too, so that runs can share a checkout.
            "TEST": {
                "NAME": os.path.join(
                    os.path.dirname(__file__),
                    os.environ.get("TEST_DATABASE_NAME", "test_db") + ".sqlite3",
                )
            },
        }
    }

# Django's tasks framework (LIVELIKE["TASK_BACKEND"]): its own from Django 6, else the backport.
_TASKS = "django.tasks" if importlib.util.find_spec("django.tasks") else "django_tasks"
TASKS = {
    "default": {"BACKEND": f"{_TASKS}.backends.immediate.ImmediateBackend"},
    # Keeps what is enqueued, runs nothing: what tests of enqueuing look at.
    "dummy": {"BACKEND": f"{_TASKS}.backends.dummy.DummyBackend"},
    # A queue in the database, worked off by db_worker processes (tests/tasks/).
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}
INSTALLED_APPS += ["django_tasks_db"]

LIVELIKE = {
    "CLIENT_ID": "test-client",
    "API_URL": "http://127.0.0.1:9/api/v1/",  # nothing listens: tests point it at a fake
    "API_TOKEN": "test-admin-token",
    "TIMEOUT": 2.0,
    # The admin tests use Django's UserAdmin with the LiveLike inline (opt-in).
    "USER_ADMIN": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"]},
}
