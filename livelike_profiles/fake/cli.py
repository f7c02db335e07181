"""``python -m livelike_profiles.fake``: serve a fake LiveLike until Ctrl-C (``--help``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .service import DEFAULT_ADMIN_TOKEN, FakeLiveLike
from .tokens import DEMO_CLIENT_SECRET, MIN_CLIENT_SECRET_BYTES


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a fake LiveLike from the command line until Ctrl-C (or SIGTERM)."""
    parser = argparse.ArgumentParser(
        prog="python -m livelike_profiles.fake",
        description="Serve a fake LiveLike profile API.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,  # every option's default
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on")
    parser.add_argument(
        "--client-id", default="demo", help="the application's client id (iss of minted tokens)"
    )
    parser.add_argument(
        "--admin-token",
        default=DEFAULT_ADMIN_TOKEN,
        help="token the admin lookup by custom id and the delete accept",
    )
    parser.add_argument(
        "--client-secret",
        default=DEMO_CLIENT_SECRET,
        help="secret that client-generated (JWT, HS256) access tokens must be signed with; "
        f"at least {MIN_CLIENT_SECRET_BYTES} bytes (the default is a public demo value)",
    )
    parser.add_argument(
        "--lookup-includes-token",
        action="store_true",
        help="answer the admin lookup by custom id with the profile's access_token (LiveLike's "
        "reference answers without it; this fake did before)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="milliseconds added before every answer"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print one line per request (never a token)"
    )
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must be >= 0")
    if len(args.client_secret.encode()) < MIN_CLIENT_SECRET_BYTES:
        parser.error(f"--client-secret must be at least {MIN_CLIENT_SECRET_BYTES} bytes")
    fake = FakeLiveLike(
        args.client_id,
        args.admin_token,
        host=args.host,
        port=args.port,
        latency=args.latency_ms / 1000,
        verbose=args.verbose,
        client_secret=args.client_secret,
        lookup_includes_token=args.lookup_includes_token,
    )
    try:
        fake.start()
    except OSError as err:
        print(f"Cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return 1
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C stops it even where it was started with SIGINT ignored (a background
        # job of a non-interactive shell, nohup, CI), which Python then leaves ignored;
        # process managers stop with SIGTERM: shut down as cleanly as on Ctrl-C.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # Inside the try: a Ctrl-C sent as soon as this line is read may land in print().
        print(
            f"Fake LiveLike serving {fake.url} for client id {args.client_id!r} (Ctrl-C to stop)",
            flush=True,
        )
        threading.Event().wait()  # until Ctrl-C or SIGTERM raises KeyboardInterrupt here
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0
