"""Shared fixtures: settings and a clean database per test, on SQLite or real PostgreSQL.

Database-backed tests use SQLite by default and PostgreSQL when ``STANCEWATCH_TEST_DATABASE=postgres``
(CI runs the suite both ways). Tests marked ``postgres`` or ``redis`` always use the real server:
``STANCEWATCH_TEST_POSTGRES`` / ``STANCEWATCH_TEST_REDIS`` name it, else the local default is tried;
unreachable means skipped, or failed when ``STANCEWATCH_TEST_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from services.config import Settings
from services.db import make_engine, make_session_factory
from services.migrate import upgrade
from services.models import Base

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def _require_or_skip(what: str) -> None:
    if os.environ.get("STANCEWATCH_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required here (STANCEWATCH_TEST_REQUIRE_SERVICES=1) but not reachable")
    pytest.skip(f"{what} not reachable; set STANCEWATCH_TEST_POSTGRES / STANCEWATCH_TEST_REDIS")


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("STANCEWATCH_TEST_POSTGRES", DEFAULT_POSTGRES)
    if not _reachable(url, 5432):
        _require_or_skip(f"PostgreSQL at {url}")
    return url


@pytest.fixture(scope="session")
def postgres_database(postgres_server_url: str) -> Iterator[str]:
    """A database of its own for this test session (concurrent sessions do not meet), migrated to head."""
    name = f"sw_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(Settings(database_url=url))
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """A clean PostgreSQL database (every table emptied before the test)."""
    engine = create_engine(postgres_database)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(Settings(database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A clean SQLite file, copied from a migrated template (fast)."""
    path = tmp_path / "stancewatch.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str:
    if os.environ.get("STANCEWATCH_TEST_DATABASE") == "postgres":
        return request.getfixturevalue("postgres_url")
    return request.getfixturevalue("sqlite_url")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: a clean database, loopback URLs allowed, a compressed webhook schedule."""
    return Settings(
        database_url=db_url,
        data_dir=tmp_path,
        allow_private_urls=True,
        admin_token="test-token",
        webhook_schedule=(0, 0.2, 0.5, 1.0),
        fetch_connect_timeout=2.0,
        fetch_read_timeout=5.0,
    )


@pytest.fixture
def session_factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and asserting; call ``session.commit()`` to make rows visible to others."""
    with session_factory() as s:
        yield s


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database number of its own per test session (1-15), so concurrent runs do not meet."""
    url = os.environ.get("STANCEWATCH_TEST_REDIS", DEFAULT_REDIS)
    if not _reachable(url, 6379):
        _require_or_skip(f"Redis at {url}")
    base = url.rsplit("/", 1)[0] if urlsplit(url).path not in ("", "/") else url.rstrip("/")
    return f"{base}/{1 + secrets.randbelow(15)}"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
