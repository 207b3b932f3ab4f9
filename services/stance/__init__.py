"""Stance extraction: which governments support, oppose, sit out or have not declared on a target.

Pure rules over the text (no model, no network); see docs/stance.md for the rules and their precedence.
"""

from __future__ import annotations

from services.stance.extract import extract_stances
from services.stance.topic import Topic, load_topic

EXTRACTOR_VERSION = "rules-4"

__all__ = ["EXTRACTOR_VERSION", "Topic", "extract_stances", "load_topic"]
