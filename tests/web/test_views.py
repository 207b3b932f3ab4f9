"""Pages: change history with filters and pagination, country timeline, versions, diff, status pages."""

from __future__ import annotations

import re
from datetime import timedelta

from factories import T0, make_article, make_change, make_delivery, make_feed, make_subscription, make_version

from services.types import Stance


def listing(page: str) -> str:
    """The change list of a page, without the filter menus that name every country."""
    return page.split("</form>", 1)[1] if "</form>" in page else page


def test_index_lists_changes_newest_first_with_badges_and_evidence(client, seeded):
    page = listing(client.get("/").get_data(as_text=True))
    assert "Nicaragua" in page and "Belarus" in page
    assert page.index("Nicaragua") < page.index("Belarus")  # v2's change is newer
    assert "\U0001f1f3\U0001f1ee" in page  # the Nicaraguan flag
    assert 'class="badge badge-supports"' in page and 'class="badge badge-none"' in page
    assert "blamed Ukraine for inciting the war" in page
    article_id = seeded["article"].id
    assert f"/articles/{article_id}/diff?to=2&amp;from=1" in page


def test_index_filters_by_country_stance_feed_and_date(client, seeded, session):
    ni_only = listing(client.get("/?country=ni").get_data(as_text=True))
    assert "blamed Ukraine" in ni_only and "Belarus" not in ni_only
    undeclared = listing(client.get("/?stance=undeclared").get_data(as_text=True))
    assert "India" in undeclared and "Nicaragua" not in undeclared
    other_feed = make_feed(session, url="http://127.0.0.1:1/other.xml", title="Other")
    session.commit()
    assert "No changes" in client.get(f"/?feed={other_feed.id}").get_data(as_text=True)
    assert "Nicaragua" in listing(client.get(f"/?feed={seeded['feed'].id}").get_data(as_text=True))
    # v1 at T0+1h, v2 at T0+2h: an until before v2 leaves out Nicaragua
    until = (T0 + timedelta(hours=1, minutes=30)).isoformat().replace("+00:00", "Z")
    body = listing(client.get("/", query_string={"until": until}).get_data(as_text=True))
    assert "Belarus" in body and "Nicaragua" not in body
    assert "Nicaragua" not in listing(client.get("/?until=2022-02-26").get_data(as_text=True))
    assert "Nicaragua" in listing(client.get("/?since=2022-02-27").get_data(as_text=True))


def test_bad_filters_give_400_with_a_message(client, seeded):
    for query, words in (
        ("country=Nicaragua", "two-letter"),
        ("stance=maybe", "stance"),
        ("since=yesterday", "since"),
        ("feed=abc", "feed"),
        ("cursor=garbage!!", "cursor"),
        ("limit=0", "limit"),
        ("since=2022-03-01&until=2022-02-01", "earlier"),
    ):
        response = client.get(f"/?{query}")
        assert response.status_code == 400, query
        assert words in response.get_data(as_text=True), query
        assert "text/html" in response.content_type


def test_index_paginates_with_a_cursor_and_no_repeats(client, session):
    feed = make_feed(session)
    article = make_article(session, feed)
    version = make_version(session, article, 1, "text")
    countries = ["AR", "BR", "CL", "DE", "EG", "FR", "GH", "HU", "IE", "JP", "KE"]
    for i, cc in enumerate(countries):
        make_change(session, version, cc, None, Stance.OPPOSES, detected_at=T0 + timedelta(minutes=i))
    session.commit()
    seen: list[str] = []
    url = "/?limit=4"
    for _ in range(10):
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r'id="change-(\d+)"', page)
        match = re.search(r'href="([^"]+)" rel="next"', page)
        if not match:
            break
        url = match.group(1).replace("&amp;", "&")
    assert len(seen) == len(countries) == len(set(seen))
    assert [int(x) for x in seen] == sorted((int(x) for x in seen), reverse=True)


def test_country_page_shows_current_stance_svg_timeline_and_evidence(client, seeded):
    response = client.get("/countries/ni")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nicaragua" in page and "<svg" in page and "<circle" in page and "<polyline" in page
    assert "badge badge-supports" in page.split('class="current"')[1].split("</p>")[0]
    assert "blamed Ukraine for inciting the war" in page


def test_unknown_country_and_article_give_404_pages(client, seeded):
    assert client.get("/countries/Nicaragua").status_code == 404
    empty = client.get("/countries/ZZ")
    assert empty.status_code == 200 and "No changes recorded" in empty.get_data(as_text=True)
    for path in ("/articles/999999", "/articles/999999/diff?from=1&to=2"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.get_data(as_text=True)
    art = seeded["article"].id
    missing = client.get(f"/articles/{art}/diff?from=1&to=7")
    assert missing.status_code == 404 and "no version 7" in missing.get_data(as_text=True)


def test_article_page_lists_versions_with_their_changes(client, seeded):
    art = seeded["article"].id
    page = client.get(f"/articles/{art}").get_data(as_text=True)
    assert "v1" in page and "v2" in page and "diff with v1" in page
    assert page.index("Belarus") < page.index("Nicaragua")


def test_diff_highlights_the_inserted_nicaragua_paragraph(client, seeded):
    art = seeded["article"].id
    response = client.get(f"/articles/{art}/diff?from=1&to=2")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    inserted = "".join(re.findall(r"<ins>(.*?)</ins>", page, flags=re.S))
    assert "Nicaragua&#39;s President Daniel Ortega" in inserted
    assert "Belarus" not in inserted  # unchanged text is not highlighted
    side = page.split('class="diff-changes"')[1]
    assert "Nicaragua" in side and "Belarus" not in side  # only v1→v2's changes beside it
    assert client.get(f"/articles/{art}/diff?from=2&to=1").status_code == 400
    assert client.get(f"/articles/{art}/diff").status_code == 200  # defaults: latest against previous


def test_diff_uses_the_stored_diff_of_consecutive_versions(client, session):
    feed = make_feed(session)
    article = make_article(session, feed)
    make_version(session, article, 1, "alpha beta")
    make_version(
        session,
        article,
        2,
        "alpha gamma",
        diff=[{"op": "equal", "text": "alpha "}, {"op": "insert", "text": "STORED"}],
    )
    session.commit()
    assert "<ins>STORED</ins>" in client.get(f"/articles/{article.id}/diff?from=1&to=2").get_data(
        as_text=True
    )


def test_feeds_and_webhooks_status_pages_never_show_secrets(client, seeded, session):
    feed = seeded["feed"]
    feed.status, feed.last_error, feed.error_count = "error", "HTTP 503 from server", 3
    sub = make_subscription(session, description="newsroom bot")
    make_delivery(session, sub, seeded["ni"], "delivered")
    make_delivery(session, sub, seeded["by"], "failed", error="receiver said 500")
    session.commit()
    feeds = client.get("/feeds").get_data(as_text=True)
    assert feed.url in feeds and "HTTP 503 from server" in feeds and "(3×)" in feeds
    hooks = client.get("/webhooks").get_data(as_text=True)
    assert sub.url in hooks and "newsroom bot" in hooks and "receiver said 500" in hooks
    assert sub.secret not in hooks and "whsec_" not in hooks
    row = hooks.split(sub.url)[1].split("</tr>")[0]
    assert re.findall(r"<td>(\d+)</td>", row) == ["1", "0", "1"]  # delivered, pending, failed
