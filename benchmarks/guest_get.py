r"""What an anonymous visitor's ``GET`` of the API costs, against a signed-in user's.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
        .venv/bin/python benchmarks/guest_get.py [--requests 300] [--rounds 3]

For each token mode (``"stored"``, ``"client-generated"``), with guest
profiles on, through Django's test client in this process against the fake
LiveLike (in this process too, with no latency): the CPU time of the request
in the calling thread (``time.thread_time()``: neither the fake's threads nor
the database server count), its SQL queries and its calls to LiveLike, for

* a user's ``GET``, their profile active (as every page of the SDK asks);
* a guest's first ``GET``, which makes the session's guest profile;
* a guest's later ``GET``, which reads it from the session.

Prints the median of ``--rounds`` passes of ``--requests`` requests each.
Works in a throw-away database (``bench_livelike_guest_get``).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import setup_django, throwaway_database

URL = "/livelike/profile/"
MODES = ("stored", "client-generated")
_USERS = itertools.count()  # a new user for each pass and mode


def measured(requests: int, get: Callable[[], object], fake) -> tuple[float, float, float]:
    """Mean CPU ms, SQL queries and LiveLike calls per ``get()``, over ``requests`` of them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    calls = len(fake.calls)
    cpu = 0.0
    with CaptureQueriesContext(connection) as queries:
        for _ in range(requests):
            started = time.thread_time()
            get()
            cpu += time.thread_time() - started
    return (
        cpu * 1000 / requests,
        len(queries) / requests,
        (len(fake.calls) - calls) / requests,
    )


def cases(requests: int, fake) -> dict[str, Callable[[], object]]:
    """The three requests, each a function making one ``GET`` that must answer 200."""
    from django.test import Client

    from tests.factories import make_user

    def ok(client: Client) -> object:
        response = client.get(URL)
        assert response.status_code == 200, response.content
        return response

    user_client = Client()
    user_client.force_login(make_user(next(_USERS)))
    ok(user_client)  # provisioned (and, minted, its id learned): what follows is a repeat
    guest_client = Client()
    ok(guest_client)
    return {
        "user, profile active": lambda: ok(user_client),
        "guest, first GET (makes it)": lambda: ok(Client()),
        "guest, later GET": lambda: ok(guest_client),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    setup_django()
    from django.conf import settings
    from django.db import connection

    from livelike_profiles.fake import FakeLiveLike

    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with throwaway_database("guest_get"), FakeLiveLike(client_id="bench") as fake:
        settings.LIVELIKE = fake.settings(
            GUEST_PROFILES=True, GUEST_THROTTLE_RATE=None, THROTTLE_RATE=None, TIMEOUT=10
        )
        for _ in range(args.rounds):
            for mode in MODES:
                settings.LIVELIKE = {**settings.LIVELIKE, "ACCESS_TOKENS": mode}
                for name, get in cases(args.requests, fake).items():
                    get()  # warm
                    results.setdefault((mode, name), []).append(measured(args.requests, get, fake))
    print(
        f"\n### One GET of the API: a guest's against a user's ({connection.vendor}, "
        f"median of {args.rounds} passes of {args.requests} requests)\n"
    )
    print("| token mode | request | CPU ms | queries | LiveLike calls |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (mode, name), runs in results.items():
        cpu = statistics.median(run[0] for run in runs)
        queries = statistics.median(run[1] for run in runs)
        calls = statistics.median(run[2] for run in runs)
        print(f"| {mode} | {name} | {cpu:.3f} | {queries:.1f} | {calls:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
