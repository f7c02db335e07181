"""The client against the fake LiveLike over real sockets: every call and every error class."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import types
import zlib
from collections.abc import Callable, Iterator

import pytest
import requests

from livelike_profiles.exceptions import (
    LiveLikeBadResponse,
    LiveLikeConfigurationError,
    LiveLikeConflict,
    LiveLikeError,
    LiveLikeRateLimited,
    LiveLikeRejected,
    LiveLikeTokenRejected,
    LiveLikeUnavailable,
)
from livelike_profiles.fake import FakeLiveLike
from livelike_profiles.livelike.bodies import read_body
from livelike_profiles.livelike.client import MAX_ANSWER_BYTES, LiveLikeClient

ADMIN = "live-admin-token"


@pytest.fixture
def fake():
    with FakeLiveLike(client_id="live", admin_token=ADMIN) as fake:
        yield fake


@pytest.fixture
def client(fake) -> LiveLikeClient:
    return LiveLikeClient(api_url=fake.url, client_id="live", api_token=ADMIN, timeout=2)


def assert_no_token(error: LiveLikeError, *tokens: str) -> None:
    for token in (ADMIN, *tokens):
        assert token not in str(error) and token not in repr(error)


def test_discovers_profile_url_from_the_application(client, fake):
    assert client.profile_url() == f"{fake.url}applications/live/profile/"


def test_create_read_update_own_profile(client, fake):
    created = client.create_profile(nickname="Ada")
    issued = fake.profile(created.id)
    assert (created.nickname, created.access_token) == ("Ada", issued.access_token)

    own = client.get_own_profile(created.access_token)
    assert (own.id, own.nickname, own.access_token) == (created.id, "Ada", "")

    updated = client.update_own_profile(created.access_token, nickname="Grace")
    assert updated.nickname == "Grace" == fake.profile(created.id).nickname


def test_create_and_get_by_custom_id(client, fake):
    created = client.create_profile_by_custom_id("cid-1", nickname="Ada")
    assert created.custom_id == "cid-1"
    found = client.get_profile_by_custom_id("cid-1")
    # As LiveLike's reference shows: the lookup answers the profile, not its token.
    assert (found.id, found.access_token) == (created.id, "")
    fake.lookup_includes_token = True  # a deployment that does include it
    assert client.get_profile_by_custom_id("cid-1").access_token == created.access_token
    assert fake.create_count == 1


def test_conflict_on_a_taken_custom_id(client, fake):
    client.create_profile_by_custom_id("cid-1")
    with pytest.raises(LiveLikeConflict) as caught:
        client.create_profile_by_custom_id("cid-1")
    assert caught.value.status_code == 409 and "already exists" in str(caught.value)
    assert fake.create_count == 1


def test_lookup_of_unknown_custom_id_is_rejected(client):
    with pytest.raises(LiveLikeRejected) as caught:
        client.get_profile_by_custom_id("nobody")
    assert caught.value.status_code == 404


def test_lookup_with_a_wrong_admin_token_is_rejected_but_says_nothing_of_profile_tokens(fake):
    client = LiveLikeClient(api_url=fake.url, client_id="live", api_token="wrong", timeout=2)
    with pytest.raises(LiveLikeRejected) as caught:
        client.get_profile_by_custom_id("cid-1")
    assert caught.value.status_code == 401
    assert not isinstance(caught.value, LiveLikeTokenRejected)


def test_lookup_without_admin_token_is_a_configuration_error(fake):
    client = LiveLikeClient(api_url=fake.url, client_id="live", api_token="", timeout=2)
    with pytest.raises(LiveLikeConfigurationError):
        client.get_profile_by_custom_id("cid-1")


def test_unknown_client_id_is_rejected(fake):
    client = LiveLikeClient(api_url=fake.url, client_id="someone-else", timeout=2)
    with pytest.raises(LiveLikeRejected) as caught:
        client.create_profile()
    assert caught.value.status_code == 404
    # What operators read (last_error, the logs): the settings to check, by name.
    assert caught.value.summary().endswith(
        f"(no application 'someone-else' at {fake.url}: check "
        'LIVELIKE["CLIENT_ID"] and LIVELIKE["API_URL"])'
    )


def test_connection_refused_is_unavailable(fake):
    client = LiveLikeClient(api_url=fake.url, client_id="live", timeout=2)
    fake.stop()
    with pytest.raises(LiveLikeUnavailable) as caught:
        client.create_profile()
    assert caught.value.status_code is None


def test_timeout_is_unavailable(client, fake):
    client.profile_url()  # discovered before the fake slows down
    fake.latency = 1.0
    client.timeout = 0.2
    with pytest.raises(LiveLikeUnavailable, match=r"no answer within 0\.2s"):
        client.create_profile()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable(client, fake, status):
    fake.fail_next_creates(1, status=status, body="<html>down</html>")
    with pytest.raises(LiveLikeUnavailable) as caught:
        client.create_profile()
    assert caught.value.status_code == status
    assert fake.create_count == 0


def test_429_is_rate_limited_with_retry_after(client, fake):
    client.profile_url()
    fake.rate_limit_next(1, retry_after=42)
    with pytest.raises(LiveLikeRateLimited) as caught:
        client.create_profile()
    assert caught.value.retry_after == 42


def test_invalid_nickname_is_rejected_with_field_errors(client):
    created = client.create_profile()
    with pytest.raises(LiveLikeRejected) as caught:
        client.update_own_profile(created.access_token, nickname="x" * 51)
    assert caught.value.status_code == 400
    assert "nickname" in caught.value.errors
    assert_no_token(caught.value, created.access_token)


def test_revoked_token_is_token_rejected(client, fake):
    created = client.create_profile()
    fake.revoke(created.id)
    with pytest.raises(LiveLikeTokenRejected) as caught:
        client.get_own_profile(created.access_token)
    assert caught.value.status_code == 401
    assert_no_token(caught.value, created.access_token)


def test_malformed_answer_is_bad_response(client, fake):
    client.profile_url()
    fake.malformed_next(1, body="<html>oops</html>", status=200)
    with pytest.raises(LiveLikeBadResponse) as caught:
        client.create_profile()
    assert "<html>" not in str(caught.value)


def test_lost_answer_times_out_but_the_profile_exists(client, fake):
    client.profile_url()
    client.timeout = 0.3
    fake.lose_next_create_answers(1, delay=10)
    with pytest.raises(LiveLikeUnavailable):
        client.create_profile_by_custom_id("cid-lost")
    assert fake.create_count == 1
    fake.release_held()
    client.timeout = 2
    assert client.get_profile_by_custom_id("cid-lost").id == fake.profiles[0].id


def test_one_pooled_connection_serves_sequential_calls(client, fake):
    for _ in range(5):
        client.create_profile()
    pools = client.session.get_adapter(fake.url).poolmanager.pools
    opened = [pools[key].num_connections for key in pools.keys()]  # noqa: SIM118 - not a dict
    assert opened == [1]  # discovery and five creates over one kept-alive socket
    assert fake.create_count == 5


def test_delete_profile_then_it_is_gone(client, fake):
    created = client.create_profile_by_custom_id("cid-1")

    assert client.delete_profile(created.id) is True
    assert client.delete_profile(created.id) is False  # a repeat: nothing left to delete

    assert [p.id for p in fake.deleted] == [created.id]
    assert fake.profiles == []
    with pytest.raises(LiveLikeTokenRejected):
        client.get_own_profile(created.access_token)
    with pytest.raises(LiveLikeRejected) as caught:
        client.get_profile_by_custom_id("cid-1")
    assert caught.value.status_code == 404
    assert fake.count_calls("DELETE", path_contains=f"/profiles/{created.id}/") == 2


def test_delete_profile_faults(client, fake):
    created = client.create_profile()
    fake.fail_next_deletes(1, status=503, body="<html>down</html>")
    with pytest.raises(LiveLikeUnavailable) as caught:
        client.delete_profile(created.id)
    assert caught.value.status_code == 503
    fake.rate_limit_next(1, retry_after=42)
    with pytest.raises(LiveLikeRateLimited) as limited:
        client.delete_profile(created.id)
    assert limited.value.retry_after == 42
    assert fake.deleted == []
    assert client.delete_profile(created.id) is True


def test_delete_profile_timeout_is_unavailable(client, fake):
    fake.latency = 1.0
    client.timeout = 0.2
    with pytest.raises(LiveLikeUnavailable, match=r"no answer within 0\.2s"):
        client.delete_profile("p-1")


@pytest.mark.parametrize("api_token", ["wrong", "profile"])
def test_delete_profile_refused_to_a_token_that_is_not_the_admin_one(client, fake, api_token):
    created = client.create_profile()
    token = created.access_token if api_token == "profile" else api_token
    other = LiveLikeClient(api_url=fake.url, client_id="live", api_token=token, timeout=2)
    with pytest.raises(LiveLikeRejected) as caught:
        other.delete_profile(created.id)
    assert caught.value.status_code == (403 if api_token == "profile" else 401)
    assert not isinstance(caught.value, LiveLikeTokenRejected)
    assert_no_token(caught.value, token)
    assert fake.deleted == [] and len(fake.profiles) == 1


# -- answers that arrive too slowly, are cut short or too big (a raw socket server) --


@pytest.fixture
def answering() -> Iterator[Callable[..., str]]:
    """Start a one-connection HTTP server answering ``body``; returns its API URL.

    ``pause``: seconds between the body's bytes (a body trickling in: the
    behaviour under test, not synchronisation); ``length``: the
    ``Content-Length`` announced, if not the body's; ``hold``: keep the
    connection open, silent, once the body is sent. Stopped at teardown.
    """
    stop = threading.Event()
    threads = []

    def start(
        body: bytes,
        pause: float = 0.0,
        length: int | None = None,
        hold: bool = False,
        encoding: str = "",
    ) -> str:
        listener = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            with listener:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)  # the request (small, one read)
                    head = (
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body) if length is None else length}\r\n"
                        + (f"Content-Encoding: {encoding}\r\n" if encoding else "")
                        + "\r\n"
                    )
                    try:
                        conn.sendall(head.encode())
                        if not pause:
                            conn.sendall(body)
                        for byte in body if pause else b"":
                            if stop.wait(pause):
                                return
                            conn.sendall(bytes([byte]))
                    except OSError:
                        return  # the client hung up: what it should do
                    if hold:
                        stop.wait(10)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}/api/"

    yield start
    stop.set()
    for thread in threads:
        thread.join(5)


def test_an_answer_trickling_in_is_cut_off_after_timeout(answering):
    # Each byte arrives well within the timeout, so requests alone would wait for all
    # 200 of them (10 s): a login, and a claim's lease, held for as long as it lasts.
    body = json.dumps({"profile_url": "x" * 180}).encode()
    client = LiveLikeClient(api_url=answering(body, pause=0.05), client_id="live", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LiveLikeUnavailable, match=r"no answer within 0\.3s"):
        client.get_application()
    assert time.monotonic() - started < 2.0  # the headers, then 0.3 s of body (not 10 s)


def test_a_body_stalled_past_the_timeout_is_unavailable(answering):
    # Content-Length promises more than ever comes, and the connection stays open.
    url = answering(b"{", length=100, hold=True)
    client = LiveLikeClient(api_url=url, client_id="live", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LiveLikeUnavailable, match=r"no answer within 0\.3s") as caught:
        client.get_application()
    assert caught.value.status_code is None
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("pause", [0.0, 0.05], ids=["at once", "trickling"])
def test_an_answer_cut_short_is_unavailable(answering, pause):
    # The server hangs up 10 bytes into a body it said was 100 bytes long.
    url = answering(b'{"profile_', pause=pause, length=100)
    client = LiveLikeClient(api_url=url, client_id="live", timeout=2)
    with pytest.raises(LiveLikeUnavailable) as caught:
        client.get_application()
    assert caught.value.status_code is None


def test_an_answer_too_big_to_be_livelikes_is_refused(answering):
    body = json.dumps({"profile_url": "x" * (MAX_ANSWER_BYTES + 10)}).encode()
    client = LiveLikeClient(api_url=answering(body), client_id="live", timeout=5)
    with pytest.raises(LiveLikeBadResponse, match="more than 1,048,576 bytes"):
        client.get_application()


def test_an_answer_of_a_normal_size_is_read_whole(answering):
    url = answering(json.dumps({"profile_url": "https://x.test/p/", "pad": "y" * 300_000}).encode())
    client = LiveLikeClient(api_url=url, client_id="live", timeout=5)
    assert client.profile_url() == "https://x.test/p/"


APPLICATION = json.dumps({"profile_url": "https://x.test/p/"}).encode()


@pytest.mark.parametrize(
    "encoding, body",
    [
        ("gzip", gzip.compress(APPLICATION)),
        ("deflate", zlib.compress(APPLICATION)),
        ("deflate", zlib.compress(APPLICATION)[2:-4]),  # raw deflate, as some servers send
    ],
    ids=["gzip", "deflate", "raw deflate"],
)
def test_a_compressed_answer_is_decoded(answering, encoding, body):
    client = LiveLikeClient(api_url=answering(body, encoding=encoding), client_id="live")
    assert client.profile_url() == "https://x.test/p/"


def test_a_compressed_answer_that_decodes_to_nothing_for_long_is_cut_off(answering):
    # A gzip header whose comment field trickles in: bytes arrive, output never does.
    # Decoding while reading would wait for output past any TIMEOUT.
    header = b"\x1f\x8b\x08\x10\x00\x00\x00\x00\x00\xff"  # FCOMMENT set
    body = header + b"c" * 200 + b"\x00" + zlib.compress(APPLICATION)[2:-4]
    url = answering(body, pause=0.02, encoding="gzip")
    client = LiveLikeClient(api_url=url, client_id="live", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LiveLikeUnavailable, match=r"no answer within 0\.3s"):
        client.get_application()
    assert time.monotonic() - started < 2.0  # not the 4 s the comment takes


def test_a_compressed_answer_over_the_cap_once_decoded_is_refused(answering):
    bomb = gzip.compress(b"{" + b" " * (MAX_ANSWER_BYTES + 10) + b"}")  # about 1 kB
    client = LiveLikeClient(api_url=answering(bomb, encoding="gzip"), client_id="live")
    with pytest.raises(LiveLikeBadResponse, match="more than 1,048,576 bytes"):
        client.get_application()


@pytest.mark.parametrize("encoding, body", [("gzip", b"not gzip"), ("br", b"x")])
def test_an_answer_that_cannot_be_decoded_is_a_bad_response(answering, encoding, body):
    client = LiveLikeClient(api_url=answering(body, encoding=encoding), client_id="live")
    with pytest.raises(LiveLikeBadResponse):
        client.get_application()


def test_the_socket_is_left_alone_once_the_answer_is_read():
    # read1 hands the connection back to the pool with the last bytes: the pool
    # may close it (full) or give it to another request. Setting a timeout on
    # it then raised OSError (EBADF) for an answer that had arrived whole.
    class Socket:
        closed = False

        def settimeout(self, seconds):
            if self.closed:
                raise OSError(9, "Bad file descriptor")

    class Raw:
        def __init__(self):
            self.sock = Socket()
            self.connection = types.SimpleNamespace(sock=self.sock)
            self.left = [APPLICATION]

        def read1(self, amount, decode_content):
            if not self.left:
                return b""
            self.connection, self.sock.closed = None, True  # released, then closed
            return self.left.pop()

    response = requests.Response()
    response.raw = Raw()
    read_body(response, 5.0, method="GET", url="https://x.test/")
    assert response.json() == {"profile_url": "https://x.test/p/"}
