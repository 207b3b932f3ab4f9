"""Contract shapes of what the API returns (one change, one version, one country)."""

from __future__ import annotations

from typing import Any

from services import changes
from services.models import ArticleVersion, CountryStance, StanceChange
from web.filters import iso_time


def change_to_dict(change: StanceChange) -> dict[str, Any]:
    """One change in the public contract's shape (services.changes owns the shape)."""
    return changes.change_to_dict(change)


def version_to_dict(version: ArticleVersion) -> dict[str, Any]:
    """One article version without its text (the list is cheap; the diff page shows text)."""
    return {
        "number": version.number,
        "id": version.id,
        "fetched_at": iso_time(version.fetched_at),
        "title": version.title,
        "url": version.url,
        "content_hash": version.content_hash,
        "text_extractor": version.text_extractor,
        "suspect": bool(version.suspect),
        "suspect_reason": version.suspect_reason,
    }


def current_to_dict(current: CountryStance | None) -> dict[str, Any] | None:
    if current is None:
        return None
    return {
        "target": current.target,
        "stance": current.stance.value,
        "updated_at": iso_time(current.updated_at),
    }
