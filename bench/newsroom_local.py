#!/usr/bin/env python3
# ruff: noqa: UP031 (kept in the shared newsroom's style so its pages stay byte-identical to what the peers were measured on)
"""Local "newsroom": an RSS feed of N articles plus the N article pages, loopback only.

stancewatch's own copy of the shared benchmark newsroom, so that bench/ is self-contained. Article
pages are byte-for-byte the pages the peers were measured on (no validators on pages); the one
addition is that the feed answers conditional GETs (ETag / If-None-Match -> 304), as real feeds do,
so a poll of an unchanged feed can be measured.

Stdlib only. Serves:
  GET  /feed.xml              RSS 2.0 feed, N items, newest first (article 0 first)
  GET  /atom.xml              the same items as Atom 1.0
  GET  /article/<i>           article page i (0 <= i < N), ~5 KB of HTML with boilerplate
  GET  /_control/stats        JSON request counters (feed hits, article hits, bytes)
  POST /_control/reset        zero the counters
  POST /_control/mutate?id=K  change one paragraph of article K (new version); JSON reply
                              {"id", "version", "mutated_at"} where mutated_at is time.time()
                              taken just after the change became visible to readers
  POST /_control/resize?n=M   serve M articles from now on (versions kept)
  GET  /_control/health       "ok"

Mutations never touch the feed unless --feed-reflects-updates is given (then the item's
pubDate moves to the mutation time), because many real feeds do not announce edits.

--stance-text (off by default; without it every page is byte-for-byte what the peers were
measured on): each article also carries one paragraph in which a government takes a stance on
Russia's invasion of Ukraine (country chosen by article id from STANCE_COUNTRIES). Odd versions
say it supports Russia ("Nicaragua's government said it supports Russia's decision to invade
Ukraine and blamed NATO for the war."), even versions say it condemns the invasion, so every
mutation is exactly one stance change (supports -> opposes -> supports ...). The mutate reply
then also has "stance_country", "stance_from" and "stance_to".

The server stops by itself after --max-seconds (default 3600) so a forgotten one cannot
linger. Bind address is fixed to 127.0.0.1.
"""

import argparse
import hashlib
import html
import json
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

WORDS = [
    "council",
    "budget",
    "river",
    "harbour",
    "school",
    "election",
    "station",
    "market",
    "bridge",
    "library",
    "hospital",
    "festival",
    "museum",
    "transit",
    "housing",
    "weather",
    "police",
    "court",
    "airport",
    "garden",
    "minister",
    "report",
    "survey",
    "funding",
    "project",
    "residents",
    "officials",
    "statement",
    "agency",
]

BASE_EPOCH = 1767225600  # 2026-01-01T00:00:00Z, fixed so feeds are deterministic

# --stance-text: countries whose English possessive is plain "'s" and that any gazetteer knows
STANCE_COUNTRIES = ("Nicaragua", "Venezuela", "Syria", "Eritrea", "Cuba", "Iran")


def _sentence(seed, k):
    n = 12 + (seed * 7 + k * 3) % 9
    w = [WORDS[(seed * 31 + k * 17 + j * 13) % len(WORDS)] for j in range(n)]
    return (" ".join(w)).capitalize() + "."


def _paragraph(article, p, version):
    text = " ".join(_sentence(article * 101 + p, k) for k in range(5))
    if p == 2 and version > 1:
        text = ("UPDATE (version %d): officials revised the figures after publication. " % version) + text
    return text


def stance_of(version):
    """--stance-text: the stance the article's government paragraph states at this version."""
    return "supports" if version % 2 else "opposes"


def _stance_paragraph(article, version):
    country = STANCE_COUNTRIES[article % len(STANCE_COUNTRIES)]
    if stance_of(version) == "supports":
        return (
            f"{country}'s government said it supports Russia's decision to invade Ukraine and blamed NATO "
            "for the war."
        )
    return f"{country}'s government has condemned the invasion of Ukraine as a grave violation of international law."


class Newsroom:
    def __init__(self, n, paras, port, feed_reflects_updates, stance_text=False):
        self.lock = threading.Lock()
        self.n = n
        self.paras = paras
        self.port = port
        self.feed_reflects_updates = feed_reflects_updates
        self.stance_text = stance_text
        self.version = {}  # id -> version (default 1)
        self.updated_at = {}  # id -> epoch of last mutation
        self.reset()

    def reset(self):
        with self.lock:
            self.stats = {
                "feed_hits": 0,
                "article_hits": 0,
                "other_hits": 0,
                "bytes_out": 0,
                "since": time.time(),
                "last_request_at": None,
                "article_hits_by_id": {},
            }

    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def pub_epoch(self, i):
        if self.feed_reflects_updates and i in self.updated_at:
            return self.updated_at[i]
        return BASE_EPOCH - i * 600  # article i is i*10 minutes older than article 0

    def article_html(self, i):
        v = self.version.get(i, 1)
        title = "Article %d: %s %s" % (i, WORDS[i % len(WORDS)].capitalize(), WORDS[(i * 7) % len(WORDS)])
        texts = [_paragraph(i, p, v) for p in range(self.paras)]
        if self.stance_text:
            texts.insert(1, _stance_paragraph(i, v))
        paras = "\n".join(f"<p>{html.escape(t)}</p>" for t in texts)
        nav = " | ".join(
            '<a href="/article/%d">Related %d</a>' % ((i + k) % max(self.n, 1), k) for k in range(1, 6)
        )
        return (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>%s</title>'
            '<link rel="canonical" href="%s/article/%d"></head>\n<body>\n'
            '<header><nav><a href="/">Home</a> | <a href="/feed.xml">RSS</a></nav></header>\n'
            '<main><article><h1>%s</h1>\n<p class="byline">By Bench Reporter, published %s</p>\n'
            '<div class="article-body">\n%s\n</div></article></main>\n'
            "<aside>%s</aside>\n<footer>&copy; Bench Newsroom</footer>\n</body></html>\n"
            % (
                html.escape(title),
                self.base(),
                i,
                html.escape(title),
                formatdate(self.pub_epoch(i), usegmt=True),
                paras,
                nav,
            )
        )

    def item_title(self, i):
        return "Article %d: %s %s" % (i, WORDS[i % len(WORDS)].capitalize(), WORDS[(i * 7) % len(WORDS)])

    def rss(self):
        items = []
        for i in range(self.n):
            link = "%s/article/%d" % (self.base(), i)
            items.append(
                f'<item><title>{html.escape(self.item_title(i))}</title><link>{link}</link><guid isPermaLink="true">{link}</guid>'
                f"<pubDate>{formatdate(self.pub_epoch(i), usegmt=True)}</pubDate><description>{html.escape(_sentence(i, 0))}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            "<title>Bench Newsroom</title><link>{}/</link><description>Benchmark feed</description>\n{}\n"
            "</channel></rss>\n".format(self.base(), "\n".join(items))
        )

    def atom(self):
        entries = []
        for i in range(self.n):
            link = "%s/article/%d" % (self.base(), i)
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.pub_epoch(i)))
            entries.append(
                f'<entry><title>{html.escape(self.item_title(i))}</title><link href="{link}"/><id>{link}</id><updated>{ts}</updated>'
                f"<summary>{html.escape(_sentence(i, 0))}</summary></entry>"
            )
        ts0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_EPOCH))
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>Bench Newsroom</title><id>{}/</id><updated>{}</updated>\n{}\n</feed>\n".format(
                self.base(), ts0, "\n".join(entries)
            )
        )


def make_handler(room):
    class H(BaseHTTPRequestHandler):
        server_version = "BenchNewsroom/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep quiet
            pass

        def _send(self, code, body, ctype, extra=None):
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            with room.lock:
                room.stats["bytes_out"] += len(data)
                room.stats["last_request_at"] = time.time()

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            u = urlparse(self.path)
            p = u.path
            if p == "/feed.xml":
                with room.lock:
                    room.stats["feed_hits"] += 1
                body = room.rss()
                etag = '"{}"'.format(hashlib.sha256(body.encode("utf-8")).hexdigest()[:20])
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._send(200, body, "application/rss+xml; charset=utf-8", {"ETag": etag})
            if p == "/atom.xml":
                with room.lock:
                    room.stats["feed_hits"] += 1
                return self._send(200, room.atom(), "application/atom+xml; charset=utf-8")
            if p.startswith("/article/"):
                try:
                    i = int(p[len("/article/") :])
                except ValueError:
                    i = -1
                if not 0 <= i < room.n:
                    return self._send(404, "not found\n", "text/plain")
                with room.lock:
                    room.stats["article_hits"] += 1
                    k = str(i)
                    room.stats["article_hits_by_id"][k] = room.stats["article_hits_by_id"].get(k, 0) + 1
                return self._send(200, room.article_html(i), "text/html; charset=utf-8")
            if p == "/_control/stats":
                with room.lock:
                    s = dict(room.stats, n=room.n, now=time.time())
                    s["article_hits_by_id"] = dict(room.stats["article_hits_by_id"])
                return self._send(200, json.dumps(s), "application/json")
            if p == "/_control/health":
                return self._send(200, "ok\n", "text/plain")
            if p == "/":
                with room.lock:
                    room.stats["other_hits"] += 1
                links = "".join(
                    '<li><a href="/article/%d">%s</a></li>' % (i, html.escape(room.item_title(i)))
                    for i in range(room.n)
                )
                return self._send(200, f"<html><body><ul>{links}</ul></body></html>", "text/html")
            with room.lock:
                room.stats["other_hits"] += 1
            return self._send(404, "not found\n", "text/plain")

        def do_POST(self):
            u = urlparse(self.path)
            q = parse_qs(u.query)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if u.path == "/_control/reset":
                room.reset()
                return self._send(200, json.dumps({"ok": True}), "application/json")
            if u.path == "/_control/mutate":
                i = int(q.get("id", ["0"])[0])
                if not 0 <= i < room.n:
                    return self._send(404, json.dumps({"error": "no such article"}), "application/json")
                with room.lock:
                    room.version[i] = room.version.get(i, 1) + 1
                    now = time.time()
                    room.updated_at[i] = now
                    v = room.version[i]
                    mutated_at = time.time()
                reply = {
                    "id": i,
                    "version": v,
                    "mutated_at": mutated_at,
                    "url": "%s/article/%d" % (room.base(), i),
                }
                if room.stance_text:
                    reply.update(
                        stance_country=STANCE_COUNTRIES[i % len(STANCE_COUNTRIES)],
                        stance_from=stance_of(v - 1),
                        stance_to=stance_of(v),
                    )
                return self._send(200, json.dumps(reply), "application/json")
            if u.path == "/_control/resize":
                n = int(q.get("n", [str(room.n)])[0])
                with room.lock:
                    room.n = n
                return self._send(200, json.dumps({"n": n}), "application/json")
            return self._send(404, "not found\n", "text/plain")

    return H


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8701)
    ap.add_argument("--n", type=int, default=50, help="number of articles")
    ap.add_argument("--paras", type=int, default=8, help="paragraphs per article")
    ap.add_argument("--feed-reflects-updates", action="store_true")
    ap.add_argument(
        "--stance-text",
        action="store_true",
        help="add a government-stance paragraph that flips supports/opposes with every mutation",
    )
    ap.add_argument("--max-seconds", type=float, default=3600, help="self-stop after this long")
    a = ap.parse_args()
    room = Newsroom(a.n, a.paras, a.port, a.feed_reflects_updates, a.stance_text)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(room))
    srv.daemon_threads = True
    t = threading.Timer(a.max_seconds, srv.shutdown)
    t.daemon = True
    t.start()
    print(
        "newsroom on http://127.0.0.1:%d n=%d%s (self-stop in %.0fs)"
        % (a.port, a.n, " stance-text" if a.stance_text else "", a.max_seconds),
        flush=True,
    )
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
