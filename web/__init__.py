"""The Flask app factory: pages, the JSON API, the Atom feed, health and metrics."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from services.config import Settings
from services.db import make_engine, make_session_factory
from services.errors import ConflictError, InvalidInputError, NotFoundError, StancewatchError, UnsafeURLError

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DEFAULTS: dict[str, Any] = {
    # A write body is a small JSON object; anything larger is refused before it is parsed.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # Generous: a newsroom dashboard and a few scripts, not a public firehose. Override with
    # STANCEWATCH_WEB_API_RATE_LIMIT / STANCEWATCH_WEB_WRITE_RATE_LIMIT, or config=.
    "API_RATE_LIMIT": "1200 per minute",
    "WRITE_RATE_LIMIT": "60 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",  # the Redis broker, when there is one
    "PROXY_COUNT": 0,  # reverse proxies in front (STANCEWATCH_WEB_PROXY_COUNT)
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_HEADERS_ENABLED": True,
    "JSON_SORT_KEYS": False,
}


@dataclass
class WebState:
    """What the app keeps in ``app.extensions["stancewatch"]``."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]


class ApiError(Exception):
    """An HTTP error with a message for the person or program that asked."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def state() -> WebState:
    from flask import current_app

    return current_app.extensions["stancewatch"]


def get_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = state().session_factory()
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


def _wants_json() -> bool:
    if request.path.startswith("/api/") or request.path in ("/healthz",):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _error_status(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.message
    if isinstance(exc, NotFoundError):
        return 404, exc.message
    if isinstance(exc, ConflictError):
        return 409, exc.message
    if isinstance(exc, UnsafeURLError | InvalidInputError):
        return 400, exc.message
    if isinstance(exc, HTTPException):
        return exc.code or 500, exc.description or exc.name
    return 500, "internal error"


def handle_error(exc: BaseException) -> Any:
    """The one place errors become responses: JSON for the API, a page otherwise."""
    status, message = _error_status(exc)
    if status >= 500:
        logger.exception("request failed: %s %s", request.method, request.path, exc_info=exc)
        session = g.get("db_session")
        if session is not None:
            session.rollback()
        message = "internal error" if not isinstance(exc, ApiError | HTTPException) else message
    if status == 413:
        message = f"request body too large (limit {request.max_content_length} bytes)"
    if status == 429:
        message = f"too many requests ({message})"
    if _wants_json():
        response = jsonify({"error": {"status": status, "message": message}})
    else:
        response = make_response(render_template("error.html", status=status, message=message))
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="stancewatch"'
    if isinstance(exc, HTTPException) and exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _security_headers(response: Any) -> Any:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def create_app(settings: Settings | None = None, *, config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app; ``config`` overrides Flask settings (tests, the benchmark)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    # Flask-level knobs (rate limits) from STANCEWATCH_WEB_* variables, read here at the entry point.
    app.config.from_prefixed_env("STANCEWATCH_WEB")
    if config:
        app.config.update(config)
    if app.config["RATELIMIT_STORAGE_URI"] == "memory://" and settings.broker_url.startswith("redis"):
        # Counted in memory, each gunicorn worker would allow the whole limit on its own.
        app.config["RATELIMIT_STORAGE_URI"] = settings.broker_url
    if app.config.get("PROXY_COUNT"):
        # Behind N reverse proxies, take the client address from X-Forwarded-For (rate limits, logs).
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    engine = make_engine(settings.database_url)
    app.extensions["stancewatch"] = WebState(settings, engine, make_session_factory(engine))
    app.teardown_appcontext(_close_session)

    # One limiter per app (tests build many apps); pages and ops endpoints are not limited.
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        default_limits=[app.config["API_RATE_LIMIT"]],
        default_limits_exempt_when=lambda: not request.path.startswith("/api/"),
    )

    from web import api, ops, views
    from web.filters import register_filters

    register_filters(app)
    app.register_blueprint(views.bp)
    limiter.limit(app.config["WRITE_RATE_LIMIT"], methods=["POST", "DELETE"], override_defaults=False)(api.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    ops.init_metrics(app)

    app.register_error_handler(Exception, handle_error)
    app.after_request(_security_headers)
    return app


__all__ = ["ApiError", "StancewatchError", "create_app", "get_session", "state"]
