"""``stancewatch up --demo``: the whole product in one minute, on loopback.

A tiny news site serves the seed article's earlier version; a receiver subscribed to webhooks verifies
what arrives with the reference ``standardwebhooks`` library; once the first version is stored the site
switches to the updated article, and the demo prints the Nicaragua change and the webhook it caused.
"""

from __future__ import annotations

import json
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import click
import standardwebhooks
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from seeds import seed_path
from services.config import Settings

ARTICLE_TITLE = "Here is a list of Russian allies during the Ukraine invasion and the reasons why"


def demo_feed_xml(base: str, published: float) -> str:
    """An RSS feed with the seed article as its one entry."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>stancewatch demo newsroom</title><link>{base}/</link>
<description>The seed article, served on loopback</description>
<item><title>{ARTICLE_TITLE}</title><link>{base}/articles/allies.html</link>
<guid isPermaLink="false">demo-5WGY0</guid><pubDate>{formatdate(published, usegmt=True)}</pubDate>
<description>As Russian troops continue their invasion of Ukraine, the question of allyship is repeatedly in debate.</description>
</item></channel></rss>"""


class NewsSite:
    """Serves ``/feed.xml`` and ``/articles/allies.html``; ``publish(n)`` switches the page to version n."""

    def __init__(self) -> None:
        self.version = 1
        self.published = time.time() - 3600
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/feed.xml"):
                    body = demo_feed_xml(site.base, site.published).encode()
                    ctype = "application/rss+xml"
                elif self.path.startswith("/articles/allies.html"):
                    body = seed_path(f"article-v{site.version}.html").read_bytes()
                    ctype = "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, version: int) -> None:
        self.version = version

    def stop(self) -> None:
        self.server.shutdown()


class Receiver:
    """A webhook receiver that verifies each delivery and keeps what it got."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[tuple[float, dict[str, Any], bool]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    standardwebhooks.Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                    verified = True
                except standardwebhooks.WebhookVerificationError:
                    verified = False
                receiver.received.append((time.time(), json.loads(body), verified))
                self.send_response(204 if verified else 400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


class Demo:
    """Drives the demo one small step at a time from ``stancewatch up``'s supervision loop."""

    def __init__(self, settings: Settings, *, web_url: str) -> None:
        self.settings = settings
        self.web_url = web_url
        self.site = NewsSite()
        self.receiver = Receiver()
        self.state = "waiting-for-v1"
        self.updated_at = 0.0
        self.seen = 0

    def start(self, session_factory: sessionmaker[Session]) -> None:
        from services.ingest import add_feed
        from services.subscriptions import create_subscription

        with session_factory.begin() as session:
            feed = add_feed(session, f"{self.site.base}/feed.xml", interval=2, settings=self.settings)
            _, secret = create_subscription(session, self.receiver.url, settings=self.settings)
            self.feed_id = feed.id
        self.receiver.secret = secret
        click.echo(f"demo: news site {self.site.base}/feed.xml serves the seed's earlier version (v1)")
        click.echo(f"demo: webhook receiver {self.receiver.url} subscribed; waiting for the first poll…")

    def _versions(self, session_factory: sessionmaker[Session]) -> int:
        from services.models import Article, ArticleVersion

        with session_factory() as session:
            return (
                session.scalar(
                    select(func.count(ArticleVersion.id)).join(Article).where(Article.feed_id == self.feed_id)
                )
                or 0
            )

    def step(self, session_factory: sessionmaker[Session]) -> None:
        for _, payload, verified in self.receiver.received[self.seen :]:
            self.seen += 1
            data = payload.get("data", {})
            if payload.get("type") == "stance.changed":
                mark = "verified" if verified else "SIGNATURE FAILED"
                click.echo(
                    f"demo: webhook {payload['type']}: {data.get('country_name')} "
                    f"{data.get('from') or 'null'} → {data.get('to')} ({mark})"
                )
                if self.state == "waiting-for-alert" and data.get("country") == "NI":
                    latency = time.time() - self.updated_at
                    click.echo(f"demo: evidence: {data.get('evidence', {}).get('after')!r}")
                    click.echo(
                        f"demo: the update was caught and alerted in {latency:.1f} s. "
                        f"See {self.web_url}/countries/NI and {self.web_url}/"
                    )
                    self.state = "done"
        if self.state == "waiting-for-v1" and self._versions(session_factory) >= 1:
            time.sleep(2)  # let the first version's alerts arrive before the update
            self.site.publish(2)
            self.updated_at = time.time()
            self.state = "waiting-for-alert"
            click.echo(
                "demo: first version stored; the site now serves the updated article (v2, adds Nicaragua)"
            )

    def stop(self) -> None:
        self.site.stop()
        self.receiver.stop()
