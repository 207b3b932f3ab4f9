"""Seed data shipped with stancewatch: the founding article, its earlier version, topic files."""

from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parent
TOPICS_DIR = SEEDS_DIR / "topics"


def seed_path(name: str) -> Path:
    """Path of one seed file, e.g. ``seed_path("article-v2.html")``."""
    return SEEDS_DIR / name
