#!/usr/bin/env python3
"""Update → alert latency: how long from a news page changing (page only, the feed untouched) to the
signed webhook arriving, with `stancewatch up` on the embedded default and a 1 s check interval.

Each of the N runs adds one more country to the seed article's list of supporters, so every run is a
real stance change (never a return to an earlier text). Prints the median and worst latency.

    python bench/bench_latency.py [--runs 20] [--interval 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seeds import seed_path  # noqa: E402
from services.demo import demo_feed_xml  # noqa: E402

TOKEN = "bench-token"
# Countries added one per run, each as a new numbered entry in the list of supporters.
ADDED = [
    ("Cuba", "CU"),
    ("Eritrea", "ER"),
    ("Mali", "ML"),
    ("Myanmar", "MM"),
    ("Laos", "LA"),
    ("Zimbabwe", "ZW"),
    ("Sudan", "SD"),
    ("Algeria", "DZ"),
    ("Angola", "AO"),
    ("Bolivia", "BO"),
    ("Burundi", "BI"),
    ("Uganda", "UG"),
    ("Kyrgyzstan", "KG"),
    ("Tajikistan", "TJ"),
    ("Mongolia", "MN"),
    ("Cameroon", "CM"),
    ("Ethiopia", "ET"),
    ("Togo", "TG"),
    ("Gabon", "GA"),
    ("Namibia", "NA"),
    ("Zambia", "ZM"),
    ("Burkina Faso", "BF"),
    ("Guinea-Bissau", "GW"),
    ("Mozambique", "MZ"),
]
ANCHOR = "<p>Other countries, who are known to be Russian allies"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Newsroom:
    def __init__(self) -> None:
        self.page = seed_path("article-v2.html").read_text()
        self.published = time.time() - 3600
        room = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/feed.xml"):
                    body, ctype = demo_feed_xml(room.base, room.published).encode(), "application/rss+xml"
                else:
                    body, ctype = room.page.encode(), "text/html; charset=utf-8"
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

    def add_supporter(self, number: int, name: str) -> None:
        item = (
            f"<h2>{number}. {name}</h2>\n<p>{name}'s government has backed Russia, "
            f"blaming NATO for the war in a statement this week.</p>\n"
        )
        self.page = self.page.replace(ANCHOR, item + ANCHOR, 1)


class Receiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrivals.append((time.time(), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def arrived(self, country: str, since: int) -> float | None:
        for t, payload in self.arrivals[since:]:
            data = payload.get("data", {})
            if payload.get("type") == "stance.changed" and data.get("country") == country:
                return t
        return None


def post(base: str, path: str, payload: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--interval", type=int, default=1, help="feed interval and article re-check start (s)"
    )
    args = parser.parse_args()
    runs = min(args.runs, len(ADDED))

    data_dir = Path(tempfile.mkdtemp(prefix="sw-bench-latency-"))
    room, receiver, port = Newsroom(), Receiver(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL")}
    env.update(
        STANCEWATCH_DATA_DIR=str(data_dir),
        STANCEWATCH_ADMIN_TOKEN=TOKEN,
        STANCEWATCH_ALLOW_PRIVATE_URLS="1",
        STANCEWATCH_RECHECK_MAX_INTERVAL=str(args.interval),
    )
    log = (data_dir / "up.log").open("w")
    up = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait(healthy, 60, "stancewatch up")
        post(base, "/api/webhooks", {"url": receiver.url})
        post(base, "/api/feeds", {"url": f"{room.base}/feed.xml", "interval": args.interval})
        wait(lambda: receiver.arrived("NI", 0) is not None, 60, "the first version's alerts")
        time.sleep(3)
        latencies = []
        for i in range(runs):
            name, code = ADDED[i]
            # A random moment, so the update does not fall in step with the check schedule.
            time.sleep(random.uniform(0, 2 * args.interval))
            since = len(receiver.arrivals)
            room.add_supporter(8 + i, name)  # the page changes; the feed does not
            changed_at = time.time()
            wait(
                lambda code=code, since=since: receiver.arrived(code, since) is not None,
                30,
                f"the {name} alert",
            )
            latency = receiver.arrived(code, since) - changed_at  # type: ignore[operator]
            latencies.append(latency)
            print(f"run {i + 1:2d}: {name:<14} {latency * 1000:7.0f} ms", flush=True)
        print(
            f"\nupdate → webhook, {runs} runs, check interval {args.interval} s, embedded default "
            f"(SQLite + file-system broker): median {statistics.median(latencies):.2f} s, "
            f"worst {max(latencies):.2f} s, best {min(latencies):.2f} s"
        )
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        print(
            f"(bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
            f"log in {data_dir / 'up.log'})"
        )


if __name__ == "__main__":
    main()
