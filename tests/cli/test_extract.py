"""``stancewatch extract``: single text (json/text) and JSONL batch."""

from __future__ import annotations

import json

from click.testing import CliRunner

from seeds import seed_path
from services.cli import main

TEXT = "Peru condemned the Russian invasion of Ukraine. Bolivia abstained at the UN."


def test_json_output_shape() -> None:
    result = CliRunner().invoke(main, ["extract", "-"], input=TEXT)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["target"] == "Russia"
    row = {s["country"]: s for s in data["stances"]}["PE"]
    assert row["name"] == "Peru" and row["stance"] == "opposes"
    assert set(row) == {"country", "name", "stance", "confidence", "evidence", "start", "end"}


def test_text_table() -> None:
    result = CliRunner().invoke(main, ["extract", str(seed_path("article-v2.txt")), "--format", "text"])
    assert result.exit_code == 0
    assert "Nicaragua" in result.output and "supports" in result.output


def test_batch_keeps_order_and_targets(tmp_path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [{"id": "b", "text": TEXT}, {"id": "a", "text": "Nothing here.", "target": "Russia"}]
        )
    )
    result = CliRunner().invoke(main, ["extract", "--batch", str(path)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in rows] == ["b", "a"]
    assert rows[1]["stances"] == []


def test_batch_malformed_line_names_its_number(tmp_path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": 1, "text": TEXT}) + "\n{not json\n")
    result = CliRunner().invoke(main, ["extract", "--batch", str(path)])
    assert result.exit_code != 0
    assert "line 2" in result.output


def test_unknown_target_is_a_clean_error() -> None:
    result = CliRunner().invoke(main, ["extract", "-", "--target", "Atlantis"], input=TEXT)
    assert result.exit_code != 0 and "unknown target" in result.output
