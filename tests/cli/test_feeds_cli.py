"""``stancewatch feeds`` as a user runs it: one-line errors, text and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from services.cli import main

pytestmark = pytest.mark.db


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "STANCEWATCH_DATA_DIR": str(tmp_path),
        "STANCEWATCH_ALLOW_PRIVATE_URLS": "1",
    }


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_add_list_remove(env) -> None:
    added = cli(env, "feeds", "add", "http://127.0.0.1:9/feed.xml", "--interval", "5", "--format", "json")
    assert added.exit_code == 0, added.output
    feed = json.loads(added.output)
    assert feed["url"] == "http://127.0.0.1:9/feed.xml" and feed["interval"] == 5 and feed["status"] == "new"

    listed = cli(env, "feeds", "list", "--format", "json")
    assert listed.exit_code == 0
    (row,) = json.loads(listed.output)["feeds"]
    assert row["id"] == feed["id"] and row["next_check_at"] and row["last_error"] is None

    text = cli(env, "feeds", "list")
    assert (
        "STATUS" in text.output
        and "NEXT POLL" in text.output
        and "http://127.0.0.1:9/feed.xml" in text.output
    )

    removed = cli(env, "feeds", "remove", str(feed["id"]))
    assert removed.exit_code == 0 and f"removed feed {feed['id']}" in removed.output
    assert json.loads(cli(env, "feeds", "list", "--format", "json").output) == {"feeds": []}


def test_text_add_output(env) -> None:
    result = cli(env, "feeds", "add", "http://127.0.0.1:9/feed.xml")
    assert result.exit_code == 0
    assert result.output.startswith("added feed 1: http://127.0.0.1:9/feed.xml (every 600 s)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("feeds", "add", "not-a-url"), "invalid URL"),
        (("feeds", "add", "ftp://example.com/x"), "only http"),
        (("feeds", "remove", "999"), "no feed with id 999"),
    ],
)
def test_user_errors_are_one_line_without_traceback(env, args, message) -> None:
    result = cli(env, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_duplicate_names_the_existing_id(env) -> None:
    cli(env, "feeds", "add", "http://127.0.0.1:9/feed.xml")
    result = cli(env, "feeds", "add", "http://127.0.0.1:9/feed.xml")
    assert result.exit_code != 0 and "already watched (id 1)" in result.output


def test_interval_below_one_second_is_refused(env) -> None:
    result = cli(env, "feeds", "add", "http://127.0.0.1:9/feed.xml", "--interval", "0")
    assert result.exit_code == 2 and "interval" in result.output.lower()


def test_private_urls_refused_by_default(env) -> None:
    strict = dict(env, STANCEWATCH_ALLOW_PRIVATE_URLS="0")
    result = cli(strict, "feeds", "add", "http://127.0.0.1:9/feed.xml")
    assert result.exit_code != 0 and "127.0.0.1" in result.output and "Traceback" not in result.output


def test_list_shows_errors(env, session_factory) -> None:
    from services.models import Feed

    cli(env, "feeds", "add", "http://127.0.0.1:9/feed.xml")
    with session_factory.begin() as session:
        feed = session.get(Feed, 1)
        feed.status, feed.last_error, feed.error_count = "error", "HTTP 500 Internal Server Error", 2
    text = cli(env, "feeds", "list").output
    assert "error" in text and "last error: HTTP 500 Internal Server Error" in text
