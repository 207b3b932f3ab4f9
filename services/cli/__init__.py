"""The ``stancewatch`` command: one group, one module per command family.

User mistakes (bad URL, unknown id, unreachable database, bad setting) print one line and exit
non-zero; bugs still raise with a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from services.config import Settings
from services.errors import StancewatchError


class AppContext:
    """What every command needs: settings, built once from the environment, and a lazy engine."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._session_factory: Any = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def session_factory(self) -> Any:
        if self._session_factory is None:
            from services.db import engine_from_settings, make_session_factory

            self._session_factory = make_session_factory(engine_from_settings(self.settings))
        return self._session_factory

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction, committed on success; the command owns it."""
        with self.session_factory.begin() as session:
            yield session


pass_app = click.make_pass_decorator(AppContext, ensure=True)


class StancewatchGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StancewatchError as exc:
            raise click.ClickException(exc.message) from exc
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise click.ClickException(f"database unreachable or unusable: {reason}") from exc


# `--format text|json` for commands whose output a person or a program may read (text by default).
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@click.group(cls=StancewatchGroup)
@click.version_option(package_name="stancewatch")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Watch news feeds and alert when a country's stance changes."""
    import logging

    from services.logging_setup import configure_logging

    app = ctx.ensure_object(AppContext)
    # Warnings and errors only: command output goes to stdout, and a one-shot command should not
    # narrate every HTTP request. Worker, beat and web configure their own, more talkative, logging.
    configure_logging(app.settings, level=logging.WARNING)


def _register() -> None:
    # Each family lives in its own module; importing it attaches its commands to ``main``.
    import importlib

    for name in ("db", "feeds", "poll", "extract", "webhooks", "reextract", "run"):
        try:
            importlib.import_module(f"services.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"services.cli.{name}":
                raise


_register()
