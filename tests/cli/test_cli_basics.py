"""The command line as a user meets it: help, migrations, and one-line errors instead of tracebacks."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from services.cli import main
from services.db import make_engine


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_help_lists_the_contract_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("db", "up", "worker", "beat", "web"):
        assert command in result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "revision 0001" in result.output
    engine = make_engine(url)
    assert {"feeds", "articles", "article_versions", "stance_changes"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL: expected a sqlite"),
        ({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}, "database unreachable"),
        ({"STANCEWATCH_ALLOW_PRIVATE_URLS": "perhaps"}, "STANCEWATCH_ALLOW_PRIVATE_URLS"),
    ],
)
def test_user_mistakes_give_one_line_and_a_nonzero_exit(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    import os

    full_env = {**os.environ, "STANCEWATCH_DATA_DIR": str(tmp_path), **env}
    result = run("db", "upgrade", env=full_env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_every_command_is_in_the_readme(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    missing = [name for name in main.commands if f"stancewatch {name}" not in readme]
    assert not missing, f"README.md does not mention: {missing}"
