"""Jinja filters: flags, country names, safe links, times."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlsplit

from flask import Flask

from services import changes


@cache
def country_name(code: str | None) -> str:
    """The display name of an ISO 3166-1 alpha-2 code (the one the API and webhooks use)."""
    return changes.country_name(code.upper()) if code else ""


def flag(code: str | None) -> str:
    """The flag emoji of a two-letter country code (regional indicator symbols)."""
    if not code or len(code) != 2 or not code.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


def safe_href(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None: no javascript: or data: links from feeds."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def format_time(value: datetime | None, with_seconds: bool = False) -> str:
    if value is None:
        return "—"
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC" if with_seconds else "%Y-%m-%d %H:%M UTC")


def iso_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stance_value(value: object) -> str:
    """The stance as its stored word ('supports'), or 'none' for an absent stance."""
    if value is None:
        return "none"
    return str(getattr(value, "value", value))


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(
        country_name=country_name,
        flag=flag,
        safe_href=safe_href,
        time=format_time,
        iso=iso_time,
        stance=stance_value,
    )
    app.jinja_env.globals.update(country_name=country_name, flag=flag)
