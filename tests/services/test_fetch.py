"""One fetch against real loopback servers: caching, redirects, throttling, caps and failures."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from services.config import Settings
from services.errors import FetchError, ResponseTooLargeError, TransientFetchError
from services.fetch import fetch, make_fetch_client, parse_retry_after


@pytest.fixture
def fetch_settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        allow_private_urls=True,
        fetch_connect_timeout=1.0,
        fetch_read_timeout=1.5,
        max_fetch_bytes=64 * 1024,
    )


@pytest.fixture
def client(fetch_settings: Settings):
    with make_fetch_client(fetch_settings) as c:
        yield c


def test_ok_returns_body_and_caching_headers(httpserver: HTTPServer, client, fetch_settings) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "<rss/>",
        content_type="application/rss+xml",
        headers={"ETag": '"v1"', "Last-Modified": "Sat, 26 Feb 2022 14:00:00 GMT"},
    )
    result = fetch(client, httpserver.url_for("/feed"), settings=fetch_settings)
    assert result.status == 200 and result.content == b"<rss/>"
    assert result.etag == '"v1"' and result.last_modified == "Sat, 26 Feb 2022 14:00:00 GMT"
    assert result.content_type == "application/rss+xml"
    assert not result.not_modified and not result.gone and result.permanent_url is None


def test_conditional_get_sends_validators_and_304_has_no_body(
    httpserver: HTTPServer, client, fetch_settings
) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response("body", headers={"ETag": '"v1"'})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    url = httpserver.url_for("/feed")
    result = fetch(
        client, url, settings=fetch_settings, etag='"v1"', last_modified="Sat, 26 Feb 2022 14:00:00 GMT"
    )
    assert result.not_modified and result.content is None and result.status == 304
    assert result.etag == '"v1"' and result.last_modified == "Sat, 26 Feb 2022 14:00:00 GMT"
    assert seen[0]["If-Modified-Since"] == "Sat, 26 Feb 2022 14:00:00 GMT"


@pytest.mark.parametrize(("code", "permanent"), [(301, True), (308, True), (302, False), (307, False)])
def test_redirects_report_only_permanent_moves(
    httpserver: HTTPServer, client, fetch_settings, code, permanent
) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=code, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data("moved body")
    result = fetch(client, httpserver.url_for("/old"), settings=fetch_settings)
    assert result.content == b"moved body"
    assert result.final_url == httpserver.url_for("/new")
    assert result.permanent_url == (httpserver.url_for("/new") if permanent else None)


def test_a_temporary_hop_in_the_chain_means_no_permanent_url(
    httpserver: HTTPServer, client, fetch_settings
) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/c"})
    httpserver.expect_request("/c").respond_with_data("end")
    assert fetch(client, httpserver.url_for("/a"), settings=fetch_settings).permanent_url is None


def test_410_is_gone(httpserver: HTTPServer, client, fetch_settings) -> None:
    httpserver.expect_request("/feed").respond_with_data("gone", status=410)
    result = fetch(client, httpserver.url_for("/feed"), settings=fetch_settings)
    assert result.gone and result.content is None


@pytest.mark.parametrize("code", [429, 503])
def test_throttling_honours_retry_after_seconds(httpserver: HTTPServer, client, fetch_settings, code) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "slow down", status=code, headers={"Retry-After": "120"}
    )
    with pytest.raises(TransientFetchError) as info:
        fetch(client, httpserver.url_for("/feed"), settings=fetch_settings)
    assert info.value.retry_after == 120.0
    assert str(code) in info.value.message


def test_throttling_honours_retry_after_date(httpserver: HTTPServer, client, fetch_settings) -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    httpserver.expect_request("/feed").respond_with_data(
        "", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    with pytest.raises(TransientFetchError) as info:
        fetch(client, httpserver.url_for("/feed"), settings=fetch_settings)
    assert info.value.retry_after is not None and 3500 < info.value.retry_after <= 3600


@pytest.mark.parametrize("code", [500, 502, 504, 408])
def test_server_errors_are_transient(httpserver: HTTPServer, client, fetch_settings, code) -> None:
    httpserver.expect_request("/feed").respond_with_data("oops", status=code)
    with pytest.raises(TransientFetchError) as info:
        fetch(client, httpserver.url_for("/feed"), settings=fetch_settings)
    assert info.value.retry_after is None


@pytest.mark.parametrize("code", [400, 401, 403, 404])
def test_client_errors_are_permanent(httpserver: HTTPServer, client, fetch_settings, code) -> None:
    httpserver.expect_request("/feed").respond_with_data("no", status=code)
    with pytest.raises(FetchError) as info:
        fetch(client, httpserver.url_for("/feed"), settings=fetch_settings)
    assert not isinstance(info.value, TransientFetchError)
    assert f"HTTP {code}" in info.value.message


def test_declared_size_over_the_cap_is_refused(httpserver: HTTPServer, client, fetch_settings) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * (fetch_settings.max_fetch_bytes + 1))
    with pytest.raises(ResponseTooLargeError, match="too large"):
        fetch(client, httpserver.url_for("/big"), settings=fetch_settings)


def test_gzip_is_decoded_and_the_cap_applies_to_decoded_bytes(
    httpserver: HTTPServer, client, fetch_settings
) -> None:
    small = b"<rss>" + b"a" * 1000 + b"</rss>"
    httpserver.expect_request("/small").respond_with_data(
        gzip.compress(small), headers={"Content-Encoding": "gzip"}
    )
    assert fetch(client, httpserver.url_for("/small"), settings=fetch_settings).content == small
    bomb = gzip.compress(b"\0" * (fetch_settings.max_fetch_bytes * 4))
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(ResponseTooLargeError):
        fetch(client, httpserver.url_for("/bomb"), settings=fetch_settings)


class RawServer:
    """A loopback TCP server whose per-connection behaviour a test writes by hand (stops by itself)."""

    def __init__(self, behave: Callable[[socket.socket], None], max_seconds: float = 20.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.behave = behave
        self.stop_at = time.monotonic() + max_seconds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def _run(self) -> None:
        while not self.stopped.is_set() and time.monotonic() < self.stop_at:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self.behave(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def make(behave: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(behave))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _until(deadline_seconds: float):
    end = time.monotonic() + deadline_seconds
    while time.monotonic() < end:
        yield


def test_endless_chunked_body_is_cut_at_the_size_cap(raw_server, client, fetch_settings) -> None:
    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 8192
        for _ in _until(15):
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    server = raw_server(endless)
    with pytest.raises(ResponseTooLargeError) as info:
        fetch(client, server.url, settings=fetch_settings)
    assert "STANCEWATCH_MAX_FETCH_BYTES" in info.value.message


def test_a_byte_a_tick_is_cut_at_the_total_timeout(raw_server, client, fetch_settings) -> None:
    # Each byte arrives well inside the read timeout, so only the wall-clock cap can stop it.
    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 60000\r\n\r\n")
        for _ in _until(15):
            conn.sendall(b"x")
            time.sleep(0.1)

    server = raw_server(trickle)
    with pytest.raises(TransientFetchError, match="timed out"):
        fetch(client, server.url, settings=fetch_settings)


def test_a_silent_server_hits_the_read_timeout(raw_server, client, fetch_settings) -> None:
    server = raw_server(lambda conn: time.sleep(4))
    with pytest.raises(TransientFetchError, match="timed out"):
        fetch(client, server.url, settings=fetch_settings)


def test_connection_refused_is_transient(client, fetch_settings) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(TransientFetchError, match="connection failed"):
        fetch(client, f"http://127.0.0.1:{port}/", settings=fetch_settings)


def test_a_broken_response_is_transient(raw_server, client, fetch_settings) -> None:
    server = raw_server(lambda conn: conn.sendall(b"this is not HTTP\r\n\r\n"))
    with pytest.raises(TransientFetchError):
        fetch(client, server.url, settings=fetch_settings)


def test_the_ssrf_guard_refuses_loopback_unless_allowed(httpserver: HTTPServer, tmp_path) -> None:
    httpserver.expect_request("/feed").respond_with_data("secret")
    guarded = Settings(
        data_dir=tmp_path, allow_private_urls=False, fetch_connect_timeout=1.0, fetch_read_timeout=2.0
    )
    with make_fetch_client(guarded) as c, pytest.raises(FetchError) as info:
        fetch(c, httpserver.url_for("/feed"), settings=guarded)
    assert not isinstance(info.value, TransientFetchError)
    assert "127.0.0.1" in info.value.message
    assert len(httpserver.log) == 0


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http://"])
def test_unusable_urls_are_permanent_errors(client, fetch_settings, url: str) -> None:
    with pytest.raises(FetchError) as info:
        fetch(client, url, settings=fetch_settings)
    assert not isinstance(info.value, TransientFetchError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected) -> None:
    assert parse_retry_after(value) == expected
