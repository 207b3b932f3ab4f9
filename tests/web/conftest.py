"""Fixtures for the web: an app on the test database, a client, and the seed scenario."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

# The editable install was made before web/__init__.py existed, so it maps ``web`` as a namespace
# package (and this folder is named web too); the repository root first makes ``web`` the app.
# `pip install -e .` again fixes the install itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pytest
from factories import seed_scenario
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from services.config import Settings
from web import create_app


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings, config={"TESTING": True})
    yield app
    app.extensions["stancewatch"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def seeded(session: Session) -> dict[str, object]:
    """The seed's two versions and their changes, committed so the app sees them."""
    rows = seed_scenario(session)
    session.commit()
    return rows
