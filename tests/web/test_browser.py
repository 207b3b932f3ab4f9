"""A person's view: headless Chromium loads the history, filters to Nicaragua and opens the diff."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def server(app, seeded):
    from waitress.server import create_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    httpd = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.close()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is missing; CI must install chromium and chromium-driver")
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        yield browser
        browser.close()


def test_filter_to_nicaragua_and_see_the_highlighted_diff(server, browser, seeded):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(server + "/")
    changes = page.locator("ol.changes > li")
    assert changes.count() == 4
    assert "Nicaragua" in changes.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "web-history.png"), full_page=True)

    page.select_option("#filter-country", "NI")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**country=NI**")
    rows = page.locator("ol.changes > li")
    assert rows.count() == 2  # the article-level change and the country-level one
    first = rows.first
    assert "Nicaragua" in first.inner_text()
    assert first.locator(".badge-supports").is_visible()
    assert "Belarus" not in page.locator("ol.changes").inner_text()

    first.locator("a.article-title").click()
    page.wait_for_url("**/diff**")
    inserted = page.locator(".diff ins")
    assert inserted.count() >= 1
    highlighted = " ".join(inserted.all_inner_texts())
    assert "Nicaragua's President Daniel Ortega" in highlighted
    # The insertion is visibly marked: a background colour, not the page's plain white.
    background = inserted.first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)", "transparent")
    aside = page.locator(".diff-changes").inner_text()
    assert "Nicaragua" in aside and "supports" in aside
    inserted.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "web-diff.png"), full_page=False)

    page.goto(server + "/countries/NI")
    assert page.locator("svg.timeline-svg circle").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "web-country.png"), full_page=True)
    # The CSP forbids inline script and style: the page must work without violating it.
    assert not [e for e in errors if "Content Security Policy" in e], errors
