"""``stancewatch extract``: stances in one text, or in a JSONL batch.

Batch mode fails fast: a malformed line stops the run with an error naming its line number and exit
status 1, after the lines before it have been written (a scorer must never silently miss a passage).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import click

from services.cli import emit_json, main


def _rows(observations: list) -> list[dict[str, Any]]:
    from services.gazetteer import country_name

    return [
        {
            "country": o.country,
            "name": country_name(o.country),
            "stance": str(o.stance),
            "confidence": o.confidence,
            "evidence": o.evidence,
            "start": o.start,
            "end": o.end,
        }
        for o in observations
    ]


def _text_table(target: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"target: {target}\n(no stances found)"
    width = max(len(r["name"]) for r in rows)
    out = [f"target: {target}", f"{'CC':<3} {'country':<{width}} {'stance':<10} {'conf':>4}  evidence"]
    for r in rows:
        evidence = " ".join(r["evidence"].split())
        if len(evidence) > 90:
            evidence = evidence[:87] + "..."
        out.append(
            f"{r['country']:<3} {r['name']:<{width}} {r['stance']:<10} {r['confidence']:>4.2f}  {evidence}"
        )
    return "\n".join(out)


def _batch(fh: TextIO, default_target: str | None) -> None:
    from services.errors import InvalidInputError
    from services.stance import extract_stances, load_topic

    out = sys.stdout
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"line {number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise click.ClickException(f'line {number}: expected an object with a string "text"')
        try:
            topic = load_topic(row.get("target") or default_target)
        except InvalidInputError as exc:
            raise click.ClickException(f"line {number}: {exc.message}") from exc
        stances = _rows(extract_stances(row["text"], topic))
        out.write(
            json.dumps({"id": row.get("id"), "target": topic.name, "stances": stances}, ensure_ascii=False)
        )
        out.write("\n")
    out.flush()


@main.command()
@click.argument("path", required=False, default="-")
@click.option("--target", default=None, help="Target country or topic (default: Russia).")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
@click.option("--batch", "batch", is_flag=True, help="PATH is JSONL: {id, text, target?} per line.")
def extract(path: str, target: str | None, fmt: str, batch: bool) -> None:
    """Which countries take which stance on the target in a text (PATH or - for stdin)."""
    stream = click.open_file(path, "r", encoding="utf-8")
    with stream as fh:
        if batch:
            _batch(fh, target)
            return
        text = fh.read()
    from services.stance import extract_stances, load_topic

    topic = load_topic(target)
    rows = _rows(extract_stances(text, topic))
    if fmt == "json":
        emit_json({"target": topic.name, "stances": rows})
    else:
        click.echo(_text_table(topic.name, rows))
