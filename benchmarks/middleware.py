"""What LiveLikeProfileMiddleware costs a request that does not use the profile.

    .venv/bin/python benchmarks/middleware.py [--rounds 20] [--requests 1000]

Runs Django's WSGI handler in-process, once built with the middleware and once
without, alternating rounds of the same trivial view so that both see the same
machine state, and prints requests per second and their ratio (the goal is at
least 0.97). Then a table of SQL queries and remote calls per request type.
Uses a throw-away database (SQLite, or PostgreSQL with DATABASE_URL).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import setup_django, throwaway_database

OURS = "livelike_profiles.middleware.LiveLikeProfileMiddleware"


def _handler(with_middleware: bool):
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    middleware = [m for m in settings.MIDDLEWARE if with_middleware or m != OURS]
    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()  # loads its middleware chain now


def _environ(path: str, cookie: str = "") -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "HTTP_COOKIE": cookie,
    }


def _rate(handler, path: str, cookie: str, count: int) -> float:
    def start_response(status, headers):
        assert status.startswith("200"), status

    started = time.perf_counter()
    for _ in range(count):
        response = handler(_environ(path, cookie), start_response)
        response.close()
    return count / (time.perf_counter() - started)


def measure_throughput(rounds: int, requests: int, cookie: str) -> None:
    with_mw, without_mw = _handler(True), _handler(False)
    print(f"\n### Requests per second, {rounds} alternating rounds of {requests} requests\n")
    print("| view | with middleware (median req/s) | without (median req/s) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, path, jar in (
        ("trivial view, anonymous", "/trivial/", ""),
        ("view using request.user, logged in", "/plain/", cookie),
    ):
        rates: dict[bool, list[float]] = {True: [], False: []}
        _rate(with_mw, path, jar, requests // 10)  # warm up both
        _rate(without_mw, path, jar, requests // 10)
        for round_ in range(rounds):
            # Alternate which goes first, so neither always runs on a warmer cache.
            order = (True, False) if round_ % 2 == 0 else (False, True)
            for flag in order:
                rates[flag].append(_rate(with_mw if flag else without_mw, path, jar, requests))
        a, b = statistics.median(rates[True]), statistics.median(rates[False])
        print(f"| {label} | {a:,.0f} | {b:,.0f} | {a / b:.3f} |")


def measure_queries(fake) -> None:
    import json

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from livelike_profiles.livelike.client import get_client
    from tests.factories import make_user

    fresh = make_user(900)
    provisioned = make_user(901)
    from livelike_profiles.provisioning import ensure_profile

    ensure_profile(provisioned)
    anonymous, fresh_client, client = Client(), Client(), Client()
    base = settings.LIVELIKE
    settings.LIVELIKE = {**base, "PROVISION_ON_LOGIN": False}  # provisioned on first use
    fresh_client.force_login(fresh)
    settings.LIVELIKE = base
    client.force_login(provisioned)
    # Steady state: the application resource (profile_url) is discovered once
    # per process and APPLICATION_CACHE_SECONDS; do that before measuring.
    get_client().profile_url()

    rows = [
        ("anonymous, trivial view", anonymous, "get", "/trivial/", None),
        ("anonymous, view touching the profile", anonymous, "get", "/touch/", None),
        ("logged in, view not touching it", client, "get", "/plain/", None),
        ("logged in, view touching it", client, "get", "/touch/", None),
        ("logged in, first touch (provisions)", fresh_client, "get", "/touch/", None),
        ("API GET /livelike/profile/", client, "get", "/livelike/profile/", None),
        ("API PATCH /livelike/profile/", client, "patch", "/livelike/profile/", {"nickname": "x"}),
    ]
    print("\n### Queries and remote calls per request\n")
    print("| request | SQL queries | remote calls |")
    print("| --- | ---: | ---: |")
    for label, who, method, path, body in rows:
        before = len(fake.calls)
        kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body else {}
        with CaptureQueriesContext(connection) as captured:
            response = getattr(who, method)(path, **kwargs)
        assert response.status_code == 200, (label, response.status_code)
        queries = [q for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
        print(f"| {label} | {len(queries)} | {len(fake.calls) - before} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()

    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from livelike_profiles.fake import FakeLiveLike
    from livelike_profiles.provisioning import ensure_profile
    from tests.factories import make_user

    settings.DEBUG_PROPAGATE_EXCEPTIONS = True  # a failing request stops the benchmark loudly
    with throwaway_database("middleware"), FakeLiveLike(client_id="bench") as fake:
        settings.LIVELIKE = fake.settings(THROTTLE_RATE=None)
        user = make_user(1)
        ensure_profile(user)
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        print(f"Database: {connection.vendor}; Python {sys.version.split()[0]}")
        measure_throughput(args.rounds, args.requests, f"{settings.SESSION_COOKIE_NAME}={session}")
        measure_queries(fake)
    return 0


if __name__ == "__main__":
    sys.exit(main())
