"""The package as a user gets it: build, check, install the wheel elsewhere, and use it there.

    .venv/bin/python .ci/wheel_check.py        (or: make wheel-check)

Copies the repository's files to a temporary directory and builds there the
sdist, then the wheel from that sdist (``python -m build``, so a file the
sdist forgets fails the build); runs ``twine check --strict`` on both; makes
sure the wheel holds what an installed app needs (every migration,
``py.typed``, the fake and its ``__main__``, the admin's templates); then
installs the wheel (its dependencies from the package index) into a fresh
virtual environment outside the repository and, from a directory outside it
too, with a minimal site of its own, runs ``django-admin check --fail-level
WARNING``, ``django-admin migrate``, ``python -m livelike_profiles.fake
--help``, and one login against the fake LiveLike (started from the wheel)
that must leave the user with an active profile the API hands out. Exits
non-zero at the first failure.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = """
import os

SECRET_KEY = "wheel-check-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
ROOT_URLCONF = "smoke_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "livelike_profiles",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "livelike_profiles.middleware.LiveLikeProfileMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(os.path.dirname(__file__), "db.sqlite3"),
    }
}
LIVELIKE = {
    "CLIENT_ID": "smoke",
    "API_URL": os.environ.get("SMOKE_LIVELIKE_URL", "http://127.0.0.1:9/api/v1/"),
    "API_TOKEN": "smoke-admin-token",
}
"""

URLS = """
from django.urls import include, path

urlpatterns = [path("livelike/", include("livelike_profiles.urls"))]
"""

LOGIN = """
import django

django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment

from livelike_profiles.models import LiveLikeProfile

setup_test_environment()
get_user_model().objects.create_user("fan", password="pw")
client = Client()
assert client.login(username="fan", password="pw"), "the login failed"
row = LiveLikeProfile.objects.get(user__username="fan")
assert row.is_active and row.profile_id, f"no active profile after the login: {row.status}"
answer = client.get("/livelike/profile/")
assert answer.status_code == 200, answer.status_code
assert answer.json()["profile_id"] == row.profile_id and answer.json()["access_token"]
print("login: one profile, active, handed out by the API:", row.profile_id)
"""

# What an installed app needs from the wheel beyond its modules' names.
MUST_HOLD = (
    "livelike_profiles/py.typed",
    "livelike_profiles/fake/__main__.py",
    "livelike_profiles/templates/admin/livelike_profiles/livelikeprofile/repair_confirmation.html",
)


def run(*command: str | os.PathLike[str], **kwargs: object) -> None:
    """Run ``command``, echoing it; exit with its status if it fails."""
    print("+", " ".join(str(part) for part in command), flush=True)
    done = subprocess.run(command, **kwargs)  # type: ignore[call-overload]
    if done.returncode:
        sys.exit(done.returncode)


def check_contents(wheel: Path) -> None:
    """Every migration of the source tree, and ``MUST_HOLD``, are in ``wheel``."""
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(
        f"livelike_profiles/migrations/{path.name}"
        for path in (ROOT / "livelike_profiles" / "migrations").glob("*.py")
    )
    missing = [name for name in (*migrations, *MUST_HOLD) if name not in names]
    if missing:
        sys.exit(f"the wheel lacks: {', '.join(missing)}")
    held = "py.typed, the fake and the templates"
    print(f"wheel holds {len(migrations)} migration files, {held}", flush=True)


def source_copy(destination: Path) -> Path:
    """The repository's files (tracked, or new and not ignored) copied to ``destination``.

    Building from a copy keeps the checkout's own ``*.egg-info`` (left by an
    editable install) out of the build: setuptools would add whatever its old
    file list names to the sdist.
    """
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    """Build, check, install and smoke-test; 0 when every step passed."""
    with tempfile.TemporaryDirectory(prefix="ll_wheel_check_") as tmp:
        work = Path(tmp)
        dist = work / "dist"
        source = source_copy(work / "source")
        run(sys.executable, "-m", "build", "--outdir", dist, source)
        (wheel,) = dist.glob("*.whl")
        run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))
        check_contents(wheel)

        venv = work / "venv"
        run(sys.executable, "-m", "venv", venv)
        python, bin_dir = venv / "bin" / "python", venv / "bin"
        run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)

        site = work / "site"  # outside the repository: only the wheel can be imported
        site.mkdir()
        (site / "smoke_settings.py").write_text(textwrap.dedent(SETTINGS))
        (site / "smoke_urls.py").write_text(textwrap.dedent(URLS))
        (site / "login.py").write_text(textwrap.dedent(LOGIN))
        port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")
        }
        env |= {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": str(site),
            "DJANGO_SETTINGS_MODULE": "smoke_settings",
            "SMOKE_LIVELIKE_URL": f"http://127.0.0.1:{port}/api/v1/",
        }
        where = {"cwd": site, "env": env}
        run(python, "-c", "import livelike_profiles; print(livelike_profiles.__file__)", **where)
        run(bin_dir / "django-admin", "check", "--fail-level", "WARNING", **where)
        run(bin_dir / "django-admin", "migrate", "--noinput", "-v", "1", **where)
        run(python, "-m", "livelike_profiles.fake", "--help", stdout=subprocess.DEVNULL, **where)
        fake = subprocess.Popen(
            [python, "-m", "livelike_profiles.fake", "--port", str(port), "--client-id", "smoke"]
            + ["--admin-token", "smoke-admin-token"],
            stdout=subprocess.PIPE,
            text=True,
            **where,  # type: ignore[arg-type]
        )
        try:
            # Its ready line, or nothing after 60 s (a fake that hangs must not hang CI).
            ready = fake.stdout and select.select([fake.stdout], [], [], 60)[0]
            line = fake.stdout.readline() if ready and fake.stdout else ""
            if "serving" not in line:
                sys.exit(f"the fake LiveLike did not start: {line!r}")
            run(python, "login.py", **where)
        finally:
            fake.terminate()
            fake.wait(timeout=30)
    print("wheel check: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
