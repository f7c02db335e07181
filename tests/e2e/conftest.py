"""The demo site served for real, the fake LiveLike beside it, and what a browser test needs.

The demo runs as ``make demo`` runs it: ``manage.py runserver`` in its own
process with the demo's settings, on a free port, against a fresh SQLite file,
talking to an in-process :class:`FakeLiveLike` the test can inspect. The
``demo`` fixture serves it with stored access tokens (its fake is
``fake_service``), ``minting`` with tokens the site mints (the demo's
default): each starts once for the whole run, shared by every module that
uses it, so each test signs in users no other test on that server uses, and
counts at the fake only what they did. :func:`serve_demo` serves it in any
mode (``DEMO_ACCESS_TOKENS``, ``DEMO_TOKEN_TTL``).

Without Chromium, Playwright or the SDK bundle (``make sdk``) the tests are
skipped with the reason shown; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from livelike_profiles.fake import FakeLiveLike

ROOT = Path(__file__).resolve().parents[2]
SDK_BUNDLE = ROOT / "demo_site" / "static" / "vendor" / "livelike-javascript.umd.js"
ARTIFACTS = ROOT / "test-artifacts"
# What the machine's closed network and a root user need (no sandbox, no phoning home).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_SERVER_START_SECONDS = 30

_artifacts: list[Path] = []


def unavailable(reason: str) -> NoReturn:
    """Skip, with ``reason`` shown; under ``CI=true`` fail: CI must never pass by skipping."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true forbids skipping the end-to-end tests)", pytrace=False)
    pytest.skip(reason)


def record_artifact(path: Path) -> Path:
    """Remember ``path`` so the end of the run prints it."""
    _artifacts.append(path)
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _artifacts:
        terminalreporter.section("end-to-end artifacts")
        for path in _artifacts:
            terminalreporter.write_line(str(path))


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the Chromium to drive (``E2E_CHROMIUM``, else ``chromium`` on the PATH)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -r requirements.txt)")
    path = os.environ.get("E2E_CHROMIUM") or shutil.which("chromium")
    if not path:
        unavailable("Chromium is not installed (apt-get install chromium, or set E2E_CHROMIUM)")
    return path


def demo_fake() -> FakeLiveLike:
    """A fake LiveLike as the demo's settings expect it (client secret: the fake's default)."""
    return FakeLiveLike(client_id="demo", admin_token="demo-admin-token")


@pytest.fixture(scope="session")
def fake_service() -> Iterator[FakeLiveLike]:
    """The fake LiveLike of the ``demo`` fixture."""
    with demo_fake() as fake:
        yield fake


@dataclass(frozen=True)
class ProfileRow:
    profile_id: str | None  # None until learned, for a row that mints its tokens
    nickname: str
    custom_id: str
    status: str


@dataclass(frozen=True)
class DemoSite:
    url: str
    database: Path

    def profile_row(self, username: str) -> ProfileRow | None:
        """The user's ``LiveLikeProfile`` row, read straight from the site's database."""
        with closing(sqlite3.connect(self.database)) as db:
            found = db.execute(
                "SELECT p.profile_id, p.nickname, p.custom_id, p.status"
                " FROM livelike_profiles_livelikeprofile p"
                " JOIN auth_user u ON u.id = p.user_id WHERE u.username = ?",
                (username,),
            ).fetchone()
        return ProfileRow(*found) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + _SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the demo site exited with {server.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet, not waiting for a page
    pytest.fail(
        f"the demo site did not listen within {_SERVER_START_SECONDS} s:\n{log.read_text()}"
    )


@contextmanager
def serve_demo(
    fake: FakeLiveLike, workdir: Path, access_tokens: str, token_ttl: int | None = None
) -> Iterator[DemoSite]:
    """The demo site (migrated, demo users created) served by runserver on a free port.

    ``access_tokens`` and ``token_ttl`` are the demo's ``DEMO_ACCESS_TOKENS`` and
    ``DEMO_TOKEN_TTL`` (unset: the app's default TTL). ``fake`` must use the
    demo's client id, admin token and client secret (``FakeLiveLike``'s defaults
    for client secret; ``client_id="demo"``, ``admin_token="demo-admin-token"``).
    """
    from demo_site.run import prepare_database

    if not SDK_BUNDLE.exists():
        unavailable(
            "the LiveLike SDK bundle is missing: run `make sdk` (needs npm) to fetch "
            "@livelike/javascript into demo_site/static/vendor/"
        )
    database = workdir / "demo.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo_site.settings",
        "DEMO_DB": str(database),
        "DEMO_LIVELIKE_URL": fake.url,
        "DEMO_FAST_PASSWORD_HASHING": "1",
        "DEMO_ACCESS_TOKENS": access_tokens,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DEMO_TOKEN_TTL", None)
    if token_ttl is not None:
        env["DEMO_TOKEN_TTL"] = str(token_ttl)
    prepare_database(env)
    port = _free_port()
    log = workdir / "runserver.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_listening(port, server, log)
        yield DemoSite(f"http://127.0.0.1:{port}", database)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def demo(
    chromium: str, fake_service: FakeLiveLike, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoSite]:
    """The demo site with stored access tokens (the tokens LiveLike issues, kept encrypted)."""
    with serve_demo(fake_service, tmp_path_factory.mktemp("demo_site"), "stored") as site:
        yield site


@pytest.fixture(scope="session")
def minting(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoSite, FakeLiveLike]]:
    """The demo minting its tokens (the app's default TTL: a day), and its own fake LiveLike."""
    with (
        demo_fake() as fake,
        serve_demo(fake, tmp_path_factory.mktemp("minting_demo"), "client-generated") as site,
    ):
        yield site, fake
