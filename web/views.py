"""HTML pages: change history, country timelines, article versions and diffs, status pages, Atom."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, render_template, request, url_for

from services import history
from services.errors import InvalidInputError, NotFoundError
from services.history import parse_change_filter, parse_country, parse_id, parse_limit
from services.models import ArticleVersion
from services.types import Stance
from services.versions import diff_words
from web import get_session
from web.charts import timeline_chart
from web.filters import country_name, iso_time, stance_value

bp = Blueprint("views", __name__)

_FILTER_KEYS = ("country", "stance", "kind", "feed", "since", "until")
PAGE_SIZE = 50
ATOM_SIZE = 50


def _filter_args() -> dict[str, str]:
    return {k: request.args[k] for k in _FILTER_KEYS if request.args.get(k, "").strip()}


@dataclass(frozen=True)
class DiffOp:
    op: str  # equal | insert | delete
    text: str


def _diff_ops(old: ArticleVersion, new: ArticleVersion, previous_number: int | None) -> list[DiffOp]:
    # Ingestion stores each version's diff to the one before; reuse it when that is the pair asked
    # for, else diff the stored texts with the same function.
    ops = new.diff if previous_number == old.number and isinstance(new.diff, list) else None
    if ops is None:
        ops = diff_words(old.text, new.text)
    return [DiffOp(op["op"], op["text"]) for op in ops]


@bp.get("/")
def index() -> str:
    args = _filter_args()
    filt = parse_change_filter(args)
    limit = parse_limit(request.args.get("limit"), PAGE_SIZE)
    session = get_session()
    page = history.list_changes(session, filt, limit=limit, cursor=request.args.get("cursor") or None)
    countries = history.known_countries(session)
    if filt.country and filt.country not in countries:
        countries = sorted([*countries, filt.country])
    return render_template(
        "index.html",
        page=page,
        filt=filt,
        args=args,
        countries=countries,
        feeds=history.list_feeds_brief(session),
        stances=[s.value for s in Stance],
        is_first_page=not request.args.get("cursor"),
        next_url=url_for("views.index", **args, cursor=page.next_cursor) if page.next_cursor else None,
        atom_url=url_for("views.atom", **args),
    )


@bp.get("/countries/<code>")
def country(code: str) -> str:
    try:
        cc = parse_country(code)
    except InvalidInputError:
        raise NotFoundError(f"no country {code!r}: use a two-letter ISO code such as NI") from None
    session = get_session()
    timeline = history.country_timeline(
        session, cc, limit=PAGE_SIZE, cursor=request.args.get("cursor") or None
    )
    next_url = (
        url_for("views.country", code=cc, cursor=timeline.page.next_cursor)
        if timeline.page.next_cursor
        else None
    )
    return render_template(
        "country.html",
        timeline=timeline,
        chart=timeline_chart(timeline.points),
        next_url=next_url,
        is_first_page=not request.args.get("cursor"),
    )


@bp.get("/articles/<int:article_id>")
def article(article_id: int) -> str:
    session = get_session()
    art = history.get_article(session, article_id)
    versions = history.list_versions(session, article_id)
    changes = history.changes_between(session, article_id, 0, versions[-1].number) if versions else []
    by_version: dict[int, list[Any]] = {}
    for change in changes:
        by_version.setdefault(change.to_version_id, []).append(change)
    return render_template("article.html", article=art, versions=versions, by_version=by_version)


@bp.get("/articles/<int:article_id>/diff")
def diff(article_id: int) -> str:
    session = get_session()
    art = history.get_article(session, article_id)
    versions = history.list_versions(session, article_id)
    if not versions:
        raise NotFoundError(f"article {article_id} has no stored versions yet")
    numbers = [v.number for v in versions]
    to_raw = request.args.get("to", "").strip()
    to_number = parse_id("to", to_raw) if to_raw else numbers[-1]
    from_raw = request.args.get("from", "").strip()
    if from_raw:
        from_number = parse_id("from", from_raw)
    else:
        before = [n for n in numbers if n < to_number]
        from_number = before[-1] if before else to_number
    if from_number > to_number:
        raise InvalidInputError("from must not be later than to (compare an older version with a newer one)")
    old = history.get_version(session, article_id, from_number)
    new = history.get_version(session, article_id, to_number)
    earlier = [n for n in numbers if n < new.number]
    ops = _diff_ops(old, new, earlier[-1] if earlier else None) if old.id != new.id else []
    inserted = sum(len(op.text.split()) for op in ops if op.op == "insert")
    deleted = sum(len(op.text.split()) for op in ops if op.op == "delete")
    return render_template(
        "diff.html",
        article=art,
        old=old,
        new=new,
        ops=ops,
        same=old.id == new.id,
        inserted=inserted,
        deleted=deleted,
        versions=versions,
        changes=history.changes_between(session, article_id, from_number, to_number),
    )


@bp.get("/feeds")
def feeds() -> str:
    return render_template("feeds.html", statuses=history.feed_statuses(get_session()))


@bp.get("/webhooks")
def webhooks() -> str:
    session = get_session()
    return render_template(
        "webhooks.html",
        statuses=history.subscription_statuses(session),
        failures=history.recent_failures(session),
    )


def _change_title(change: Any) -> str:
    before, after = stance_value(change.from_stance), stance_value(change.to_stance)
    name = country_name(change.country)
    correction = " (correction)" if change.is_correction else ""
    if change.kind == "country.stance_changed":
        return f"{name}'s current stance: {before} → {after}{correction}"
    return f"{name}: {before} → {after}{correction}"


@bp.get("/changes.atom")
def atom() -> Response:
    args = _filter_args()
    filt = parse_change_filter(args)
    page = history.list_changes(get_session(), filt, limit=ATOM_SIZE)
    fg = FeedGenerator()
    fg.id(url_for("views.index", _external=True, **args))
    fg.title("stancewatch: stance changes" + (f" — {country_name(filt.country)}" if filt.country else ""))
    fg.subtitle("Which countries take which stance, as the news reports and updates it")
    fg.link(href=url_for("views.atom", _external=True, **args), rel="self", type="application/atom+xml")
    fg.link(href=url_for("views.index", _external=True, **args), rel="alternate", type="text/html")
    fg.author(name="stancewatch")
    fg.language("en")
    fg.updated(page.changes[0].detected_at if page.changes else "1970-01-01T00:00:00Z")
    # feedgen prepends entries; add oldest first so the feed reads newest first.
    for change in reversed(page.changes):
        entry = fg.add_entry()
        entry.id(f"{url_for('views.index', _external=True)}#change-{change.id}")
        entry.title(_change_title(change))
        to_number = change.to_version.number if change.to_version else None
        link = url_for("views.diff", article_id=change.article_id, to=to_number, _external=True)
        entry.link(href=link, rel="alternate", type="text/html")
        entry.updated(iso_time(change.detected_at))
        entry.published(iso_time(change.detected_at))
        title = change.article.title if change.article else None
        parts = [f"In “{title}”" if title else f"In article {change.article_id}"]
        if change.evidence_after:
            parts.append(f"Now: {change.evidence_after}")
        if change.evidence_before:
            parts.append(f"Before: {change.evidence_before}")
        # type="text": feedgen escapes it, so a <script> in an article stays text in every reader.
        entry.summary("\n".join(parts), type="text")
        entry.category(term=change.country, label=country_name(change.country))
    body = fg.atom_str(pretty=False)
    return Response(body, mimetype="application/atom+xml")
