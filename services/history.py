"""Read queries behind the web pages, the JSON API and the Atom feed (SQLAlchemy only, no Flask).

Every list is keyset-paginated on ``(detected_at, id)`` descending: a cursor names the last row a
page showed, so rows inserted meanwhile (always newer) never shift or repeat a later page, and a deep
page costs the same index range scan as the first one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session, defer, joinedload

from services.errors import InvalidInputError, NotFoundError
from services.models import (
    EVENT_TYPES,
    Article,
    ArticleVersion,
    CountryStance,
    DeliveryAttempt,
    Feed,
    OutboxEvent,
    StanceChange,
    StanceObservation,
    WebhookDelivery,
    WebhookSubscription,
)
from services.types import Stance

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")
# Primary keys are INTEGER: 32-bit on PostgreSQL, where a larger literal is an error, not a miss.
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class ChangeFilter:
    """Which changes a list shows; every field is optional (None: no restriction)."""

    country: str | None = None
    stance: Stance | None = None
    kind: str | None = None
    feed_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (for links to the next page, the Atom feed, the API)."""
        params: dict[str, str] = {}
        if self.country:
            params["country"] = self.country
        if self.stance:
            params["stance"] = self.stance.value
        if self.kind:
            params["kind"] = self.kind
        if self.feed_id is not None:
            params["feed"] = str(self.feed_id)
        if self.since:
            params["since"] = _format_dt(self.since)
        if self.until:
            params["until"] = _format_dt(self.until)
        return params


@dataclass(frozen=True)
class ChangePage:
    changes: list[StanceChange]
    next_cursor: str | None


@dataclass(frozen=True)
class CountryTimeline:
    country: str
    target: str | None
    current: CountryStance | None
    # Oldest first, for the picture; capped, see country_timeline.
    points: list[tuple[datetime, Stance | None, str]]
    page: ChangePage


@dataclass(frozen=True)
class FeedStatus:
    feed: Feed
    articles: int
    versions: int


@dataclass(frozen=True)
class SubscriptionStatus:
    subscription: WebhookSubscription
    deliveries: dict[str, int] = field(default_factory=dict)
    last_attempt: DeliveryAttempt | None = None


def _format_dt(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_country(raw: str) -> str:
    """Normalise an ISO 3166-1 alpha-2 code; raise InvalidInputError for anything else."""
    if not _COUNTRY_RE.match(raw.strip()):
        raise InvalidInputError(f"country: expected a two-letter ISO 3166-1 code like NI, got {raw!r}")
    return raw.strip().upper()


def parse_datetime(name: str, raw: str, *, end_of_day: bool = False) -> datetime:
    """Parse a date (2022-02-27) or an ISO 8601 time; naive times are UTC."""
    raw = raw.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            value = datetime.combine(day, time.min, tzinfo=UTC)
            # ``until=2022-02-27`` means up to the end of that day, which is what a person means.
            return value + timedelta(days=1) if end_of_day else value
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+", 1) if "T" in raw else raw)
    except ValueError:
        raise InvalidInputError(
            f"{name}: expected a date like 2022-02-27 or an ISO 8601 time, got {raw!r}"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_change_filter(params: Mapping[str, str]) -> ChangeFilter:
    """Build a ChangeFilter from query parameters; empty values mean no restriction."""
    values = {k: v.strip() for k, v in params.items() if isinstance(v, str) and v.strip()}
    stance = None
    if "stance" in values:
        try:
            stance = Stance(values["stance"].lower())
        except ValueError:
            allowed = ", ".join(s.value for s in Stance)
            raise InvalidInputError(f"stance: expected one of {allowed}, got {values['stance']!r}") from None
    kind = values.get("kind")
    if kind is not None and kind not in EVENT_TYPES:
        raise InvalidInputError(f"kind: expected one of {', '.join(EVENT_TYPES)}, got {kind!r}")
    feed_id = None
    if "feed" in values:
        feed_id = parse_id("feed", values["feed"])
    since = parse_datetime("since", values["since"]) if "since" in values else None
    until = parse_datetime("until", values["until"], end_of_day=True) if "until" in values else None
    if since and until and since >= until:
        raise InvalidInputError("since must be earlier than until")
    country = parse_country(values["country"]) if "country" in values else None
    return ChangeFilter(country=country, stance=stance, kind=kind, feed_id=feed_id, since=since, until=until)


def parse_id(name: str, raw: str) -> int:
    """A positive integer id from user input."""
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise InvalidInputError(f"{name}: expected a positive whole number, got {raw!r}")
    return int(raw)


def parse_limit(raw: str | None, default: int = DEFAULT_LIMIT) -> int:
    """A page size between 1 and MAX_LIMIT."""
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInputError(f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def encode_cursor(detected_at: datetime, change_id: int) -> str:
    """An opaque cursor naming the last change of a page."""
    raw = json.dumps([_format_dt(detected_at), change_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Inverse of encode_cursor; raise InvalidInputError for a cursor we did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, change_id = json.loads(raw)
        value = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if not isinstance(change_id, int) or value.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInputError("cursor: not a cursor this server gave out") from None
    return value, change_id


def _filtered_changes(filt: ChangeFilter):
    query = select(StanceChange)
    if filt.country:
        query = query.where(StanceChange.country == filt.country)
    if filt.stance:
        query = query.where(StanceChange.to_stance == filt.stance)
    if filt.kind:
        query = query.where(StanceChange.kind == filt.kind)
    if filt.feed_id is not None:
        query = query.where(
            StanceChange.article_id.in_(select(Article.id).where(Article.feed_id == filt.feed_id))
        )
    if filt.since:
        query = query.where(StanceChange.detected_at >= filt.since)
    if filt.until:
        query = query.where(StanceChange.detected_at < filt.until)
    return query


_VERSION_BRIEF = (ArticleVersion.id, ArticleVersion.number, ArticleVersion.url, ArticleVersion.title)


def list_changes(
    session: Session,
    filt: ChangeFilter | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> ChangePage:
    """Changes matching ``filt``, newest first, one page after ``cursor``."""
    filt = filt or ChangeFilter()
    query = _filtered_changes(filt)
    if cursor:
        before, before_id = decode_cursor(cursor)
        query = query.where(tuple_(StanceChange.detected_at, StanceChange.id) < tuple_(before, before_id))
    query = (
        query.options(
            joinedload(StanceChange.article),
            # The contract shows the version's number, URL and title; never load its text here.
            joinedload(StanceChange.to_version).load_only(*_VERSION_BRIEF),
            joinedload(StanceChange.from_version).load_only(*_VERSION_BRIEF),
        )
        .order_by(StanceChange.detected_at.desc(), StanceChange.id.desc())
        .limit(limit + 1)
    )
    rows = list(session.scalars(query).unique())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].detected_at, rows[-1].id)
    return ChangePage(rows, next_cursor)


TIMELINE_POINTS = 400


def country_timeline(
    session: Session,
    country: str,
    *,
    target: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> CountryTimeline:
    """A country's current stance, its latest changes for the picture, and one page of the list."""
    country = parse_country(country)
    current_query = select(CountryStance).where(CountryStance.country == country)
    if target:
        current_query = current_query.where(CountryStance.target == target)
    current = session.scalars(current_query.order_by(CountryStance.updated_at.desc()).limit(1)).first()
    # Only the newest points are drawn: enough for a readable strip, and one bounded index scan.
    point_query = (
        select(StanceChange.detected_at, StanceChange.to_stance, StanceChange.kind)
        .where(StanceChange.country == country)
        .order_by(StanceChange.detected_at.desc(), StanceChange.id.desc())
        .limit(TIMELINE_POINTS)
    )
    if target:
        point_query = point_query.where(StanceChange.target == target)
    points = [(row[0], row[1], row[2]) for row in session.execute(point_query)]
    points.reverse()
    page = list_changes(session, ChangeFilter(country=country), limit=limit, cursor=cursor)
    return CountryTimeline(country, target or (current.target if current else None), current, points, page)


def check_id(what: str, value: int) -> int:
    """``value`` if it can be a stored id, else NotFoundError (no row can have it)."""
    if not 0 < value <= MAX_ID:
        raise NotFoundError(f"{what} {value} not found")
    return value


def get_article(session: Session, article_id: int) -> Article:
    """One article; NotFoundError if there is none."""
    check_id("article", article_id)
    article = session.get(Article, article_id, options=[joinedload(Article.feed)])
    if article is None:
        raise NotFoundError(f"article {article_id} not found")
    return article


def list_versions(session: Session, article_id: int) -> list[ArticleVersion]:
    """The article's versions, oldest first, without their text and raw HTML (cheap)."""
    get_article(session, article_id)
    query = (
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article_id)
        # The list never shows the text or the raw page; keep those (large) columns out of the query.
        .options(defer(ArticleVersion.text), defer(ArticleVersion.raw_html), defer(ArticleVersion.diff))
        .order_by(ArticleVersion.number)
    )
    return list(session.scalars(query))


def get_version(session: Session, article_id: int, number: int) -> ArticleVersion:
    """Version ``number`` of an article; NotFoundError if there is none."""
    check_id("version", number)
    version = session.scalars(
        select(ArticleVersion).where(ArticleVersion.article_id == article_id, ArticleVersion.number == number)
    ).first()
    if version is None:
        raise NotFoundError(f"article {article_id} has no version {number}")
    return version


def changes_between(
    session: Session, article_id: int, from_number: int, to_number: int
) -> list[StanceChange]:
    """Stance changes recorded for versions after ``from_number`` up to ``to_number`` of one article."""
    low, high = sorted((from_number, to_number))
    version_ids = select(ArticleVersion.id).where(
        ArticleVersion.article_id == article_id, ArticleVersion.number > low, ArticleVersion.number <= high
    )
    query = (
        select(StanceChange)
        .where(StanceChange.article_id == article_id, StanceChange.to_version_id.in_(version_ids))
        .options(
            joinedload(StanceChange.to_version).load_only(*_VERSION_BRIEF), joinedload(StanceChange.article)
        )
        .order_by(StanceChange.detected_at, StanceChange.id)
    )
    return list(session.scalars(query).unique())


def feed_statuses(session: Session) -> list[FeedStatus]:
    """Every feed with its article and version counts, for the status page."""
    articles = dict(session.execute(select(Article.feed_id, func.count()).group_by(Article.feed_id)).all())
    versions = dict(
        session.execute(
            select(Article.feed_id, func.count(ArticleVersion.id))
            .join(ArticleVersion, ArticleVersion.article_id == Article.id)
            .group_by(Article.feed_id)
        ).all()
    )
    feeds = session.scalars(select(Feed).order_by(Feed.id))
    return [FeedStatus(f, articles.get(f.id, 0), versions.get(f.id, 0)) for f in feeds]


def subscription_statuses(session: Session) -> list[SubscriptionStatus]:
    """Every webhook subscription with its deliveries by status and its latest attempt."""
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.subscription_id, WebhookDelivery.status
        )
    )
    for sub_id, status, n in rows:
        counts.setdefault(sub_id, {})[status] = n
    latest_ids = (
        select(func.max(DeliveryAttempt.id))
        .join(WebhookDelivery, WebhookDelivery.id == DeliveryAttempt.delivery_id)
        .group_by(WebhookDelivery.subscription_id)
    )
    latest: dict[int, DeliveryAttempt] = {}
    for attempt in session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.id.in_(latest_ids))
        .options(joinedload(DeliveryAttempt.delivery))
    ):
        latest[attempt.delivery.subscription_id] = attempt
    subs = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
    return [SubscriptionStatus(s, counts.get(s.id, {}), latest.get(s.id)) for s in subs]


def recent_failures(session: Session, limit: int = 20) -> list[WebhookDelivery]:
    """The latest deliveries that failed or are retrying after an error, newest first."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.last_error.is_not(None) | (WebhookDelivery.status == "failed"))
        .options(joinedload(WebhookDelivery.event).load_only(OutboxEvent.id, OutboxEvent.type))
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def table_counts(session: Session) -> dict[str, int]:
    """Row counts for the metrics page (each one cheap: a count over a primary key index)."""
    counts = {}
    for name, model in (
        ("feeds", Feed),
        ("articles", Article),
        ("versions", ArticleVersion),
        ("observations", StanceObservation),
        ("changes", StanceChange),
        ("subscriptions", WebhookSubscription),
    ):
        counts[name] = session.scalar(select(func.count()).select_from(model)) or 0
    return counts


def delivery_counts(session: Session) -> dict[str, int]:
    """Webhook deliveries by status."""
    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    for status, n in session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    ):
        counts[status] = n
    return counts


def known_countries(session: Session) -> list[str]:
    """Countries that have at least one change (for the filter menu), sorted by code."""
    return list(session.scalars(select(CountryStance.country).distinct().order_by(CountryStance.country)))


def list_feeds_brief(session: Session) -> Sequence[tuple[int, str, str | None]]:
    """(id, url, title) of every feed, for the filter menu."""
    return [tuple(r) for r in session.execute(select(Feed.id, Feed.url, Feed.title).order_by(Feed.id))]
