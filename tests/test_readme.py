"""The README's code, run as the README shows it.

The quickstart's snippets (installed apps, middleware, URLs, ``LIVELIKE``) are pasted into
a new site's settings, which must pass ``manage.py check`` and migrate. The quickstart then
runs against a real fake LiveLike over real sockets: the README's command starts one, and
the credentials the snippet names must work against it; in the site, a superuser logs in at
the admin and asks the profile URL, which must answer what the README shows, with the one
profile the fake then holds. The README's testing example runs, unchanged, as that site's
test suite. Every other Python block must at least compile, and every relative link must
lead to a file of this repository. The tutorial (docs/tutorial.md) is followed too, in a
project made by ``startproject``. Each site runs in a subprocess, in a directory of its
own: nothing of this repository's test settings is borrowed.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from livelike_profiles.fake import DEMO_CLIENT_SECRET, FakeLiveLike

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```([\w+]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
QUICKSTART = "Quickstart"
# Where the quickstart's fake listens; the tests swap in a free port.
README_FAKE_ADDRESS = "127.0.0.1:8765"
STARTUP_TIMEOUT = 10.0

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
    "default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "{database}"}}
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

# -- from the README ---------------------------------------------------------------
{readme}
"""

SITE_URLS = """\
from django.contrib import admin
from django.urls import include, path

# -- from the README ---------------------------------------------------------------
{urls}
"""

# The quickstart's steps after runserver, in the README's site: log in at the admin as the
# superuser createsuperuser made, open the profile URL, ask again, and from another browser.
QUICKSTART_STEPS = """\
import json
import os

import django

django.setup()

from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()  # the test Client's host, "testserver", is allowed
call_command("migrate", interactive=False, verbosity=0)
call_command(
    "createsuperuser", interactive=False, username="admin", email="a@example.com", verbosity=0
)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
answers = []
for browser in (Client(), Client()):
    credentials = {"username": "admin", "password": os.environ["DJANGO_SUPERUSER_PASSWORD"]}
    login = browser.post("/admin/login/?next=/admin/", credentials)
    assert login.status_code == 302, login.status_code
    for _ in range(2):
        answer = browser.get("/livelike/profile/", HTTP_ACCEPT=BROWSER_ACCEPT)
        answers.append({"status": answer.status_code, "body": answer.json()})
print(json.dumps(answers))
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


def the_block(needle: str, section: str = QUICKSTART, language: str = "python") -> str:
    """The one ``language`` block of the README's ``section`` containing ``needle``."""
    found = [code for code in readme_blocks(language, section) if needle in code]
    assert len(found) == 1, f"{len(found)} {language} blocks of {section!r} contain {needle!r}"
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


def readme_livelike() -> dict[str, object]:
    """The quickstart's ``LIVELIKE`` dict, as Python reads it."""
    namespace: dict[str, object] = {}
    exec(the_block("LIVELIKE = {"), namespace)  # noqa: S102 - the README's own code
    livelike = namespace["LIVELIKE"]
    assert isinstance(livelike, dict)
    return livelike


def site_settings(database: str, fake_url: str | None = None) -> str:
    """The README site's settings; with ``fake_url``, that in the quickstart's ``API_URL``."""
    # One block: INSTALLED_APPS, MIDDLEWARE (a "..." before and after), LIVELIKE.
    readme = _fill(the_block("LIVELIKE = {"), STARTPROJECT_APPS, BEFORE_AUTH, AFTER_PROFILE)
    assert "INSTALLED_APPS = [" in readme and "MIDDLEWARE = [" in readme, readme
    if fake_url is not None:
        readme_url = f"http://{README_FAKE_ADDRESS}/api/v1/"
        assert readme.count(readme_url) == 1, readme
        readme = readme.replace(readme_url, fake_url)
    return SITE_SETTINGS.format(database=database, readme=readme)


@pytest.fixture(scope="module")
def readme_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project whose settings and URLs are the README's quickstart snippets."""
    root = tmp_path_factory.mktemp("readme_project")
    site = root / "readme_site"
    site.mkdir()
    (site / "__init__.py").write_text("")
    (site / "settings.py").write_text(site_settings("db.sqlite3"))
    urls = the_block('include("livelike_profiles.urls")')
    (site / "urls.py").write_text(
        SITE_URLS.format(urls=urls.replace("...,", 'path("admin/", admin.site.urls),'))
    )
    return root


def run(
    args: list[str], cwd: Path, settings: str = "readme_site.settings", **env: str
) -> subprocess.CompletedProcess[str]:
    """A Python subprocess in the README's project: its settings, no test settings of ours."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PYTHONPATH")
    }
    environment.update(DJANGO_SETTINGS_MODULE=settings, PYTHONPATH=str(cwd), **env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_python_block_of_the_readme_compiles():
    blocks = readme_blocks("python")
    assert len(blocks) >= 3
    for number, code in enumerate(blocks):
        compile(code, f"README.md python block {number}", "exec")


def test_every_relative_link_of_the_readme_leads_to_a_file():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    relative = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert len(relative) >= 20, relative
    missing = [link for link in relative if not (ROOT / link).exists()]
    assert not missing, missing


def test_the_quickstart_snippets_make_a_site_that_passes_its_checks(readme_site):
    checked = run(["-m", "django", "check", "--fail-level", "WARNING"], readme_site)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    migrated = run(["-m", "django", "migrate", "--noinput"], readme_site)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "livelike_profiles" in migrated.stdout


def _startup_line(process: subprocess.Popen[str]) -> str:
    """The fake's first line on stdout, printed once it listens (or "" if it exits first)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(STARTUP_TIMEOUT), "the fake printed nothing"
    return process.stdout.readline()


def _get(url: str, token: str) -> tuple[int, dict[str, object]]:
    answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    return answer.status_code, answer.json()


def test_the_quickstarts_fake_accepts_the_credentials_its_settings_name():
    """The README's command starts a fake that takes the snippet's client id and secrets."""
    command = the_block("python -m livelike_profiles.fake", language="sh").strip()
    args = shlex.split(command)
    assert args[:3] == ["python", "-m", "livelike_profiles.fake"], command
    port = args.index("--port") + 1
    assert f"127.0.0.1:{args[port]}" == README_FAKE_ADDRESS, command
    args[port] = "0"  # a free port: the start-up line names it
    livelike = readme_livelike()
    process = subprocess.Popen(
        [sys.executable, *args[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = _startup_line(process)
        found = re.search(r"serving (http://\S+/api/v1/) for client id '([^']+)'", line)
        assert found, line + (process.stderr.read() if process.poll() is not None else "")
        url, client_id = found.groups()
        assert client_id == livelike["CLIENT_ID"]
        # A token the site would sign with the snippet's CLIENT_SECRET: the fake takes it, and
        # creates the profile it names...
        minted = jwt.encode(
            {"iss": client_id, "iat": int(time.time()) - 30, "custom_profile_id": "quickstart"},
            str(livelike["CLIENT_SECRET"]),
            algorithm="HS256",
        )
        status, profile = _get(f"{url}applications/{client_id}/profile/", minted)
        assert status == 200, profile
        # ...which the snippet's API_TOKEN (the admin token) finds by its custom id.
        status, found_again = _get(
            f"{url}profile-by-custom-id/{client_id}/quickstart/", str(livelike["API_TOKEN"])
        )
        assert (status, found_again["id"]) == (200, profile["id"])
    finally:
        process.send_signal(signal.SIGTERM)  # the fake stops cleanly on SIGTERM
        process.communicate(timeout=STARTUP_TIMEOUT)
    assert process.returncode == 0


def test_the_quickstart_gives_the_logged_in_user_one_profile_at_the_fake(readme_site):
    """The quickstart end to end, against a fake LiveLike on a free port, over real sockets."""
    shown = json.loads(the_block('"profile_id"', language="json"))
    livelike = readme_livelike()
    # The fake as the quickstart's command starts it (its defaults), on a free port.
    with FakeLiveLike() as fake:
        assert {key: livelike[key] for key in ("CLIENT_ID", "CLIENT_SECRET", "API_TOKEN")} == {
            "CLIENT_ID": fake.client_id,
            "CLIENT_SECRET": fake.client_secret,
            "API_TOKEN": fake.admin_token,
        }
        (readme_site / "readme_site" / "settings_quickstart.py").write_text(
            site_settings("quickstart.sqlite3", fake_url=fake.url)
        )
        (readme_site / "quickstart_steps.py").write_text(QUICKSTART_STEPS)
        steps = run(
            ["quickstart_steps.py"],
            readme_site,
            settings="readme_site.settings_quickstart",
            DJANGO_SUPERUSER_PASSWORD="quickstart-password",
        )
        assert steps.returncode == 0, steps.stdout + steps.stderr
        answers = json.loads(steps.stdout)
        profiles, create_count = fake.profiles, fake.create_count

    assert [answer["status"] for answer in answers] == [200] * 4, answers
    first = answers[0]["body"]
    # What the README shows, with the values it shows where it shows one.
    assert first.keys() == shown.keys()
    for key, value in shown.items():
        if value != "…":
            expected = fake.url if key == "api_url" else value
            assert first[key] == expected, (key, first[key])
    # One profile at the fake, whatever the asks and browsers: the one every answer names.
    assert len(profiles) == 1 and create_count == 1
    assert {answer["body"]["profile_id"] for answer in answers} == {profiles[0].id}
    # Its token, signed with the client secret (client-generated), names that profile.
    assert livelike["ACCESS_TOKENS"] == "client-generated"
    for answer in answers:
        claims = jwt.decode(
            answer["body"]["access_token"], DEMO_CLIENT_SECRET, algorithms=["HS256"], issuer="demo"
        )
        assert claims["custom_profile_id"] == profiles[0].custom_id
        assert answer["body"]["expires_at"]


def test_the_readme_testing_example_passes_in_that_site(readme_site):
    example = the_block("def test_", section="Testing your site")
    (readme_site / "test_readme_example.py").write_text(example)
    tests = run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme_example.py"], readme_site
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    # Every test the README shows ran and passed: none skipped, none deselected.
    shown = len(re.findall(r"^def test_", example, re.MULTILINE))
    assert re.search(rf"\b{shown} passed\b", tests.stdout), tests.stdout
    assert "skipped" not in tests.stdout


def test_every_docs_page_the_package_points_to_exists():
    """Comments and docstrings say where their subject is documented: that page must exist."""
    pointers = {
        (path.relative_to(ROOT), page)
        for folder in ("livelike_profiles", "tests")
        for path in (ROOT / folder).rglob("*.py")
        for page in re.findall(r"\bdocs/[\w/.-]+\.md\b", path.read_text())
    }
    assert len(pointers) >= 20, pointers
    missing = sorted((str(path), page) for path, page in pointers if not (ROOT / page).exists())
    assert not missing, missing


# -- The tutorial ------------------------------------------------------------------------

TUTORIAL = ROOT / "docs" / "tutorial.md"

# The tutorial's steps 5 and 6 in its project: migrate, check, its user, its login, the API
# and the fan zone page.
TUTORIAL_STEPS = """\
import json

import django

django.setup()

from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()
call_command("migrate", interactive=False, verbosity=0)
call_command("check", fail_level="WARNING")
exec({create_user!r})
browser = Client()
login_page = {login_url!r}
assert browser.get(login_page).status_code == 200
credentials = {{"username": {username!r}, "password": {password!r}}}
answer = browser.post(login_page, credentials, follow=True)
fan_zone = browser.get("/")
print(json.dumps({{"status": answer.status_code, "body": answer.json(), "page": fan_zone.text}}))
"""


def tutorial_blocks(language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(TUTORIAL.read_text()) if lang == language]


def test_the_tutorial_makes_a_site_whose_page_and_api_show_one_profile(tmp_path):
    """The tutorial, step by step, in a real startproject against a fake on a free port."""
    text = TUTORIAL.read_text()
    python, pages = tutorial_blocks("python"), tutorial_blocks("html+django")
    commands = [
        line.removeprefix("$ ")
        for block in tutorial_blocks("console")
        for line in block.splitlines()
        if line.startswith("$ ")
    ]
    assert "django-admin startproject mysite" in commands
    made = run(["-m", "django", "startproject", "mysite"], tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "mysite"
    settings_file = project / "mysite" / "settings.py"
    settings = settings_file.read_text()
    for name in ("INSTALLED_APPS", "MIDDLEWARE", "TEMPLATES"):
        (block,) = [code for code in python if code.startswith(f"{name} = [")]
        settings, replaced = re.subn(rf"^{name} = \[.*?^\]\n", block, settings, flags=re.M | re.S)
        assert replaced == 1, name
    (urls,) = [code for code in python if "urlpatterns" in code]
    (project / "mysite" / "urls.py").write_text(urls)
    login_template, fan_zone = pages
    (project / "templates" / "registration").mkdir(parents=True)
    (project / "templates" / "registration" / "login.html").write_text(login_template)
    (project / "templates" / "fan_zone.html").write_text(fan_zone)
    (create_user,) = [c for c in commands if c.startswith("python manage.py shell -c ")]
    login_url = re.search(r"<http://127\.0\.0\.1:8000(/accounts/login/\S*)>", text)
    username, password = re.search(r"as\s+`(\w+)`\s+with the password\s+`([^`]+)`", text).groups()
    shown = json.loads(re.sub(r'"[^"]*…"', '"…"', tutorial_blocks("json")[0]))
    (project / "tutorial_steps.py").write_text(
        TUTORIAL_STEPS.format(
            create_user=shlex.split(create_user)[-1],
            login_url=login_url.group(1),
            username=username,
            password=password,
        )
    )
    with FakeLiveLike() as fake:
        (livelike,) = [code for code in python if "LIVELIKE = {" in code]
        readme_url = f"http://{README_FAKE_ADDRESS}/api/v1/"
        assert livelike.count(readme_url) == 1, livelike
        settings_file.write_text(settings + "\n" + livelike.replace(readme_url, fake.url))
        steps = run(["tutorial_steps.py"], project, settings="mysite.settings")
        assert steps.returncode == 0, steps.stdout + steps.stderr
        result = json.loads(steps.stdout.splitlines()[-1])
        profiles = fake.profiles

    assert result["status"] == 200, result
    answer = result["body"]
    assert answer.keys() == shown.keys()
    assert (answer["client_id"], answer["api_url"], answer["status"]) == (
        "demo",
        fake.url,
        "active",
    )
    assert [profile.id for profile in profiles] == [answer["profile_id"]]
    # The fan zone shows the site's record of that profile, and never the token.
    assert f"<code>{answer['profile_id']}</code>" in result["page"]
    assert answer["access_token"] not in result["page"]
    assert "LiveLikeJs.init(" in result["page"]
