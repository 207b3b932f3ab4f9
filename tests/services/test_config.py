from pathlib import Path

import pytest

from services.config import DEFAULT_WEBHOOK_SCHEDULE, Settings, documented_settings
from services.errors import ConfigError


def test_defaults_use_an_embedded_database_and_broker(tmp_path: Path) -> None:
    settings = Settings.from_env({"STANCEWATCH_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'stancewatch.db'}"
    assert settings.uses_embedded_broker
    assert settings.broker_dir == tmp_path.resolve() / "broker"
    assert settings.allow_private_urls is False
    assert settings.admin_token is None
    assert settings.webhook_schedule == DEFAULT_WEBHOOK_SCHEDULE


def test_values_are_read_and_coerced() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@db/x",
            "BROKER_URL": "redis://redis:6379/0",
            "STANCEWATCH_ADMIN_TOKEN": "s3cret",
            "STANCEWATCH_ALLOW_PRIVATE_URLS": "yes",
            "STANCEWATCH_WEBHOOK_SCHEDULE": "0, 1,2.5",
            "STANCEWATCH_MAX_FETCH_BYTES": "1000",
        }
    )
    # The bare postgresql scheme is mapped to the psycopg 3 driver we ship.
    assert settings.database_url == "postgresql+psycopg://u@db/x"
    assert not settings.is_sqlite
    assert settings.broker_url == "redis://redis:6379/0"
    assert not settings.uses_embedded_broker
    assert settings.admin_token == "s3cret"
    assert settings.allow_private_urls is True
    assert settings.webhook_schedule == (0.0, 1.0, 2.5)
    assert settings.max_fetch_bytes == 1000


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("STANCEWATCH_ALLOW_PRIVATE_URLS", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("BROKER_URL", "kafka://x"),
        ("STANCEWATCH_DEFAULT_INTERVAL", "0"),
        ("STANCEWATCH_DEFAULT_INTERVAL", "ten"),
        ("STANCEWATCH_WEBHOOK_SCHEDULE", "0,-5"),
        ("STANCEWATCH_FETCH_TIMEOUT", "fast"),
        ("STANCEWATCH_LOG_FORMAT", "xml"),
    ],
)
def test_a_bad_value_names_its_variable(env: str, value: str) -> None:
    with pytest.raises(ConfigError, match=env):
        Settings.from_env({env: value})


def test_every_setting_is_documented_in_the_readme(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    missing = [s.env for s in documented_settings() if f"`{s.env}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"
