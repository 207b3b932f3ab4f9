"""Throughput of stance extraction on seed-sized articles, the way ``extract --batch`` runs it.

Start-up (imports, gazetteer and cue compilation) is excluded: one warm-up call runs first. Prints
articles/second on one core and the peak resident memory (``resource.getrusage``).

    .venv/bin/python bench/bench_extract.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seeds import seed_path  # noqa: E402
from services.stance import extract_stances, load_topic  # noqa: E402


def _articles() -> list[str]:
    texts = [seed_path("article-v1.txt").read_text(encoding="utf-8"),
             seed_path("article-v2.txt").read_text(encoding="utf-8")]
    # Variants so no cache can help: the same article with a line appended.
    return [f"{t}\nUpdated {i}.\n" for i in range(50) for t in texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    topic = load_topic()
    articles = _articles()
    extract_stances(articles[0], topic)  # warm-up: compile everything once
    done = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        for text in articles:
            extract_stances(text, topic)
        done += len(articles)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = sum(len(t) for t in articles) // len(articles)
    print(json.dumps({"articles": done, "seconds": round(elapsed, 2), "article_chars": size,
                      # per core: CPU seconds of this single-threaded process, so a busy machine does
                      # not understate it; wall-clock rate alongside.
                      "articles_per_second_per_core": round(done / cpu, 1),
                      "articles_per_second_wall": round(done / elapsed, 1),
                      "peak_rss_mib": round(peak_kib / 1024, 1)}))


if __name__ == "__main__":
    main()
