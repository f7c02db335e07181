"""The README's code, run as the README shows it.

The installation snippets (installed apps, middleware, URLs, ``LIVELIKE``) are
pasted into a new site's settings, which must pass ``manage.py check`` and
migrate; the README's testing example then runs, unchanged, as that site's
test suite. Every other Python block must at least compile. Each runs in a
subprocess, in a directory of its own: nothing of this repository's test
settings is borrowed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)

# What the README's "..." stands for in a new project made by startproject.
STARTPROJECT_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
BEFORE_AUTH = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
AFTER_PROFILE = [
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

SITE_SETTINGS = """\
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "readme-site-secret-key-for-tests-only"
DEBUG = False
USE_TZ = True
ROOT_URLCONF = "readme_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {{
    "default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
}}
TEMPLATES = [
    {{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {{
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        }},
    }}
]
STATIC_URL = "static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def env(name):
    return os.environ[name]


# -- from the README ---------------------------------------------------------------
{installed_apps}
{middleware}
{livelike}
"""

SITE_URLS = """\
from django.contrib import admin
from django.urls import include, path

# -- from the README ---------------------------------------------------------------
{urls}
"""


def readme_blocks(language: str, section: str = "") -> list[str]:
    """The README's fenced code blocks of ``language``, in order; only under ``section`` if given.

    ``section`` is the start of a ``## `` heading; the section runs to the next one.
    """
    text = README.read_text()
    if section:
        parts = re.split(r"^(?=## )", text, flags=re.MULTILINE)
        matching = [part for part in parts if part.startswith(f"## {section}")]
        assert len(matching) == 1, f"README: {len(matching)} sections named {section!r}"
        text = matching[0]
    return [code for lang, code in FENCE.findall(text) if lang == language]


def the_block(needle: str, section: str = "Installation") -> str:
    """The one Python block of the README's ``section`` containing ``needle``."""
    found = [code for code in readme_blocks("python", section) if needle in code]
    assert len(found) == 1, f"{len(found)} Python blocks of {section!r} contain {needle!r}"
    return found[0]


def _fill(block: str, *parts: list[str]) -> str:
    """``block`` with each ``...,`` line replaced, in order, by the entries of ``parts``."""
    for entries in parts:
        block = re.sub(
            r"^(\s*)\.\.\.,\n",
            lambda m, entries=entries: "".join(f'{m.group(1)}"{e}",\n' for e in entries),
            block,
            count=1,
            flags=re.MULTILINE,
        )
    assert "..." not in block, block
    return block


@pytest.fixture(scope="module")
def readme_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project whose settings and URLs are the README's installation snippets."""
    root = tmp_path_factory.mktemp("readme_project")
    site = root / "readme_site"
    site.mkdir()
    (site / "__init__.py").write_text("")
    urls = the_block('include("livelike_profiles.urls")')
    (site / "settings.py").write_text(
        SITE_SETTINGS.format(
            installed_apps=_fill(the_block("INSTALLED_APPS"), STARTPROJECT_APPS),
            middleware=_fill(the_block("MIDDLEWARE ="), BEFORE_AUTH, AFTER_PROFILE),
            livelike=the_block("LIVELIKE = {"),
        )
    )
    (site / "urls.py").write_text(
        SITE_URLS.format(urls=urls.replace("...,", 'path("admin/", admin.site.urls),'))
    )
    return root


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A Python subprocess in the README's project: its settings, no test settings of ours."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PYTHONPATH")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="readme_site.settings",
        PYTHONPATH=str(cwd),
        LIVELIKE_CLIENT_SECRET="readme-client-secret-at-least-32-bytes-long",
        LIVELIKE_API_TOKEN="readme-admin-token",
    )
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True
    )


def test_every_python_block_of_the_readme_compiles():
    blocks = readme_blocks("python")
    assert len(blocks) >= 6
    for number, code in enumerate(blocks):
        compile(code, f"README.md python block {number}", "exec")


def test_the_installation_snippets_make_a_site_that_passes_its_checks(readme_site):
    checked = run(["-m", "django", "check", "--fail-level", "WARNING"], readme_site)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    migrated = run(["-m", "django", "migrate", "--noinput"], readme_site)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "livelike_profiles" in migrated.stdout


def test_the_readme_testing_example_passes_in_that_site(readme_site):
    example = the_block("def test_", section="The fake LiveLike service")
    (readme_site / "test_readme_example.py").write_text(example)
    tests = run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme_example.py"], readme_site
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    # Every test the README shows ran and passed: none skipped, none deselected.
    shown = len(re.findall(r"^def test_", example, re.MULTILINE))
    assert re.search(rf"\b{shown} passed\b", tests.stdout), tests.stdout
    assert "skipped" not in tests.stdout
