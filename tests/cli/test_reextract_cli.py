"""``stancewatch reextract`` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.db import utcnow
from services.models import Article, ArticleVersion, Feed

pytestmark = pytest.mark.db
V2 = (Path(__file__).resolve().parents[2] / "seeds" / "article-v2.txt").read_text()


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "STANCEWATCH_DATA_DIR": str(tmp_path)}


def test_reextract_twice_and_bad_input(env, session_factory):
    with session_factory.begin() as session:
        article = Article(feed=Feed(url="http://127.0.0.1:9/f"), entry_key="a", url="http://127.0.0.1:9/a")
        session.add(article)
        session.flush()
        session.add(
            ArticleVersion(
                article_id=article.id,
                number=1,
                content_hash="h",
                text=V2,
                text_extractor="test",
                fetched_at=utcnow(),
            )
        )
        article_id = article.id
    runner = CliRunner()
    first = runner.invoke(main, ["reextract", "--format", "json"], env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["corrections"] == 9 and json.loads(first.output)["events"] == 0
    second = runner.invoke(main, ["reextract", "--article", str(article_id)], env=env)
    assert (
        second.exit_code == 0
        and "0 of 1 versions re-read" in second.output
        and "0 corrections" in second.output
    )
    for args, expected in [
        (["--since", "yesterday"], "--since: expected a date"),
        (["--article", "999"], "article 999 not found"),
        (["--article", "1", "--since", "2024-01-01"], "not both"),
    ]:
        result = runner.invoke(main, ["reextract", *args], env=env)
        assert result.exit_code != 0 and expected in result.output, result.output
