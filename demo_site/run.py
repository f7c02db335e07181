"""``make demo``: migrate, create the demo users, start the fake LiveLike and the site.

Both servers stop on Ctrl-C. Run as ``python -m demo_site.run`` from the
repository root (the Makefile does, after fetching the LiveLike SDK with npm).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from livelike_profiles.fake import DEMO_CLIENT_SECRET

ROOT = Path(__file__).resolve().parent.parent
# Where `make sdk` copies the official SDK's browser bundle (views.SDK_STATIC_PATH).
SDK_BUNDLE = ROOT / "demo_site" / "static" / "vendor" / "livelike-javascript.umd.js"
DEMO_USERS = [("alice", "alice-demo-pw"), ("bob", "bob-demo-pw")]
ADMIN = ("admin", "admin-demo-pw")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def prepare_database(env: dict[str, str]) -> None:
    """Migrate the demo's database and create its users (the end-to-end tests do it too).

    Profile rows of an earlier run are deleted: the fake LiveLike started next
    holds no profile, so those rows would name profiles and tokens it does not know.
    """
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], check=True, env=env, cwd=ROOT)
    subprocess.run([*manage, "demo_users", "--forget-profiles"], check=True, env=env, cwd=ROOT)


def fake_command(port: int) -> list[str]:
    """The fake LiveLike as the demo's settings expect it: same client id, admin token, secret.

    The secret is the public demo value the settings sign minted tokens with
    (``LIVELIKE["CLIENT_SECRET"]``); the fake refuses tokens signed with another.
    """
    return [
        *(sys.executable, "-m", "livelike_profiles.fake", "--port", str(port)),
        *("--client-id", "demo", "--admin-token", "demo-admin-token"),
        *("--client-secret", DEMO_CLIENT_SECRET),
    ]


def _describe_tokens() -> str:
    """How the demo's profiles get their access tokens, as its settings say."""
    from demo_site import settings  # reads DEMO_ACCESS_TOKENS and DEMO_TOKEN_TTL
    from livelike_profiles.conf import DEFAULTS

    mode = settings.LIVELIKE["ACCESS_TOKENS"]
    if mode != "client-generated":
        return f"{mode}, issued by LiveLike and kept encrypted; unset DEMO_ACCESS_TOKENS to mint"
    ttl = settings.LIVELIKE.get("TOKEN_TTL", DEFAULTS["TOKEN_TTL"])
    lifetime = "no expiry" if ttl is None else f"valid {ttl} s"
    return f"{mode}, minted by the site ({lifetime}); DEMO_ACCESS_TOKENS=stored to store them"


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="port of the demo site")
    parser.add_argument("--fake-port", type=int, default=8765, help="port of the fake LiveLike")
    args = parser.parse_args(argv)
    # Ctrl-C, and a plain kill, stop both servers even where the shell started
    # us with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    for port in (args.port, args.fake_port):
        if not _port_free(port):
            print(f"Port {port} is in use: free it or pass DEMO_PORT=/FAKE_PORT= to make.")
            return 1

    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "demo_site.settings"
    env["DEMO_LIVELIKE_URL"] = f"http://127.0.0.1:{args.fake_port}/api/v1/"
    prepare_database(env)

    fake = subprocess.Popen(
        fake_command(args.fake_port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    # The fake prints one line once it is listening: wait for it, not a timer.
    print(fake.stdout.readline().rstrip())
    site = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{args.port}", "--noreload"],
        cwd=ROOT,
        env=env,
    )
    print()
    print(f"  Demo site:  http://127.0.0.1:{args.port}/")
    print(f"  Fan zone:   http://127.0.0.1:{args.port}/fan-zone/  (as a guest, or log in)")
    print(f"  Admin:      http://127.0.0.1:{args.port}/admin/  ({ADMIN[0]} / {ADMIN[1]})")
    for username, password in DEMO_USERS:
        print(f"  Demo user:  {username} / {password}")
    print(f"  Tokens:     {_describe_tokens()}")
    if not SDK_BUNDLE.exists():
        print()
        print("  The LiveLike JavaScript SDK is missing (npm was not found, or `npm ci` failed):")
        print("  everything works but the fan zone's SDK panel, which says why it is empty.")
        print("  Install Node.js and npm, then run `make demo` again.")
    print()
    print("  Ctrl-C stops both servers.")
    print(flush=True)
    try:
        site.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in (site, fake):
            if process.poll() is None:
                process.terminate()
        for process in (site, fake):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    print("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
