"""Reading an answer's body within ``TIMEOUT``, and no bigger than an answer of LiveLike's.

``requests`` bounds each wait for bytes, not the whole body: an answer
trickling in a byte at a time would hold a login (and a claim's lease) for as
long as it lasted. :func:`read_body` reads the raw bytes itself, each read
waiting no longer than what is left of the time, and decodes them afterwards,
so that a compressed stream that decodes to nothing for a while cannot hold
it either. Used by :mod:`livelike_profiles.livelike.client` on a streamed response.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import urllib3.exceptions

from ..exceptions import LiveLikeBadResponse, LiveLikeUnavailable

# LiveLike's answers are a few kilobytes: a body beyond this is not one of them, and
# reading it would only cost memory.
MAX_ANSWER_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024
# zlib's window with 32 added: a gzip or a zlib (HTTP "deflate") header, whichever it is.
_GZIP_OR_ZLIB = zlib.MAX_WBITS | 32


def read_body(response: Any, timeout: float, *, method: str, url: str) -> None:
    """Read ``response``'s body within ``timeout`` seconds; ``response.content`` is then it.

    Raises :class:`LiveLikeUnavailable` when it does not arrive in time or the
    connection breaks, :class:`LiveLikeBadResponse` for a body over
    ``MAX_ANSWER_BYTES`` (decoded or not) or one it cannot decode. Read to its
    end, the connection goes back to the pool; cut short, it is closed.
    Without urllib3 2's ``read1`` the body is read as ``requests`` does.
    """
    raw = response.raw
    if getattr(raw, "read1", None) is None:
        response.content  # noqa: B018 - reads and keeps the body
        return
    where = _Where(method, url)
    try:
        data = _read_raw(raw, time.monotonic() + timeout, timeout, where)
    except BaseException as err:
        response.close()  # mid-body: the connection cannot be reused
        if isinstance(err, urllib3.exceptions.ReadTimeoutError):
            raise where.unavailable(f"no answer within {timeout:g}s") from err
        if isinstance(err, urllib3.exceptions.HTTPError | OSError):  # cut short, reset
            raise where.unavailable(type(err).__name__) from err
        raise
    # What requests does once it has read a body itself: .content and .json() use it.
    response._content = _decoded(data, response.headers.get("Content-Encoding", ""), where)
    response._content_consumed = True


class _Where:
    """The request an answer belongs to, for the errors about it."""

    def __init__(self, method: str, url: str) -> None:
        self.method, self.url = method, url

    def unavailable(self, reason: str) -> LiveLikeUnavailable:
        return LiveLikeUnavailable(reason, method=self.method, url=self.url)

    def bad(self, reason: str) -> LiveLikeBadResponse:
        return LiveLikeBadResponse(reason, method=self.method, url=self.url)


_TOO_BIG = f"an answer of more than {MAX_ANSWER_BYTES:,} bytes"


def _read_raw(raw: Any, deadline: float, timeout: float, where: _Where) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise where.unavailable(f"no answer within {timeout:g}s")
        # Looked up each time: once the last bytes are read the connection is back in
        # the pool (another request's, or closed); urllib3 sets its timeout again then.
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(left)
        # Raw bytes: decoding as it reads would wait for output a stream may never give.
        chunk = raw.read1(_CHUNK_BYTES, decode_content=False)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise where.bad(_TOO_BIG)


def _decoded(data: bytes, encoding: str, where: _Where) -> bytes:
    """``data`` decoded from its ``Content-Encoding`` (gzip or deflate), at most the cap."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise where.bad(f"an answer in an encoding not asked for ({encoding[:20]})")
    # HTTP's "deflate" is meant to be zlib-wrapped, and is sometimes raw deflate.
    for wbits in (_GZIP_OR_ZLIB, -zlib.MAX_WBITS) if encoding == "deflate" else (_GZIP_OR_ZLIB,):
        decoder = zlib.decompressobj(wbits)
        try:
            # At most one byte over the cap: a small body can expand enormously.
            decoded = decoder.decompress(data, MAX_ANSWER_BYTES + 1)
        except zlib.error:
            continue
        if len(decoded) > MAX_ANSWER_BYTES or decoder.unconsumed_tail:
            raise where.bad(_TOO_BIG)
        if decoder.eof:  # the whole stream, not one cut short
            return decoded
    raise where.bad(f"an answer that is not valid {encoding}")
