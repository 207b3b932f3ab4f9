"""Per-process resources for tasks: settings, engine and session factory, made lazily after fork."""

from __future__ import annotations

import os
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from services.config import Settings
from services.db import make_engine, make_session_factory


def settings() -> Settings:
    from workers.app import app

    return app.conf.stancewatch_settings


@cache
def _session_factory(pid: int, database_url: str) -> sessionmaker[Session]:
    # Keyed by pid: a prefork child must not reuse the parent's connections.
    return make_session_factory(make_engine(database_url))


def session_factory() -> sessionmaker[Session]:
    return _session_factory(os.getpid(), settings().database_url)
