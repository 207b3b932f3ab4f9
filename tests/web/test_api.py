"""JSON API: changes with filters and cursors, countries, versions, and writes behind the admin token."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from factories import T0, make_article, make_change, make_feed, make_version
from sqlalchemy import func, select

from services.models import Feed, WebhookSubscription
from services.types import Stance
from web import create_app

AUTH = {"Authorization": "Bearer test-token"}


def test_changes_have_the_contract_shape(client, seeded):
    doc = client.get("/api/changes").get_json()
    assert doc["next_cursor"] is None
    ni = next(c for c in doc["changes"] if c["country"] == "NI" and c["kind"] == "stance.changed")
    assert ni["country_name"] == "Nicaragua" and ni["from"] is None and ni["to"] == "supports"
    assert ni["article"] == {
        "id": seeded["article"].id,
        "url": seeded["v2"].url,
        "title": seeded["v2"].title,
        "version": 2,
    }
    assert ni["evidence"]["before"] is None and "blamed Ukraine" in ni["evidence"]["after"]
    assert ni["detected_at"].endswith("Z") and ni["target"] == "Russia" and ni["is_correction"] is False


def test_changes_filters(client, seeded):
    def countries(query: str) -> list[tuple[str, str]]:
        response = client.get(f"/api/changes?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return [(c["country"], c["kind"]) for c in response.get_json()["changes"]]

    assert {c for c, _ in countries("country=NI")} == {"NI"}
    assert countries("country=NI&kind=country.stance_changed") == [("NI", "country.stance_changed")]
    assert {c for c, _ in countries("stance=undeclared")} == {"IN"}
    assert {c for c, _ in countries(f"feed={seeded['feed'].id}")} == {"BY", "IN", "NI"}
    assert countries(f"feed={seeded['feed'].id + 1}") == []
    assert {c for c, _ in countries("until=2022-02-27T15:30:00Z")} == {"BY", "IN"}
    assert {c for c, _ in countries("since=2022-02-27T15:30:00Z")} == {"NI"}


def test_changes_bad_filters_are_400_json(client):
    for query in (
        "country=XYZ",
        "stance=pro",
        "kind=other",
        "limit=100000",
        "limit=-1",
        "cursor=%%%",
        "since=soon",
    ):
        response = client.get(f"/api/changes?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["error"]["message"], query


def test_cursor_pagination_is_stable_under_inserts(client, session):
    feed = make_feed(session)
    article = make_article(session, feed)
    version = make_version(session, article, 1, "text")
    for i in range(7):
        make_change(
            session, version, f"A{chr(65 + i)}", None, Stance.OPPOSES, detected_at=T0 + timedelta(minutes=i)
        )
    session.commit()
    first = client.get("/api/changes?limit=3").get_json()
    # Newer changes arrive between page requests; they must not shift or repeat later pages.
    newer = make_version(session, article, 2, "text 2")
    for i in range(3):
        make_change(
            session,
            newer,
            f"B{chr(65 + i)}",
            None,
            Stance.SUPPORTS,
            detected_at=T0 + timedelta(hours=5, minutes=i),
        )
    session.commit()
    ids = [c["id"] for c in first["changes"]]
    cursor = first["next_cursor"]
    for _ in range(10):
        if not cursor:
            break
        page = client.get("/api/changes", query_string={"limit": 3, "cursor": cursor}).get_json()
        ids += [c["id"] for c in page["changes"]]
        cursor = page["next_cursor"]
    assert len(ids) == 7 == len(set(ids))
    assert all(
        c["country"].startswith("A") for c in client.get("/api/changes?limit=50").get_json()["changes"][3:]
    )


def test_same_time_changes_are_ordered_by_id_across_pages(client, session):
    feed = make_feed(session)
    version = make_version(session, make_article(session, feed), 1, "t")
    for cc in ("FR", "DE", "IT", "ES", "PT"):
        make_change(session, version, cc, None, Stance.OPPOSES, detected_at=T0)
    session.commit()
    page1 = client.get("/api/changes?limit=2").get_json()
    page2 = client.get("/api/changes", query_string={"limit": 10, "cursor": page1["next_cursor"]}).get_json()
    ids = [c["id"] for c in page1["changes"] + page2["changes"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5


def test_country_endpoint(client, seeded):
    doc = client.get("/api/countries/ni").get_json()
    assert doc["country"] == "NI" and doc["country_name"] == "Nicaragua"
    assert doc["current"]["stance"] == "supports" and doc["current"]["target"] == "Russia"
    assert {c["country"] for c in doc["changes"]} == {"NI"}
    assert client.get("/api/countries/Nicaragua").status_code == 400
    assert client.get("/api/countries/ZZ").get_json()["current"] is None


def test_versions_endpoint(client, seeded):
    doc = client.get(f"/api/articles/{seeded['article'].id}/versions").get_json()
    assert [v["number"] for v in doc["versions"]] == [1, 2]
    v2 = doc["versions"][1]
    assert v2["content_hash"] == seeded["v2"].content_hash and v2["suspect"] is False
    assert v2["fetched_at"].endswith("Z") and v2["title"] == seeded["v2"].title
    assert "text" not in v2
    missing = client.get("/api/articles/424242/versions")
    assert missing.status_code == 404 and "424242" in missing.get_json()["error"]["message"]
    assert client.get(f"/api/articles/{2**70}/versions").status_code == 404
    assert client.get(f"/api/articles/{2**31}/versions").status_code == 404  # beyond INTEGER on PostgreSQL
    assert client.get(f"/?feed={2**31}").status_code == 400


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_writes_need_the_token(client, session):
    body = {"url": "http://127.0.0.1:9/feed.xml", "interval": 60}
    missing = client.post("/api/feeds", json=body)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/api/feeds", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert (
        client.post("/api/feeds", json=body, headers={"Authorization": "Basic dGVzdC10b2tlbg=="}).status_code
        == 403
    )
    assert client.post("/api/feeds", json=body, headers={"Authorization": "Bearer tést"}).status_code == 403
    assert client.post("/api/webhooks", json={"url": "http://127.0.0.1:9/h"}).status_code == 401
    assert client.delete("/api/feeds/1").status_code == 401
    assert client.delete("/api/webhooks/1", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert count(session, Feed) == 0 and count(session, WebhookSubscription) == 0


def test_without_a_configured_token_writes_are_refused(settings, session):
    app = create_app(dataclasses.replace(settings, admin_token=None))
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        response = client.post("/api/feeds", json={"url": "http://127.0.0.1:9/f.xml"}, headers=headers)
        assert response.status_code in (401, 403)
    response = client.post("/api/feeds", json={"url": "http://127.0.0.1:9/f.xml"}, headers=AUTH)
    assert (
        response.status_code == 403
        and "no STANCEWATCH_ADMIN_TOKEN" in response.get_json()["error"]["message"]
    )
    assert count(session, Feed) == 0
    app.extensions["stancewatch"].engine.dispose()


def test_malformed_and_oversized_bodies_write_nothing(client, session):
    for data in (b"{not json", b"[1, 2]", b'"url"', b""):
        response = client.post("/api/feeds", data=data, headers={**AUTH, "Content-Type": "application/json"})
        assert response.status_code == 400, data
    big = b'{"url": "http://127.0.0.1:9/f.xml", "pad": "' + b"x" * (70 * 1024) + b'"}'
    response = client.post("/api/feeds", data=big, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.get_json()["error"]["status"] == 413
    response = client.post("/api/webhooks", data=big, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    for body in ({"url": 5}, {"url": "http://127.0.0.1:9/f.xml", "interval": "often"}, {"url": "ftp://x/y"}):
        assert client.post("/api/feeds", json=body, headers=AUTH).status_code == 400, body
    assert (
        client.post(
            "/api/webhooks", json={"url": "http://127.0.0.1:9/h", "countries": "NI"}, headers=AUTH
        ).status_code
        == 400
    )
    assert count(session, Feed) == 0 and count(session, WebhookSubscription) == 0


def test_feed_create_list_delete(client, session):
    response = client.post(
        "/api/feeds", json={"url": "http://127.0.0.1:9/feed.xml", "interval": 30}, headers=AUTH
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    feed = response.get_json()
    assert feed["url"] == "http://127.0.0.1:9/feed.xml" and feed["interval"] == 30
    again = client.post("/api/feeds", json={"url": "http://127.0.0.1:9/feed.xml"}, headers=AUTH)
    assert again.status_code == 409
    assert [f["id"] for f in client.get("/api/feeds").get_json()["feeds"]] == [feed["id"]]
    assert client.delete(f"/api/feeds/{feed['id']}", headers=AUTH).status_code == 204
    assert client.delete(f"/api/feeds/{feed['id']}", headers=AUTH).status_code == 404
    assert client.get("/api/feeds").get_json()["feeds"] == []


def test_webhook_secret_is_shown_once(client, session):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    response = client.post(
        "/api/webhooks",
        json={
            "url": "http://127.0.0.1:9/hook",
            "secret": secret,
            "countries": ["ni"],
            "stances": ["supports"],
        },
        headers=AUTH,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["secret"] == secret and created["countries"] == ["NI"]
    generated = client.post(
        "/api/webhooks", json={"url": "http://127.0.0.1:9/other"}, headers=AUTH
    ).get_json()
    assert generated["secret"].startswith("whsec_")
    listing = client.get("/api/webhooks").get_data(as_text=True)
    assert secret not in listing and generated["secret"] not in listing and "whsec_" not in listing
    assert "whsec_" not in client.get("/webhooks").get_data(as_text=True)
    assert client.delete(f"/api/webhooks/{created['id']}", headers=AUTH).status_code == 204
    assert client.delete(f"/api/webhooks/{created['id']}", headers=AUTH).status_code == 404
    assert len(client.get("/api/webhooks").get_json()["webhooks"]) == 1


def test_private_urls_refused_unless_allowed(settings, session):
    app = create_app(dataclasses.replace(settings, allow_private_urls=False))
    client = app.test_client()
    for path, body in (
        ("/api/feeds", {"url": "http://127.0.0.1:9/f.xml"}),
        ("/api/webhooks", {"url": "http://169.254.169.254/"}),
    ):
        response = client.post(path, json=body, headers=AUTH)
        assert response.status_code == 400, path
    assert count(session, Feed) == 0 and count(session, WebhookSubscription) == 0
    app.extensions["stancewatch"].engine.dispose()


def test_rate_limit_answers_429_json(settings):
    app = create_app(settings, config={"API_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    statuses = [client.get("/api/changes").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    assert client.get("/api/changes").get_json()["error"]["status"] == 429
    assert client.get("/").status_code == 200  # pages are not limited
    app.extensions["stancewatch"].engine.dispose()


def test_healthz_ok_and_failing(settings, tmp_path):
    app = create_app(settings)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}
    app.extensions["stancewatch"].engine.dispose()
    broken = create_app(dataclasses.replace(settings, broker_url="redis://127.0.0.1:9/0"))
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "ok" and body["broker"].startswith("fail") and body["status"] == "fail"
    broken.extensions["stancewatch"].engine.dispose()


def test_healthz_pings_real_redis(settings, redis_url):
    app = create_app(dataclasses.replace(settings, broker_url=redis_url))
    assert app.test_client().get("/healthz").get_json()["broker"] == "ok"
    app.extensions["stancewatch"].engine.dispose()


def test_healthz_names_an_unreachable_database(settings, tmp_path):
    bad = dataclasses.replace(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:9/none")
    app = create_app(bad)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"].startswith("fail")
    app.extensions["stancewatch"].engine.dispose()


def test_metrics(client, seeded):
    client.get("/")
    client.get("/api/changes")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'stancewatch_rows{table="changes"} 4.0' in text
    assert 'stancewatch_rows{table="versions"} 2.0' in text
    assert 'stancewatch_webhook_deliveries{status="failed"} 0.0' in text
    assert 'stancewatch_http_requests_total{endpoint="api.changes",method="GET",status="200"} 1.0' in text
    assert "stancewatch_http_request_duration_seconds_bucket" in text


def test_change_list_costs_a_fixed_number_of_queries(app, client, session):
    from sqlalchemy import event

    feed = make_feed(session)
    for a in range(5):
        article = make_article(session, feed, key=f"k{a}")
        v1 = make_version(session, article, 1, f"text {a}")
        v2 = make_version(session, article, 2, f"text {a} more")
        for cc in ("FR", "DE", "IT"):
            make_change(session, v2, cc, Stance.NEUTRAL, Stance.OPPOSES, from_version=v1)
    session.commit()
    statements: list[str] = []
    engine = app.extensions["stancewatch"].engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert len(client.get("/api/changes").get_json()["changes"]) == 15
        api_queries = len([s for s in statements if s.lstrip().upper().startswith("SELECT")])
        statements.clear()
        client.get("/")
        page_queries = len([s for s in statements if s.lstrip().upper().startswith("SELECT")])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    # One query for the page (article and versions joined), none per row.
    assert api_queries == 1, statements
    assert page_queries <= 3, statements
