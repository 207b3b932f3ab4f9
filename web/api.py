"""The JSON API under /api: reads for everyone, writes behind the admin bearer token."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, jsonify, request

from services import history
from services.history import parse_change_filter, parse_limit
from web import ApiError, get_session, state
from web.openapi import openapi_document
from web.serialize import change_to_dict, current_to_dict, version_to_dict

bp = Blueprint("api", __name__, url_prefix="/api")

_FILTER_KEYS = ("country", "stance", "kind", "feed", "since", "until")


def require_admin() -> None:
    """Refuse a write unless it carries the configured bearer token (no token configured: refuse all)."""
    token = state().settings.admin_token
    header = request.headers.get("Authorization", "")
    if not header:
        raise ApiError(401, "this write needs Authorization: Bearer <STANCEWATCH_ADMIN_TOKEN>")
    if not token:
        raise ApiError(403, "writes are disabled: no STANCEWATCH_ADMIN_TOKEN is configured")
    scheme, _, given = header.partition(" ")
    # compare_digest on bytes: constant time whatever the guess, and no error on non-ASCII input.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(403, "wrong admin token")


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when it is not one (size is capped by MAX_CONTENT_LENGTH: 413)."""
    data = request.get_json(force=True, silent=True)
    if data is None:
        # get_json(silent=True) hides a too-large body as None; let that surface as 413.
        if request.content_length and request.content_length > (request.max_content_length or 0):
            raise ApiError(413, "request body too large")
        raise ApiError(400, "the request body must be a JSON object")
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


@bp.get("/changes")
def changes() -> Any:
    filt = parse_change_filter({k: request.args[k] for k in _FILTER_KEYS if k in request.args})
    limit = parse_limit(request.args.get("limit"))
    page = history.list_changes(get_session(), filt, limit=limit, cursor=request.args.get("cursor") or None)
    return jsonify({"changes": [change_to_dict(c) for c in page.changes], "next_cursor": page.next_cursor})


@bp.get("/countries/<code>")
def country(code: str) -> Any:
    limit = parse_limit(request.args.get("limit"))
    timeline = history.country_timeline(
        get_session(), code, limit=limit, cursor=request.args.get("cursor") or None
    )
    return jsonify(
        {
            "country": timeline.country,
            "country_name": _name(timeline.country),
            "current": current_to_dict(timeline.current),
            "changes": [change_to_dict(c) for c in timeline.page.changes],
            "next_cursor": timeline.page.next_cursor,
        }
    )


def _name(code: str) -> str:
    from web.filters import country_name

    return country_name(code)


@bp.get("/articles/<int:article_id>/versions")
def versions(article_id: int) -> Any:
    rows = history.list_versions(get_session(), article_id)
    return jsonify({"article_id": article_id, "versions": [version_to_dict(v) for v in rows]})


@bp.get("/feeds")
def feeds() -> Any:
    from services.ingest import feed_to_dict, list_feeds

    return jsonify({"feeds": [feed_to_dict(f) for f in list_feeds(get_session())]})


@bp.post("/feeds")
def add_feed() -> Any:
    require_admin()
    body = json_body()
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ApiError(400, "url: a feed URL (http:// or https://) is required")
    settings = state().settings
    interval = body.get("interval", settings.default_interval)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ApiError(400, "interval: expected a whole number of seconds, at least 1")
    from services.ingest import add_feed as ingest_add_feed
    from services.ingest import feed_to_dict

    session = get_session()
    try:
        feed = ingest_add_feed(session, url, interval=interval, settings=settings)
        session.flush()
        data = feed_to_dict(feed)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return jsonify(data), 201


@bp.delete("/feeds/<int:feed_id>")
def remove_feed(feed_id: int) -> Any:
    require_admin()
    history.check_id("feed", feed_id)
    from services.ingest import remove_feed as ingest_remove_feed

    session = get_session()
    try:
        ingest_remove_feed(session, feed_id)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return "", 204


def _string_list(body: dict[str, Any], key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"{key}: expected a list of strings")
    return value


@bp.get("/webhooks")
def webhooks() -> Any:
    from services.subscriptions import list_subscriptions, subscription_to_dict

    return jsonify({"webhooks": [subscription_to_dict(s) for s in list_subscriptions(get_session())]})


@bp.post("/webhooks")
def add_webhook() -> Any:
    require_admin()
    body = json_body()
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ApiError(400, "url: a receiver URL (http:// or https://) is required")
    secret = body.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise ApiError(400, "secret: expected a string like whsec_<base64>")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise ApiError(400, "description: expected a string")
    from services.subscriptions import create_subscription, subscription_to_dict

    session = get_session()
    try:
        sub, secret_shown = create_subscription(
            session,
            url,
            settings=state().settings,
            secret=secret,
            countries=_string_list(body, "countries"),
            stances=_string_list(body, "stances"),
            events=_string_list(body, "events"),
            description=description,
        )
        session.flush()
        data = subscription_to_dict(sub)
        session.commit()
    except Exception:
        session.rollback()
        raise
    # The secret is shown here, once; no later read returns it.
    data["secret"] = secret_shown
    return jsonify(data), 201


@bp.delete("/webhooks/<int:subscription_id>")
def remove_webhook(subscription_id: int) -> Any:
    require_admin()
    history.check_id("webhook", subscription_id)
    from services.subscriptions import delete_subscription

    session = get_session()
    try:
        delete_subscription(session, subscription_id)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return "", 204


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())
