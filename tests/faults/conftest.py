"""Fault-injection fixtures: private Redis and PostgreSQL we may stop, a stalling news site and webhook
receiver on loopback, and the real service processes (``stancewatch worker`` / ``stancewatch beat``).

Everything here is private to the test that uses it: a ``redis-server`` on a free port, a PostgreSQL
cluster made with ``initdb`` in a temporary directory (run as the ``postgres`` user), so stopping or
restarting them never disturbs another test run on this machine. Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.config import Settings
from services.migrate import upgrade

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.postgres)
            item.add_marker(pytest.mark.redis)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.1,
    diagnose: Callable[[], str] | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the service may be down on purpose; keep polling until the deadline
            last_error = exc
        time.sleep(interval)
    detail = ""
    if diagnose is not None:
        try:
            detail = "\n" + diagnose()
        except Exception as exc:
            detail = f"\n(diagnosis failed: {exc!r})"
    raise AssertionError(
        f"timed out after {timeout:g} s waiting for {what} (last error: {last_error!r}){detail}"
    )


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- private Redis -----------------------------------------------------------------------------------


class PrivateRedis:
    """A ``redis-server`` of our own on a free loopback port, without persistence; stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), 10, f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


# --- private PostgreSQL ------------------------------------------------------------------------------


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (``initdb`` + ``pg_ctl`` as ``postgres``) on a free loopback port."""

    def __init__(self) -> None:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not candidates:
            pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
        self.bindir = Path(candidates[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="sw-faults-pg-"))
        self.datadir = self.root / "data"
        self.sockdir = self.root / "sock"
        self.port = free_port()
        self.log = self.root / "postgres.log"

    def _as_postgres(self, *argv: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, timeout=timeout, capture_output=True)

    def init(self) -> None:
        self.sockdir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockdir, "postgres")
        self._as_postgres(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.log),
            "-o",
            opts,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def server_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"sw_{secrets.token_hex(4)}"
        admin = create_engine(self.server_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = self.server_url(name)
        upgrade(Settings(database_url=url))
        return url

    def destroy(self) -> None:
        with contextlib.suppress(Exception):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """One private cluster per test session (initdb takes a few seconds); tests get a database each."""
    if shutil.which("runuser") is None and os.geteuid() == 0:
        pytest.skip("runuser is needed to run PostgreSQL as the postgres user")
    pg = PrivatePostgres()
    pg.init()
    pg.start()
    yield pg
    pg.destroy()


@pytest.fixture
def private_db(private_postgres: PrivatePostgres) -> str:
    """A fresh, migrated database in the private cluster (the cluster may be restarted by the test)."""
    wait_until(lambda: port_open(private_postgres.port), 30, "the private PostgreSQL")
    return private_postgres.create_database()


# --- a news site on loopback --------------------------------------------------------------------------


@dataclass
class Page:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"


class NewsSite:
    """A loopback site whose pages the test edits; a path can be made to stall until released."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.hits: dict[str, int] = {}
        self._stall: dict[str, threading.Event] = {}
        self._stalled: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.hits[path] = site.hits.get(path, 0) + 1
                    page = site.pages.get(path)
                    release = site._stall.get(path)
                    stalled = site._stalled.get(path)
                if release is not None and stalled is not None:
                    stalled.set()
                    # Hold the response open (bounded) until the test has killed the client.
                    release.wait(60)
                    self.close_connection = True
                    return
                if page is None:
                    page = Page(404, b"not found", "text/plain")
                try:
                    self.send_response(page.status)
                    self.send_header("Content-Type", page.content_type)
                    self.send_header("Content-Length", str(len(page.body)))
                    self.end_headers()
                    self.wfile.write(page.body)
                except OSError:
                    pass  # the client went away (a killed worker)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def put(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self.pages[path] = Page(200, data, content_type)

    def stall(self, path: str) -> threading.Event:
        """Make requests for ``path`` hang; returns an event set when the first such request arrives."""
        with self._lock:
            self._stall[path] = threading.Event()
            self._stalled[path] = threading.Event()
            return self._stalled[path]

    def release(self, path: str) -> None:
        with self._lock:
            release = self._stall.pop(path, None)
            self._stalled.pop(path, None)
        if release is not None:
            release.set()

    def release_all(self) -> None:
        for path in list(self._stall):
            self.release(path)


@pytest.fixture
def news_site() -> Iterator[NewsSite]:
    site = NewsSite()
    site.thread.start()
    yield site
    site.release_all()
    site.server.shutdown()
    site.server.server_close()


def rss(site: NewsSite, items: list[tuple[str, str, str]], title: str = "Fault news") -> str:
    """An RSS document; items are (guid, path, title)."""
    entries = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{t}</title><link>{site.url(path)}</link>"
        f"<pubDate>Sun, 27 Feb 2022 14:03:00 GMT</pubDate></item>"
        for guid, path, t in items
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{title}</title><link>{site.url('/')}</link><description>d</description>{entries}</channel></rss>"
    )


def article_html(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    filler = (
        "<p>The war in Ukraine entered a new phase this week as diplomats met in Geneva and the "
        "United Nations General Assembly prepared another vote on the conflict.</p>"
    )
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{filler}{body}{filler}</article></body></html>"
    )


BELARUS = "Belarus: President Alexander Lukashenko said Minsk backs Russia and blamed NATO for the war."
FRANCE = "France: President Emmanuel Macron condemned the invasion and announced sanctions on Russia."
INDIA = "India: The Indian government abstained in the UN vote and called for dialogue."
NICARAGUA = (
    "Nicaragua: President Daniel Ortega said his government supports Russia and its recognition of Donetsk."
)


# --- a webhook receiver on loopback --------------------------------------------------------------------


@dataclass
class Received:
    msg_id: str | None
    body: bytes
    status: int | None  # None: the receiver never answered (stalled, slow)
    verified: bool
    at: float = field(default_factory=time.monotonic)


class Receiver:
    """Records and verifies every webhook; its behaviour (down/slow/status/stall) is set by the test."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.received: list[Received] = []
        self.mode = "ok"  # ok | status | slow | stall
        self.status = 200
        self.slow_seconds = 0.0
        # Behaviours for the next requests, one each ("slow", "stall", or a status like "500"); then ``mode``.
        self.script: list[str] = []
        self._release = threading.Event()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = False
                if receiver.secret:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        verified = True
                    except (WebhookVerificationError, ValueError):
                        verified = False
                with receiver._lock:
                    mode, status = receiver.mode, receiver.status
                    if receiver.script:
                        step = receiver.script.pop(0)
                        mode, status = (step, status) if not step.isdigit() else ("status", int(step))
                record = Received(headers.get("webhook-id"), body, None, verified)
                with receiver._lock:
                    receiver.received.append(record)
                receiver.arrived.set()
                if mode == "stall":
                    receiver._release.wait(60)
                    self.close_connection = True
                    return
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                answer = status if mode == "status" else 200
                record.status = answer
                try:
                    self.send_response(answer)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up (timeout) or was killed

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def stop(self) -> None:
        self._release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def release(self) -> None:
        self._release.set()

    def ids(self) -> list[str | None]:
        with self._lock:
            return [r.msg_id for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


# --- the service processes -------------------------------------------------------------------------------


class Service:
    """``stancewatch worker`` and ``stancewatch beat`` as real processes, each in its own process group."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}

    def start(self, name: str = "worker") -> subprocess.Popen[bytes]:
        argv = {
            "worker": [str(BIN / "stancewatch"), "worker", "--pool", "threads", "--concurrency", "4"],
            "beat": [str(BIN / "stancewatch"), "beat"],
        }[name]
        self.starts[name] = self.starts.get(name, 0) + 1
        log = open(self.logdir / f"{name}-{self.starts[name]}.log", "wb")  # noqa: SIM115 (kept for the child)
        proc = subprocess.Popen(
            argv, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str = "worker") -> None:
        """SIGKILL the whole process group: no shutdown handler, no acknowledgement, no cleanup."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.logdir.glob("*.log"))
        )

    def full_log(self, name: str = "worker") -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob(f"{name}-*.log")))

    def stop_all(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # what outlived SIGTERM
            self.procs.pop(name, None)


def service_env(db_url: str, broker_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANCEWATCH_")}
    env.update(
        DATABASE_URL=db_url,
        BROKER_URL=broker_url,
        STANCEWATCH_DATA_DIR=str(data_dir),
        STANCEWATCH_ALLOW_PRIVATE_URLS="1",
        STANCEWATCH_ADMIN_TOKEN="faults-token",
        STANCEWATCH_SWEEP_INTERVAL="0.5",
        STANCEWATCH_WEBHOOK_SCHEDULE="0,1,1,1,1,1,1,1",
        STANCEWATCH_WEBHOOK_TIMEOUT="5",
        STANCEWATCH_FETCH_TIMEOUT="20",
        STANCEWATCH_FETCH_CONNECT_TIMEOUT="2",
        # Compress the article re-check backoff (1, 2, 4 ... s) so a page-only edit is seen within seconds.
        STANCEWATCH_RECHECK_MAX_INTERVAL="2",
        PATH=f"{BIN}:{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []

    def make(db_url: str, broker_url: str, **extra: str) -> Service:
        logdir = tmp_path / "logs"
        logdir.mkdir(exist_ok=True)
        service = Service(service_env(db_url, broker_url, tmp_path, **extra), logdir)
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop_all()


def stancewatch(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, with the service's environment."""
    return subprocess.run(
        [str(BIN / "stancewatch"), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
