"""The OpenAPI document matches the API: schemathesis generates requests from it and checks every answer."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from web.openapi import openapi_document


def run_operations(
    app, methods: set[str], max_examples: int, headers: dict[str, str] | None = None
) -> list[str]:
    """Generate requests for each operation of ``methods`` from the served document and validate answers."""
    # schemathesis' lazy pytest integration does not work with this pytest; drive hypothesis directly.
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() not in methods:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case):
            # An opaque cursor or a free-form date that does not parse is a documented 400, which
            # "schema-valid data must be accepted" cannot know; every other check runs.
            response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
            if headers:
                # Without the right token nothing may succeed, whatever the body.
                assert response.status_code in (400, 403, 404, 405, 413), response.status_code

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    return checked


def test_read_endpoints_match_the_document(app, seeded):
    checked = run_operations(app, {"GET"}, 30)
    assert "GET /api/changes" in checked and "GET /api/articles/{article_id}/versions" in checked


def test_write_endpoints_refuse_without_a_token_as_documented(app, seeded):
    checked = run_operations(app, {"POST", "DELETE"}, 15, headers={"Authorization": "Bearer wrong-token"})
    assert len(checked) == 4


def test_document_covers_every_api_route(app):
    doc = openapi_document()
    assert doc["openapi"].startswith("3")
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = rule.rule
        for arg in rule.arguments:
            name = {"subscription_id": "webhook_id"}.get(arg, arg)
            path = path.replace(f"<int:{arg}>", f"{{{name}}}").replace(f"<{arg}>", f"{{{name}}}")
        routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented


def test_served_document_is_the_module_document(client):
    assert client.get("/api/openapi.json").get_json() == openapi_document()
