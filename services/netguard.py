"""The SSRF guard: feed, page and webhook URLs may not reach loopback, private or metadata addresses.

The check runs on the address actually connected to — inside httpx's connection layer, for the first
request and for every redirect — so a hostname that resolves (or re-resolves) to 127.0.0.1 or
169.254.169.254 is refused as surely as a literal one.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from services.errors import InvalidInputError, UnsafeURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (mapped, 6to4, Teredo, NAT64, IPv4-compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64_PREFIX or (int(ip) >> 32 == 0 and int(ip) > 0xFFFF):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses; False for loopback, private, link-local, CGNAT...

    An IPv6 address that embeds an IPv4 one must pass the check for both.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and not is_public_address(inner):
            return False
    return ip.is_global and not ip.is_multicast


def validate_url(url: str) -> str:
    """Check that ``url`` is an absolute http(s) URL with a host; return it stripped."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        raise InvalidInputError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in {"http", "https"}:
        raise InvalidInputError(f"invalid URL {url!r}: only http:// and https:// are supported")
    if not parts.hostname:
        raise InvalidInputError(f"invalid URL {url!r}: no host")
    return url


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def check_addresses(host: str, addresses: Iterable[IPAddress], trusted: frozenset[str] = frozenset()) -> None:
    for ip in addresses:
        if not is_public_address(ip) and str(ip) not in trusted:
            raise UnsafeURLError(
                f"refused: {host} resolves to {ip}, a private, loopback or link-local address "
                "(set STANCEWATCH_ALLOW_PRIVATE_URLS=1 to allow)"
            )


def check_url(url: str, allow_private: bool) -> str:
    """Validate ``url`` and, unless private URLs are allowed, refuse it if its host resolves privately.

    Called when a feed or webhook is added, for a clear error up front; the connection layer checks
    again on every connect (DNS may change, redirects may point elsewhere).
    """
    url = validate_url(url)
    if allow_private:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        except httpcore.ConnectError:
            return url  # unresolvable now; the fetch will report it, and check again when it connects
    check_addresses(host, addresses)
    return url


class GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself and connects only to addresses that pass the guard.

    ``trusted`` lists private addresses let through all the same (an internal proxy, say).
    """

    def __init__(self, trusted: frozenset[str] = frozenset()) -> None:
        self.trusted = trusted

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        check_addresses(host, addresses, self.trusted)
        last_error: Exception | None = None
        for ip in addresses:
            try:
                # Connect to the checked address; TLS still verifies and sends SNI for the hostname.
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"cannot connect to {host}")


def make_client(
    *,
    allow_private: bool,
    timeout: httpx.Timeout,
    user_agent: str,
    follow_redirects: bool,
    max_redirects: int = 5,
    limits: httpx.Limits | None = None,
    trusted_addresses: frozenset[str] = frozenset(),
) -> httpx.Client:
    """An httpx client whose every connection passes the SSRF guard (unless private URLs are allowed)."""
    transport = httpx.HTTPTransport(limits=limits or httpx.Limits(max_connections=50))
    if not allow_private:
        # httpx has no public hook between DNS resolution and connect; httpcore's network backend is it.
        transport._pool._network_backend = GuardedBackend(trusted_addresses)  # type: ignore[attr-defined]
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers={"User-Agent": user_agent},
    )


def unsafe_error_from(exc: BaseException) -> UnsafeURLError | None:
    """The UnsafeURLError behind an httpx exception, if the guard caused it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, UnsafeURLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
