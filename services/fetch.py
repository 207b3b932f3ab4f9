"""One HTTP fetch, done as mature feed readers do it.

Conditional GET, a size cap on the streamed body, a wall-clock cap on the whole exchange, permanent
redirects reported so the caller can update the stored URL, and every failure mapped to the error
tree: ``TransientFetchError`` (worth retrying later, with ``retry_after`` when the server said) or
``FetchError`` (permanent until someone changes something).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from services.config import Settings
from services.errors import FetchError, ResponseTooLargeError, TransientFetchError, UnsafeURLError
from services.netguard import make_client, unsafe_error_from

logger = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/atom+xml,application/rss+xml,application/rdf+xml;q=0.9,"
    "application/xml;q=0.8,text/xml;q=0.8,*/*;q=0.5"
)
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
PERMANENT_REDIRECTS = frozenset({301, 308})
# Sent by servers that are busy, not broken: wait as long as they ask.
THROTTLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch gave: the body (None when not modified or gone) and the caching headers."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    content: bytes | None
    content_type: str | None
    headers: dict[str, str]  # lower-cased names
    etag: str | None
    last_modified: str | None
    not_modified: bool = False
    gone: bool = False
    # Set when every redirect on the way was permanent (301/308): the URL to use from now on.
    permanent_url: str | None = None


def make_fetch_client(settings: Settings) -> httpx.Client:
    """An httpx client for feeds and pages, guarded against SSRF unless private URLs are allowed."""
    timeout = httpx.Timeout(settings.fetch_read_timeout, connect=settings.fetch_connect_timeout)
    return make_client(
        allow_private=settings.allow_private_urls,
        timeout=timeout,
        user_agent=settings.user_agent,
        follow_redirects=True,
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or junk."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def fetch(
    client: httpx.Client,
    url: str,
    *,
    settings: Settings,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = PAGE_ACCEPT,
) -> FetchResult:
    """GET ``url`` with conditional headers; raise FetchError / TransientFetchError on failure.

    The body is read in chunks and cut at ``settings.max_fetch_bytes`` (ResponseTooLargeError) and at
    ``settings.fetch_read_timeout`` seconds in total (TransientFetchError), so neither an endless
    response nor a server that trickles one byte a second can hold a worker.
    """
    headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    cap = settings.max_fetch_bytes
    total_timeout = settings.fetch_read_timeout
    deadline = time.monotonic() + total_timeout
    try:
        with client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            response_headers = {k.lower(): v for k, v in response.headers.items()}
            final_url = str(response.url)
            permanent_url = None
            if response.history and all(r.status_code in PERMANENT_REDIRECTS for r in response.history):
                permanent_url = final_url
            if status in THROTTLE_STATUSES:
                retry_after = parse_retry_after(response_headers.get("retry-after"))
                raise TransientFetchError(
                    url, f"HTTP {status} {response.reason_phrase}".strip(), retry_after=retry_after
                )
            if status >= 500 or status == 408:
                raise TransientFetchError(url, f"HTTP {status} {response.reason_phrase}".strip())
            base = dict(
                url=url,
                final_url=final_url,
                status=status,
                content_type=response_headers.get("content-type"),
                headers=response_headers,
                etag=response_headers.get("etag") or etag,
                last_modified=response_headers.get("last-modified") or last_modified,
                permanent_url=permanent_url,
            )
            if status == 304:
                # Reading the (empty) body completes the exchange, so the connection goes back to
                # the pool instead of being closed: the next poll of this host skips a TCP connect.
                response.read()
                return FetchResult(content=None, not_modified=True, **base)
            if status == 410:
                return FetchResult(content=None, gone=True, **base)
            if status >= 400:
                raise FetchError(url, f"HTTP {status} {response.reason_phrase}".strip())
            if status >= 300:
                raise FetchError(url, f"HTTP {status} redirect without a usable Location")
            declared = response_headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise ResponseTooLargeError(
                    url,
                    f"response too large: Content-Length {int(declared)} bytes exceeds the {cap}-byte cap",
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    raise ResponseTooLargeError(
                        url, f"response too large: more than {cap} bytes (STANCEWATCH_MAX_FETCH_BYTES)"
                    )
                if time.monotonic() > deadline:
                    raise TransientFetchError(url, f"timed out: body not complete after {total_timeout:g} s")
                chunks.append(chunk)
            return FetchResult(content=b"".join(chunks), **base)
    except UnsafeURLError as exc:
        raise FetchError(url, exc.message) from exc
    except httpx.TimeoutException as exc:
        raise TransientFetchError(url, f"timed out: {_describe(exc)}") from exc
    except httpx.TooManyRedirects as exc:
        raise FetchError(url, f"too many redirects: {exc}") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise FetchError(url, f"cannot fetch: {_describe(exc)}") from exc
    except httpx.DecodingError as exc:
        raise FetchError(url, f"undecodable response: {_describe(exc)}") from exc
    except httpx.TransportError as exc:
        unsafe = unsafe_error_from(exc)
        if unsafe is not None:
            raise FetchError(url, unsafe.message) from exc
        raise TransientFetchError(url, f"connection failed: {_describe(exc)}") from exc
    except httpx.StreamError as exc:
        raise TransientFetchError(url, f"connection failed: {_describe(exc)}") from exc
