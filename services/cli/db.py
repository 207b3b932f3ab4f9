"""``stancewatch db``: schema migrations."""

from __future__ import annotations

import click

from services.cli import AppContext, main, pass_app
from services.migrate import current_revision, upgrade


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to upgrade to.")
@pass_app
def db_upgrade(app: AppContext, revision: str) -> None:
    """Apply migrations (``stancewatch up`` does this itself)."""
    upgrade(app.settings, revision)
    click.echo(f"database at revision {current_revision(app.settings)}")


@db.command("current")
@pass_app
def db_current(app: AppContext) -> None:
    """Print the schema revision the database is at."""
    click.echo(current_revision(app.settings) or "empty (run `stancewatch db upgrade`)")
