"""``stancewatch up`` (everything on one machine) and the parts for a stack: ``worker``, ``beat``, ``web``.

The parts are started as the very commands a container runs (``celery ... worker``, ``celery ... beat``,
``gunicorn``), so this module imports neither Celery nor Flask; ``up`` supervises them as child
processes and stops all of them on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import click

from services.cli import AppContext, main, pass_app
from services.config import Settings

ALL_QUEUES = "sweep,poll,fetch,deliver"


def celery_worker_argv(
    *,
    concurrency: int | None,
    queues: str,
    pool: str | None,
    beat: bool = False,
    hostname: str | None = None,
    loglevel: str = "INFO",
    quiet: bool = False,
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.app",
        "worker",
        "--loglevel",
        loglevel,
        "-Q",
        queues,
    ]
    if hostname:
        argv += ["--hostname", hostname]
    if quiet:
        argv.insert(argv.index("worker"), "--quiet")  # a global option: no banner, `up` prints its own
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if pool:
        argv += ["--pool", pool]
    if beat:
        argv.append("--beat")
    return argv


def celery_beat_argv() -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.app", "beat", "--loglevel", "INFO"]


def gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        # Forwarded headers are trusted only from gunicorn's default (127.0.0.1); behind a proxy on
        # another address, set FORWARDED_ALLOW_IPS to it (gunicorn reads that variable itself).
        "web.wsgi:app",
    ]


def waitress_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "waitress",
        "--host",
        host,
        "--port",
        str(port),
        "--threads",
        "8",
        "web.wsgi:app",
    ]


def _exec(argv: Sequence[str]) -> None:
    sys.stdout.flush()
    os.execv(argv[0], list(argv))


@main.command()
@click.option("--concurrency", "-c", type=int, default=None, help="Worker processes (default: one per core).")
@click.option("--queues", "-Q", default=ALL_QUEUES, show_default=True, help="Queues to consume.")
@click.option("--pool", type=click.Choice(["prefork", "threads", "solo"]), default=None)
@click.option(
    "--hostname", "-n", default=None, help="Node name, unique per worker (Celery's default: celery@HOST)."
)
@pass_app
def worker(
    app: AppContext, concurrency: int | None, queues: str, pool: str | None, hostname: str | None
) -> None:
    """Run a Celery worker (the stack runs one or more of these)."""
    app.settings  # noqa: B018 (fail here, with a clear message, on a bad setting)
    _exec(celery_worker_argv(concurrency=concurrency, queues=queues, pool=pool, hostname=hostname))


@main.command()
@pass_app
def beat(app: AppContext) -> None:
    """Run the scheduler (exactly one per deployment; a second one refuses to start)."""
    app.settings  # noqa: B018
    _exec(celery_beat_argv())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", "-w", default=2, show_default=True, type=int, help="gunicorn worker processes")
@pass_app
def web(app: AppContext, host: str, port: int, workers: int) -> None:
    """Serve the web app and API with gunicorn."""
    app.settings  # noqa: B018
    _exec(gunicorn_argv(host, port, workers))


class Supervisor:
    """Child processes that live and die together."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: Sequence[str]) -> None:
        # A process group of its own, so Ctrl-C reaches the children only through us, in order.
        proc = subprocess.Popen(list(argv), env=self.env, start_new_session=True)
        self.children.append((name, proc))

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.children:
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, timeout: float = 15.0) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in self.children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def child_env(settings: Settings, *, allow_private: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["STANCEWATCH_DATA_DIR"] = str(settings.data_dir)
    env["DATABASE_URL"] = settings.database_url
    env["BROKER_URL"] = settings.broker_url
    if allow_private:
        env["STANCEWATCH_ALLOW_PRIVATE_URLS"] = "1"
    return env


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--demo", is_flag=True, help="Also serve the seed article as a loopback news site and show an alert."
)
@pass_app
def up(app: AppContext, host: str, port: int, demo: bool) -> None:
    """Run everything on one machine: migrations, web, worker and scheduler."""
    from services.migrate import upgrade

    settings = app.settings
    if demo and not settings.allow_private_urls:
        # The demo's news site and receiver live on loopback.
        settings = Settings.from_env(allow_private_urls=True)
        app._settings = settings
    upgrade(settings)
    supervisor = Supervisor(child_env(settings, allow_private=settings.allow_private_urls))
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    supervisor.start("web", waitress_argv(host, port))
    supervisor.start(
        "worker",
        celery_worker_argv(
            concurrency=2, queues=ALL_QUEUES, pool="threads", beat=True, loglevel="WARNING", quiet=True
        ),
    )
    click.echo(f"stancewatch is up: http://{host}:{port}/  (database {settings.database_url}; Ctrl-C stops)")
    demo_run = None
    if demo:
        from services.demo import Demo

        demo_run = Demo(settings, web_url=f"http://{host}:{port}")
        demo_run.start(app.session_factory)
    try:
        while not stopping:
            exited = supervisor.first_exited()
            if exited:
                name, code = exited
                click.echo(f"stancewatch: {name} exited with status {code}; stopping", err=True)
                break
            if demo_run:
                demo_run.step(app.session_factory)
            time.sleep(0.2)
    finally:
        click.echo("stancewatch: stopping…", err=True)
        if demo_run:
            demo_run.stop()
        supervisor.stop()
    if not stopping:
        sys.exit(1)
