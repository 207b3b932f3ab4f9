"""The OpenAPI 3 document of /api (kept next to the code; tests/web/test_openapi.py checks them together)."""

from __future__ import annotations

from functools import cache
from typing import Any

from services.history import MAX_ID, MAX_LIMIT
from services.models import EVENT_TYPES
from services.types import Stance

STANCES = [s.value for s in Stance]
_NULLABLE_STANCE = {"type": ["string", "null"], "enum": [*STANCES, None]}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_WRITE_ERRORS = {
    "400": _error("Malformed JSON or invalid field"),
    "401": _error("No Authorization header"),
    "403": _error("Wrong token, or writes disabled (no token configured)"),
    "413": _error("Body larger than the limit"),
    "429": _error("Rate limited"),
}
_READ_ERRORS = {"429": _error("Rate limited")}

_FILTER_PARAMS = [
    {
        "name": "country",
        "in": "query",
        "description": "ISO 3166-1 alpha-2 code",
        "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
    },
    {
        "name": "stance",
        "in": "query",
        "description": "the stance changed to",
        "schema": {"type": "string", "enum": STANCES},
    },
    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(EVENT_TYPES)}},
    {
        "name": "feed",
        "in": "query",
        "description": "feed id",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    },
    {
        "name": "since",
        "in": "query",
        "description": "date (2022-02-27) or ISO 8601 time; changes detected at or after it",
        "schema": {"type": "string"},
    },
    {
        "name": "until",
        "in": "query",
        "description": "date (inclusive) or ISO 8601 time (exclusive); changes detected before it",
        "schema": {"type": "string"},
    },
]
_PAGE_PARAMS = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
    },
    {
        "name": "cursor",
        "in": "query",
        "description": "next_cursor of the previous page",
        "schema": {"type": "string"},
    },
]
_BEARER = [{"bearer": []}]


def _id_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document describing every /api endpoint."""
    nullable_string = {"type": ["string", "null"]}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
                }
            },
        },
        "Change": {
            "type": "object",
            "required": [
                "id",
                "kind",
                "country",
                "country_name",
                "target",
                "from",
                "to",
                "article",
                "evidence",
                "detected_at",
            ],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "enum": list(EVENT_TYPES)},
                "country": {"type": "string"},
                "country_name": {"type": "string"},
                "target": {"type": "string"},
                "from": _NULLABLE_STANCE,
                "to": _NULLABLE_STANCE,
                "article": {
                    "type": "object",
                    "required": ["id", "url", "title", "version"],
                    "properties": {
                        "id": {"type": "integer"},
                        "url": nullable_string,
                        "title": nullable_string,
                        "version": {"type": ["integer", "null"]},
                    },
                },
                "evidence": {
                    "type": "object",
                    "required": ["before", "after"],
                    "properties": {"before": nullable_string, "after": nullable_string},
                },
                "detected_at": {"type": "string", "format": "date-time"},
                "is_correction": {"type": "boolean"},
            },
        },
        "ChangePage": {
            "type": "object",
            "required": ["changes", "next_cursor"],
            "properties": {
                "changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                "next_cursor": nullable_string,
            },
        },
        "Country": {
            "type": "object",
            "required": ["country", "country_name", "current", "changes", "next_cursor"],
            "properties": {
                "country": {"type": "string"},
                "country_name": {"type": "string"},
                "current": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["target", "stance", "updated_at"],
                            "properties": {
                                "target": {"type": "string"},
                                "stance": {"type": "string", "enum": STANCES},
                                "updated_at": {"type": "string", "format": "date-time"},
                            },
                        },
                    ]
                },
                "changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                "next_cursor": nullable_string,
            },
        },
        "Version": {
            "type": "object",
            "required": ["number", "fetched_at", "title", "content_hash", "suspect"],
            "properties": {
                "number": {"type": "integer"},
                "id": {"type": "integer"},
                "fetched_at": {"type": "string", "format": "date-time"},
                "title": nullable_string,
                "url": nullable_string,
                "content_hash": {"type": "string"},
                "text_extractor": {"type": "string"},
                "suspect": {"type": "boolean"},
                "suspect_reason": nullable_string,
            },
        },
        "Versions": {
            "type": "object",
            "required": ["versions"],
            "properties": {
                "article_id": {"type": "integer"},
                "versions": {"type": "array", "items": {"$ref": "#/components/schemas/Version"}},
            },
        },
        "Feed": {
            "type": "object",
            "required": ["id", "url"],
            "properties": {"id": {"type": "integer"}, "url": {"type": "string"}},
        },
        "Feeds": {
            "type": "object",
            "required": ["feeds"],
            "properties": {"feeds": {"type": "array", "items": {"$ref": "#/components/schemas/Feed"}}},
        },
        "NewFeed": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string"}, "interval": {"type": "integer", "minimum": 1}},
        },
        "Webhook": {
            "type": "object",
            "required": ["id", "url"],
            "properties": {"id": {"type": "integer"}, "url": {"type": "string"}},
        },
        "CreatedWebhook": {
            "allOf": [
                {"$ref": "#/components/schemas/Webhook"},
                {"type": "object", "required": ["secret"], "properties": {"secret": {"type": "string"}}},
            ],
            "description": "The subscription; its secret is shown in this response only.",
        },
        "Webhooks": {
            "type": "object",
            "required": ["webhooks"],
            "properties": {"webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}}},
        },
        "NewWebhook": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string"},
                "secret": {"type": "string", "description": "whsec_<base64>; generated when absent"},
                "countries": {"type": "array", "items": {"type": "string"}},
                "stances": {"type": "array", "items": {"type": "string", "enum": STANCES}},
                "events": {"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)}},
                "description": {"type": "string"},
            },
        },
    }
    bad_request = {"400": _error("Invalid filter, limit or cursor")}
    not_found = {"404": _error("Unknown id")}
    paths: dict[str, Any] = {
        "/api/changes": {
            "get": {
                "operationId": "listChanges",
                "summary": "Stance changes, newest first (cursor pagination)",
                "parameters": _FILTER_PARAMS + _PAGE_PARAMS,
                "responses": {"200": _json("#/components/schemas/ChangePage"), **bad_request, **_READ_ERRORS},
            }
        },
        "/api/countries/{code}": {
            "get": {
                "operationId": "getCountry",
                "summary": "A country's current stance and its changes",
                "parameters": [
                    {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
                    *_PAGE_PARAMS,
                ],
                "responses": {"200": _json("#/components/schemas/Country"), **bad_request, **_READ_ERRORS},
            }
        },
        "/api/articles/{article_id}/versions": {
            "get": {
                "operationId": "listVersions",
                "summary": "Versions of one article (without their text)",
                "parameters": [_id_param("article_id")],
                "responses": {"200": _json("#/components/schemas/Versions"), **not_found, **_READ_ERRORS},
            }
        },
        "/api/feeds": {
            "get": {
                "operationId": "listFeeds",
                "responses": {"200": _json("#/components/schemas/Feeds"), **_READ_ERRORS},
            },
            "post": {
                "operationId": "addFeed",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewFeed"}}},
                },
                "responses": {
                    "201": _json("#/components/schemas/Feed", "Created"),
                    **_WRITE_ERRORS,
                    "409": _error("Already watched"),
                },
            },
        },
        "/api/feeds/{feed_id}": {
            "delete": {
                "operationId": "removeFeed",
                "security": _BEARER,
                "parameters": [_id_param("feed_id")],
                "responses": {"204": {"description": "Removed"}, **_WRITE_ERRORS, **not_found},
            }
        },
        "/api/webhooks": {
            "get": {
                "operationId": "listWebhooks",
                "responses": {"200": _json("#/components/schemas/Webhooks"), **_READ_ERRORS},
            },
            "post": {
                "operationId": "addWebhook",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewWebhook"}}},
                },
                "responses": {
                    "201": _json("#/components/schemas/CreatedWebhook", "Created"),
                    **_WRITE_ERRORS,
                },
            },
        },
        "/api/webhooks/{webhook_id}": {
            "delete": {
                "operationId": "removeWebhook",
                "security": _BEARER,
                "parameters": [_id_param("webhook_id")],
                "responses": {"204": {"description": "Removed"}, **_WRITE_ERRORS, **not_found},
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "This document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "stancewatch",
            "version": "0.1.0",
            "description": "Country stance changes found in news articles, and the feeds and webhooks behind them.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
