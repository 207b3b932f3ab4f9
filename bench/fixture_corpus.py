#!/usr/bin/env python3
"""Run every file of feedparser's fixture corpus through the real poll path, from a loopback server.

Each file is served by a local HTTP server (absolute links inside are rewritten to a closed loopback
port, so no traffic leaves the machine and page fetches fail fast), added as a feed, and polled with
``services.polling.poll_feed`` (the code ``stancewatch poll --once`` and the workers run). Counts:
feeds that gave entries, feeds that gave none without an error, feeds with a recorded error, and
unhandled exceptions (must be 0). Exits 1 if any exception escaped.

    .venv/bin/python bench/fixture_corpus.py [CORPUS_DIR] [--limit N] [--verbose]
"""

from __future__ import annotations

import argparse
import collections
import functools
import logging
import sys
import tempfile
import threading
import time
import traceback
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.config import Settings  # noqa: E402
from services.db import make_engine, make_session_factory, utcnow  # noqa: E402
from services.errors import StancewatchError  # noqa: E402
from services.fetch import make_fetch_client  # noqa: E402
from services.ingest import add_feed  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.polling import poll_feed  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "feedparser-fixtures"
CLOSED = b"http://127.0.0.1:9/"  # the discard port: nothing listens, connections are refused at once


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def rewrite(data: bytes) -> bytes:
    data = data.replace(b"https://", CLOSED).replace(b"http://", CLOSED)
    return data.replace(CLOSED + b"127.0.0.1:9/", CLOSED)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    parser.add_argument("--verbose", action="store_true", help="print every error")
    args = parser.parse_args()
    # Per-feed warnings (bozo feeds, unreachable pages) are expected by the thousand here.
    logging.basicConfig(level=logging.ERROR)
    corpus = Path(args.corpus)
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"no files under {corpus}")
        return 1
    with tempfile.TemporaryDirectory(prefix="sw-corpus-") as tmp:
        site = Path(tmp) / "site"
        for f in files:
            dst = site / f.relative_to(corpus)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(rewrite(f.read_bytes()))
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        # Stop by itself even if this script is interrupted in a way that skips the finally below.
        stopper = threading.Timer(3600, server.shutdown)
        stopper.daemon = True
        stopper.start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        settings = Settings(
            database_url=f"sqlite:///{tmp}/corpus.db",
            allow_private_urls=True,
            data_dir=Path(tmp),
            fetch_connect_timeout=2.0,
            fetch_read_timeout=10.0,
        )
        upgrade(settings)
        engine = make_engine(settings.database_url)
        factory = make_session_factory(engine)
        counts: collections.Counter[str] = collections.Counter()
        errors: collections.Counter[str] = collections.Counter()
        unhandled: list[str] = []
        started = time.perf_counter()
        try:
            with make_fetch_client(settings) as client:
                for f in files:
                    url = base + "/".join(f.relative_to(corpus).parts)
                    try:
                        with factory.begin() as session:
                            feed_id = add_feed(session, url, interval=60, settings=settings).id
                    except StancewatchError as exc:
                        counts["refused when added"] += 1
                        errors[exc.message[:60]] += 1
                        continue
                    try:
                        outcome = poll_feed(factory, client, feed_id, settings, now=utcnow())
                    except Exception:  # counting what escapes is the point of this script
                        unhandled.append(f"{f.relative_to(corpus)}: {traceback.format_exc(limit=3)}")
                        continue
                    if outcome.error:
                        counts["recorded error"] += 1
                        errors[outcome.error.split(":")[0][:60]] += 1
                        if args.verbose:
                            print(f"{f.relative_to(corpus)}: {outcome.error}")
                    elif outcome.new_entries:
                        counts["with entries"] += 1
                    else:
                        counts["parsed, no entries"] += 1
        finally:
            server.shutdown()
            server.server_close()
            engine.dispose()
        took = time.perf_counter() - started
    print(
        f"{len(files)} files in {took:.1f} s: "
        + ", ".join(f"{v} {k}" for k, v in counts.most_common())
        + f", {len(unhandled)} unhandled exceptions"
    )
    if errors:
        print("recorded errors by kind: " + "; ".join(f"{k} x{v}" for k, v in errors.most_common(8)))
    for item in unhandled[:20]:
        print("UNHANDLED", item)
    return 1 if unhandled else 0


if __name__ == "__main__":
    sys.exit(main())
