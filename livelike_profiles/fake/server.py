"""The fake's HTTP server: one thread per connection, keep-alive, CORS on every answer.

It reads a request, applies the latency, asks the endpoints for the answer, records the
call, holds the answer back when it is one to lose, and sends it.
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import urlsplit

from .routes import Endpoints
from .wire import Response, detail

MAX_BODY_BYTES = 1 << 20


class Server(ThreadingHTTPServer):
    """Serves ``endpoints`` on ``address`` until ``stopped``."""

    daemon_threads = True  # a held answer or an idle keep-alive must never block exit
    request_queue_size = 128  # bursts of 50+ concurrent clients connect at once

    def __init__(self, address: tuple[str, int], endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        #: Set by ``FakeLiveLike.stop()``: connections kept alive are then hung up on.
        self.stopped = False
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup (getfqdn): slow, and not needed."""
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Report a crash, but not a client hanging up (timeouts, stop()): routine here."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks must not pay a handshake per call
    disable_nagle_algorithm = True  # headers and body go out in two writes
    timeout = 120  # idle keep-alive connections give their thread back eventually
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.endpoints.store.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.endpoints.store.track(self.connection, alive=False)

    def version_string(self) -> str:
        return "FakeLiveLike"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: ``--verbose`` logs through ``_serve`` instead, without headers."""

    def end_headers(self) -> None:
        # Every answer, http.server's own errors included, is readable by a browser SDK.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Retry-After")
        super().end_headers()

    def _serve(self) -> None:
        if self.server.stopped:
            # Stopped while this connection was kept alive. Hang up like a server that went
            # away: SHUT_RD alone does not do it, as Linux still delivers later data.
            self.close_connection = True
            return
        endpoints = self.server.endpoints
        config, store = endpoints.config, endpoints.store
        started = time.monotonic()
        path = urlsplit(self.path).path
        body, response = self._read_body()
        latency = config.latency
        if latency:
            time.sleep(latency)
        if response is None:
            try:
                response = endpoints.dispatch(self.command, path, self.headers, body)
            except Exception:
                self.close_connection = True
                response = detail(500, "Fake LiveLike crashed; see its stderr.")
                self.server.handle_error(self.request, self.client_address)
        store.record(self.command, path, response.status)
        if response.hold is not None:
            response.hold.wait(response.hold_delay)
            store.unhold(response.hold)
        self._send(response)
        if config.verbose:
            elapsed = (time.monotonic() - started) * 1000
            print(
                f"{self.command} {path} {response.status} {elapsed:.0f} ms",
                file=sys.stderr,
                flush=True,
            )

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = _serve

    def _read_body(self) -> tuple[bytes, Response | None]:
        # The whole body must be consumed, or its leftovers would be read as the next request.
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return b"", detail(411, "Send a Content-Length, not a chunked body.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            return b"", detail(400, "Bad or too large Content-Length.")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-body: nothing to act on
            self.close_connection = True
            return b"", detail(400, "Incomplete body.")
        return body, None

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:  # the client gave up (e.g. its timeout fired during a held answer)
            self.close_connection = True
