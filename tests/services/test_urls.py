"""Canonical URLs: tracking stripped, fragment dropped, host lower-cased, default port removed."""

from __future__ import annotations

import pytest

from services.urls import canonical_url, is_tracking_param


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
        ("https://example.com/a?id=3&fbclid=abc&gclid=x&mc_cid=1&mc_eid=2", "https://example.com/a?id=3"),
        ("https://example.com/a?ref=home&cmpid=x&page=2", "https://example.com/a?page=2"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("HTTPS://EXAMPLE.com:443/Path/Case", "https://example.com/Path/Case"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com:80/x", "https://example.com:80/x"),
        ("http://[::1]:80/x?b=2&a=1", "http://[::1]/x?b=2&a=1"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),  # order of real params kept
        ("  https://example.com/a  ", "https://example.com/a"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    url = "HTTPS://News.Example.com:443/story?utm_campaign=x&id=7#top"
    assert canonical_url(canonical_url(url)) == canonical_url(url) == "https://news.example.com/story?id=7"


@pytest.mark.parametrize(
    "name", ["utm_source", "UTM_Campaign", "fbclid", "gclid", "mc_cid", "mc_eid", "ref", "cmpid"]
)
def test_tracking_params_are_recognised(name: str) -> None:
    assert is_tracking_param(name)


@pytest.mark.parametrize("name", ["id", "page", "q", "article", "reference"])
def test_content_params_are_kept(name: str) -> None:
    assert not is_tracking_param(name)
