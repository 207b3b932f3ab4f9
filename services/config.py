"""One settings object, built from environment variables at each entry point.

Nothing reads ``os.environ`` at import time; ``Settings.from_env()`` is called by the CLI, the
Celery app and the web app factory, and the result is passed down.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from services.errors import ConfigError

# The Standard Webhooks retry schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_WEBHOOK_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
EMBEDDED_BROKER_URL = "filesystem://"


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}: expected a boolean (true/false, 1/0, yes/no), got {raw!r}")


def parse_positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name}: must be greater than 0, got {raw!r}")
    return value


def parse_positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name}: must be greater than 0, got {raw!r}")
    return value


def parse_schedule(name: str, raw: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected comma-separated seconds like '0,5,300', got {raw!r}") from None
    if not values or any(v < 0 for v in values):
        raise ConfigError(f"{name}: expected one or more non-negative delays, got {raw!r}")
    return values


def parse_database_url(name: str, raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if not scheme.startswith(("sqlite", "postgresql")):
        raise ConfigError(f"{name}: expected a sqlite:/// or postgresql+psycopg:// URL, got {raw!r}")
    if scheme == "postgresql" or scheme == "postgres":
        # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
        raw = "postgresql+psycopg" + raw[len(scheme) :]
    return raw


def parse_broker_url(name: str, raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if scheme not in {"redis", "rediss", "amqp", "amqps", "pyamqp", "filesystem", "memory", "sqla+sqlite"}:
        raise ConfigError(f"{name}: unsupported broker URL {raw!r} (use redis://, amqp:// or leave unset)")
    return raw


def parse_log_format(name: str, raw: str) -> str:
    if raw not in {"text", "json"}:
        raise ConfigError(f"{name}: expected 'text' or 'json', got {raw!r}")
    return raw


@dataclass(frozen=True)
class Setting:
    """How one field is read from the environment, and what it means (shown in the README)."""

    env: str
    parse: Callable[[str, str], Any]
    help: str


def _setting(env: str, parse: Callable[[str, str], Any], help: str, default: Any) -> Any:
    return field(default=default, metadata={"setting": Setting(env, parse, help)})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(
        "STANCEWATCH_DATA_DIR",
        lambda n, v: Path(v),
        "directory for the SQLite file and embedded broker",
        Path(".stancewatch"),
    )
    database_url: str = _setting(
        "DATABASE_URL",
        parse_database_url,
        "SQLAlchemy URL; default: a SQLite file in the data directory",
        "",
    )
    broker_url: str = _setting(
        "BROKER_URL",
        parse_broker_url,
        "Celery broker; default: an embedded broker in the data directory",
        EMBEDDED_BROKER_URL,
    )
    admin_token: str | None = _setting(
        "STANCEWATCH_ADMIN_TOKEN",
        lambda n, v: v or None,
        "bearer token required for every HTTP write",
        None,
    )
    allow_private_urls: bool = _setting(
        "STANCEWATCH_ALLOW_PRIVATE_URLS",
        parse_bool,
        "allow feed and webhook URLs on loopback/private networks (tests, demo)",
        False,
    )
    default_interval: int = _setting(
        "STANCEWATCH_DEFAULT_INTERVAL",
        parse_positive_int,
        "default feed poll interval in seconds",
        600,
    )
    fetch_connect_timeout: float = _setting(
        "STANCEWATCH_FETCH_CONNECT_TIMEOUT",
        parse_positive_float,
        "connect timeout for feeds and pages (s)",
        10.0,
    )
    fetch_read_timeout: float = _setting(
        "STANCEWATCH_FETCH_TIMEOUT",
        parse_positive_float,
        "read timeout and total time cap for one fetch (s)",
        30.0,
    )
    max_fetch_bytes: int = _setting(
        "STANCEWATCH_MAX_FETCH_BYTES",
        parse_positive_int,
        "size cap for one feed or page",
        10 * 1024 * 1024,
    )
    recheck_max_interval: int = _setting(
        "STANCEWATCH_RECHECK_MAX_INTERVAL",
        parse_positive_int,
        "longest gap between re-fetches of a known article (s)",
        24 * 3600,
    )
    recheck_window: int = _setting(
        "STANCEWATCH_RECHECK_WINDOW",
        parse_positive_int,
        "stop re-fetching an article this long after its entry last changed (s)",
        14 * 24 * 3600,
    )
    webhook_timeout: float = _setting(
        "STANCEWATCH_WEBHOOK_TIMEOUT",
        parse_positive_float,
        "timeout of one webhook attempt (s)",
        15.0,
    )
    webhook_schedule: tuple[float, ...] = _setting(
        "STANCEWATCH_WEBHOOK_SCHEDULE",
        parse_schedule,
        "delays before each webhook attempt, comma-separated seconds",
        DEFAULT_WEBHOOK_SCHEDULE,
    )
    webhook_disable_after: float = _setting(
        "STANCEWATCH_WEBHOOK_DISABLE_AFTER",
        parse_positive_float,
        "disable an endpoint that has failed for this long (s)",
        5 * 24 * 3600.0,
    )
    sweep_interval: float = _setting(
        "STANCEWATCH_SWEEP_INTERVAL",
        parse_positive_float,
        "how often the scheduler looks for due feeds, articles and deliveries (s)",
        0.25,
    )
    claim_lease: float = _setting(
        "STANCEWATCH_CLAIM_LEASE",
        parse_positive_float,
        "how long a claimed feed or article waits for its task before the sweep hands it out again (s)",
        120.0,
    )
    log_format: str = _setting("STANCEWATCH_LOG_FORMAT", parse_log_format, "'text' or 'json' logs", "text")
    user_agent: str = _setting(
        "STANCEWATCH_USER_AGENT",
        lambda n, v: v,
        "User-Agent sent with every fetch",
        "stancewatch/0.1 (news stance monitor)",
    )

    def __post_init__(self) -> None:
        if not self.database_url:
            url = f"sqlite:///{(Path(self.data_dir) / 'stancewatch.db').resolve()}"
            object.__setattr__(self, "database_url", url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from ``environ`` (default ``os.environ``); raise ConfigError naming a bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            setting: Setting = f.metadata["setting"]
            raw = environ.get(setting.env)
            if raw is not None and raw != "":
                values[f.name] = setting.parse(setting.env, raw)
        values.update(overrides)
        return cls(**values)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_embedded_broker(self) -> bool:
        return self.broker_url == EMBEDDED_BROKER_URL

    @property
    def broker_dir(self) -> Path:
        return Path(self.data_dir).resolve() / "broker"


def documented_settings() -> list[Setting]:
    """Every setting, for the README table and the test that keeps it complete."""
    return [f.metadata["setting"] for f in dataclasses.fields(Settings)]
