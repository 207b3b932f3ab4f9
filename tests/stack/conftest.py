"""Fixtures for the stack tests: a PostgreSQL database and a Redis db number of their own, and processes
that are always stopped (SIGTERM, then SIGKILL of the whole process group)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from services.config import Settings
from services.db import make_engine, make_session_factory
from services.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]
TOKEN = "stack-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    predicate: Callable[[], object], timeout: float, what: str, logs: Callable[[], str] = str
) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds with ``what`` and the process logs."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")
        time.sleep(0.2)


class Processes:
    """Subprocesses of one test, each in its own session with its output in a log file."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def stancewatch(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Start ``stancewatch ARGS`` (the command a container runs)."""
        return self.start(name, [sys.executable, "-m", "services.cli", *args], **env)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {p.stem}\n{p.read_text(errors='replace')[-tail:]}" for p in self.log_dir.glob("*.log")
        )

    def stop(self, name: str, timeout: float = 15.0) -> int:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        # Always reap the whole group: prefork children and anything a script started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(5)

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)


@pytest.fixture
def stack_db(postgres_server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one stack test (the processes under test migrate it)."""
    name = f"sw_stack_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def stack_redis(redis_url: str) -> Iterator[str]:
    """The session's Redis db number, emptied before and after the test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield redis_url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def stack_env(stack_db: str, stack_redis: str, tmp_path: Path) -> dict[str, str]:
    """The environment every stack process gets: what .env.example configures, on loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STANCEWATCH_", "PROMETHEUS_"))}
    env.update(
        DATABASE_URL=stack_db,
        BROKER_URL=stack_redis,
        STANCEWATCH_DATA_DIR=str(tmp_path / "data"),
        STANCEWATCH_ADMIN_TOKEN=TOKEN,
        STANCEWATCH_ALLOW_PRIVATE_URLS="1",
        STANCEWATCH_LOG_FORMAT="json",
        STANCEWATCH_WEBHOOK_SCHEDULE="0,0.5,1,2",
        STANCEWATCH_FETCH_CONNECT_TIMEOUT="2",
        STANCEWATCH_FETCH_TIMEOUT="5",
        PYTHONUNBUFFERED="1",
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    )
    return env


@pytest.fixture
def processes(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    procs = Processes(log_dir, stack_env)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def stack_settings(stack_env: dict[str, str]) -> Settings:
    return Settings.from_env(stack_env)


@pytest.fixture
def stack_sessions(stack_settings: Settings) -> Iterator[object]:
    """A session factory on the stack's database, migrated (for arranging and asserting)."""
    upgrade(stack_settings)
    engine = make_engine(stack_settings.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()
