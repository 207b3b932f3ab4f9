"""Typed SQLAlchemy models: what stancewatch stores, with constraints that make duplicates impossible."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Base, utcnow
from services.types import Stance

StanceType = Enum(
    Stance,
    name="stance",
    native_enum=False,
    length=16,
    values_callable=lambda enum: [member.value for member in enum],
    validate_strings=True,
)

# Event types sent to webhooks (and shown in /api/changes as "kind").
EVENT_STANCE_CHANGED = "stance.changed"
EVENT_COUNTRY_STANCE_CHANGED = "country.stance_changed"
EVENT_TYPES = (EVENT_STANCE_CHANGED, EVENT_COUNTRY_STANCE_CHANGED)


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=600)
    # new | ok | not_modified | error | disabled
    status: Mapped[str] = mapped_column(String(16), default="new")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    bozo_warning: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="feed", passive_deletes=True)

    __table_args__ = (CheckConstraint("interval_seconds >= 1", name="feed_interval_positive"),)


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    # Identity inside the feed: the entry's guid, else its link, else a hash of title and date.
    entry_key: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    # Fingerprint of the feed entry (title, dates, summary); when it changes the re-check window restarts.
    entry_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Conditional GET and byte-level short cut for cheap re-checks of the page.
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    raw_hash: Mapped[str | None] = mapped_column(String(64))
    # The version whose text the page shows now (a page may flip back to an earlier text).
    # No foreign key: articles and article_versions would reference each other, which needs
    # ALTER-time constraints that SQLite cannot add. Versions are never deleted on their own.
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    check_interval_seconds: Mapped[int] = mapped_column(Integer, default=600)
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    recheck_until: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    feed: Mapped[Feed] = relationship(back_populates="articles")
    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article", foreign_keys="ArticleVersion.article_id", order_by="ArticleVersion.number"
    )

    __table_args__ = (UniqueConstraint("feed_id", "entry_key", name="uq_article_feed_entry"),)


class ArticleAlias(Base):
    """Every URL an article was seen under (entry links, final URLs after redirects, tracking stripped)."""

    __tablename__ = "article_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("feed_id", "url", name="uq_alias_feed_url"),)


class ArticleVersion(Base):
    __tablename__ = "article_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    # The raw input is kept so text and stances can be re-extracted when the extractors improve.
    raw_html: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_content_type: Mapped[str | None] = mapped_column(Text)
    text_extractor: Mapped[str] = mapped_column(String(64))
    # Word-level diff to the previous version (services.versions), as JSON, computed once.
    diff: Mapped[Any | None] = mapped_column(JSON)
    suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    suspect_reason: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="versions", foreign_keys=[article_id])
    observations: Mapped[list[StanceObservation]] = relationship(back_populates="version")

    __table_args__ = (
        UniqueConstraint("article_id", "content_hash", name="uq_version_article_hash"),
        UniqueConstraint("article_id", "number", name="uq_version_article_number"),
    )


class StanceObservation(Base):
    __tablename__ = "stance_observations"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    stance: Mapped[Stance] = mapped_column(StanceType)
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)
    evidence_start: Mapped[int] = mapped_column(Integer)
    evidence_end: Mapped[int] = mapped_column(Integer)
    extractor_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    version: Mapped[ArticleVersion] = relationship(back_populates="observations")

    __table_args__ = (
        UniqueConstraint(
            "version_id", "target", "country", "extractor_version", name="uq_observation_version_country"
        ),
        Index("ix_observation_country_created", "country", "created_at"),
    )


class StanceChange(Base):
    __tablename__ = "stance_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # stance.changed (inside one article) or country.stance_changed (the country's current stance)
    kind: Mapped[str] = mapped_column(String(32), default=EVENT_STANCE_CHANGED)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    from_stance: Mapped[Stance | None] = mapped_column(StanceType)
    to_stance: Mapped[Stance | None] = mapped_column(StanceType)
    from_version_id: Mapped[int | None] = mapped_column(ForeignKey("article_versions.id", ondelete="CASCADE"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id", ondelete="CASCADE"))
    evidence_before: Mapped[str | None] = mapped_column(Text)
    evidence_after: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    extractor_version: Mapped[str] = mapped_column(String(32))
    # A correction comes from re-extraction of stored text, not from a new version of the article.
    is_correction: Mapped[bool] = mapped_column(Boolean, default=False)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship()
    to_version: Mapped[ArticleVersion] = relationship(foreign_keys=[to_version_id])
    from_version: Mapped[ArticleVersion | None] = relationship(foreign_keys=[from_version_id])

    __table_args__ = (
        UniqueConstraint(
            "to_version_id",
            "target",
            "country",
            "kind",
            "extractor_version",
            name="uq_change_version_country_kind",
        ),
        Index("ix_change_detected", "detected_at", "id"),
        Index("ix_change_country_detected", "country", "detected_at", "id"),
        Index("ix_change_to_stance_detected", "to_stance", "detected_at", "id"),
        Index("ix_change_article", "article_id"),
    )


class CountryStance(Base):
    """A country's current stance toward a target: its latest observation across articles."""

    __tablename__ = "country_stances"

    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    stance: Mapped[Stance] = mapped_column(StanceType)
    observation_id: Mapped[int | None] = mapped_column(
        ForeignKey("stance_observations.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(Base):
    """An event to deliver, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Standard Webhooks message id: stable across retries so receivers can deduplicate.
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    change_id: Mapped[int | None] = mapped_column(
        ForeignKey("stance_changes.id", ondelete="CASCADE"), unique=True
    )
    payload: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once the dispatcher has created a delivery for every matching subscription.
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # whsec_<base64>; needed in clear to sign, never shown again after creation.
    secret: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    countries: Mapped[list[str] | None] = mapped_column(JSON)  # None: every country
    stances: Mapped[list[str] | None] = mapped_column(JSON)  # None: every stance
    events: Mapped[list[str] | None] = mapped_column(JSON)  # None: every event type
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    # pending | delivered | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    # Set while one worker sends an attempt, so a second claim skips it until this lease expires.
    locked_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    subscription: Mapped[WebhookSubscription] = relationship()
    event: Mapped[OutboxEvent] = relationship()
    attempts: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery", order_by="DeliveryAttempt.id"
    )

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_delivery_subscription_event"),
        Index("ix_delivery_status_next", "status", "next_attempt_at"),
    )


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)  # first 1 KB of the response body

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempts")

    __table_args__ = (UniqueConstraint("delivery_id", "number", name="uq_attempt_delivery_number"),)


class Lease(Base):
    """A named lease in the database (e.g. the single beat scheduler), held until ``expires_at``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


__all__ = [
    "EVENT_COUNTRY_STANCE_CHANGED",
    "EVENT_STANCE_CHANGED",
    "EVENT_TYPES",
    "Article",
    "ArticleAlias",
    "ArticleVersion",
    "Base",
    "CountryStance",
    "DeliveryAttempt",
    "Feed",
    "Lease",
    "OutboxEvent",
    "StanceChange",
    "StanceObservation",
    "WebhookDelivery",
    "WebhookSubscription",
]
