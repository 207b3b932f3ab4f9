"""The SSRF guard, against real loopback servers: refused before any byte is sent to a private address."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from services.errors import InvalidInputError, UnsafeURLError
from services.netguard import check_url, make_client, validate_url


class Site:
    def __init__(self, redirect_to: str | None = None) -> None:
        self.hits = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits += 1
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def client(**kwargs: object) -> httpx.Client:
    return make_client(timeout=httpx.Timeout(2.0), user_agent="test", follow_redirects=True, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/feed",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
        "http://[::a00:1]/",  # IPv4-compatible 10.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",  # Teredo, client 10.0.0.1
    ],
)
def test_private_targets_are_refused_up_front(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="STANCEWATCH_ALLOW_PRIVATE_URLS"):
        check_url(url, allow_private=False)
    assert check_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    "url", ["ftp://example.org/", "file:///etc/passwd", "not a url", "http://", "http://x:99999/"]
)
def test_malformed_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid URL"):
        validate_url(url)


def test_the_client_refuses_to_connect_to_loopback(site: Site) -> None:
    with client(allow_private=False) as c, pytest.raises(UnsafeURLError):
        c.get(site.url)
    assert site.hits == 0


def test_the_client_connects_when_private_urls_are_allowed(site: Site) -> None:
    with client(allow_private=True) as c:
        assert c.get(site.url).text == "ok"
    assert site.hits == 1


def test_a_redirect_to_a_private_address_is_refused() -> None:
    # The first hop is let through explicitly; the redirect to the metadata address must not be.
    redirector = Site(redirect_to="http://169.254.169.254/latest/meta-data/")
    try:
        with (
            client(allow_private=False, trusted_addresses=frozenset({"127.0.0.1"})) as c,
            pytest.raises(UnsafeURLError, match=r"169\.254\.169\.254"),
        ):
            c.get(redirector.url)
        assert redirector.hits == 1
    finally:
        redirector.close()
