"""Throughput of ``stancewatch extract --batch`` on seed-sized articles, per core.

What is measured is the batch path itself (``services.cli.extract._batch``: JSON in, ``load_topic``,
``extract_stances``, country names, JSON out) over an in-memory JSONL file, in CPU time of this
single-threaded process (``time.process_time``), so a busy machine does not understate the figure.
Start-up (imports, gazetteer and cue compilation) is excluded: a warm-up batch runs first.

Every article is distinct: each pass builds fresh variants of the two seed articles (a different first
and last line), outside the timed section, so no cache keyed on the text or on the line can help.
Prints one JSON object: articles per second per core (CPU), the wall-clock rate alongside, the peak
resident memory (``resource.getrusage``) and its growth after the warm-up, and the observations per article as a sanity check.

    .venv/bin/python bench/bench_extract.py [--seconds 5] [--batch-size 200]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seeds import seed_path  # noqa: E402
from services.cli.extract import _batch  # noqa: E402


def _jsonl(seeds: list[str], first: int, count: int) -> str:
    """``count`` distinct seed-sized articles as a JSONL batch, numbered from ``first``."""
    rows = []
    for n in range(first, first + count):
        text = seeds[n % len(seeds)]
        rows.append(
            json.dumps(
                {"id": f"a{n}", "text": f"Edition {n} of the daily briefing.\n\n{text}\nUpdated {n}.\n"},
                ensure_ascii=False,
            )
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds to measure for")
    parser.add_argument("--batch-size", type=int, default=200, help="articles per timed batch")
    args = parser.parse_args()
    seeds = [
        seed_path("article-v1.txt").read_text(encoding="utf-8"),
        seed_path("article-v2.txt").read_text(encoding="utf-8"),
    ]
    with redirect_stdout(io.StringIO()):
        _batch(io.StringIO(_jsonl(seeds, -2, 2)), None)  # warm-up: imports and compilation
    warm_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    done = chars = observations = 0
    cpu = wall = 0.0
    while cpu < args.seconds:
        batch = _jsonl(seeds, done, args.batch_size)
        out = io.StringIO()
        with redirect_stdout(out):
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            _batch(io.StringIO(batch), None)
            cpu += time.process_time() - cpu_started
            wall += time.perf_counter() - wall_started
        results = [json.loads(line) for line in out.getvalue().splitlines()]
        if len(results) != args.batch_size:
            raise SystemExit(f"expected {args.batch_size} results, got {len(results)}")
        observations += sum(len(r["stances"]) for r in results)
        chars += sum(len(json.loads(line)["text"]) for line in batch.splitlines())
        done += args.batch_size
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "articles": done,
                "cpu_seconds": round(cpu, 2),
                "wall_seconds": round(wall, 2),
                "article_chars": chars // done,
                "articles_per_second_per_core": round(done / cpu, 1),
                "articles_per_second_wall": round(done / wall, 1),
                "observations_per_article": round(observations / done, 2),
                # the CLI's imports (click, the service modules) are most of it; the growth after
                # the warm-up is what extraction itself holds at its peak
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "peak_rss_growth_after_warmup_mib": round((peak_kib - warm_kib) / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
