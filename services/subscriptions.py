"""Webhook subscriptions: create (validated, secret shown once), list, get, delete, and their API shape."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable
from typing import Any

import pycountry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from services.changes import iso
from services.config import Settings
from services.errors import InvalidInputError, NotFoundError
from services.models import EVENT_TYPES, WebhookDelivery, WebhookSubscription
from services.netguard import check_url
from services.types import Stance

SECRET_PREFIX = "whsec_"
# The Standard Webhooks specification asks for secrets of 24 to 64 random bytes.
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


def generate_secret() -> str:
    """A fresh ``whsec_<base64>`` secret of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def validate_secret(secret: str) -> str:
    """Check that ``secret`` is ``whsec_`` followed by base64 of 24 to 64 bytes; return it stripped."""
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidInputError("invalid secret: it must look like whsec_<base64> (Standard Webhooks)")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("invalid secret: the part after whsec_ is not valid base64") from None
    if not SECRET_MIN_BYTES <= len(raw) <= SECRET_MAX_BYTES:
        raise InvalidInputError(
            f"invalid secret: it decodes to {len(raw)} bytes; use {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} "
            "random bytes (or leave it out to have one generated)"
        )
    return secret


def _normalise_countries(countries: Iterable[str]) -> list[str]:
    result = []
    for raw in countries:
        code = raw.strip().upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise InvalidInputError(
                f"unknown country code {raw!r}: use ISO 3166-1 alpha-2 codes like NI or BY"
            )
        if code not in result:
            result.append(code)
    return result


def _normalise_choices(values: Iterable[str], allowed: Iterable[str], what: str) -> list[str]:
    allowed = list(allowed)
    result = []
    for raw in values:
        value = raw.strip().lower()
        if value not in allowed:
            raise InvalidInputError(f"unknown {what} {raw!r}: expected one of {', '.join(allowed)}")
        if value not in result:
            result.append(value)
    return result


def create_subscription(
    session: Session,
    url: str,
    *,
    settings: Settings,
    secret: str | None = None,
    countries: list[str] | None = None,
    stances: list[str] | None = None,
    events: list[str] | None = None,
    description: str | None = None,
) -> tuple[WebhookSubscription, str]:
    """Validate and add a subscription; return it with its secret, which is shown this once only.

    Empty or missing filters mean "everything". Raises InvalidInputError (or UnsafeURLError for a
    URL on a private network when those are not allowed).
    """
    url = check_url(url, settings.allow_private_urls)
    secret = validate_secret(secret) if secret is not None else generate_secret()
    subscription = WebhookSubscription(
        url=url,
        secret=secret,
        description=(description.strip() or None) if description else None,
        countries=(_normalise_countries(countries) or None) if countries else None,
        stances=(_normalise_choices(stances, [s.value for s in Stance], "stance") or None)
        if stances
        else None,
        events=(_normalise_choices(events, EVENT_TYPES, "event type") or None) if events else None,
        enabled=True,
    )
    session.add(subscription)
    session.flush()
    return subscription, secret


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    """Every subscription, oldest first."""
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def get_subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    """One subscription; raises NotFoundError."""
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFoundError(f"webhook {subscription_id} not found")
    return subscription


def delete_subscription(session: Session, subscription_id: int) -> None:
    """Remove a subscription and its deliveries; raises NotFoundError."""
    subscription = get_subscription(session, subscription_id)
    session.delete(subscription)
    session.flush()


def delivery_counts(session: Session, subscription_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Deliveries per status for each subscription, in one query."""
    ids = list(subscription_ids)
    counts = {sid: dict.fromkeys(DELIVERY_STATUSES, 0) for sid in ids}
    if not ids:
        return counts
    rows = session.execute(
        select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.subscription_id.in_(ids))
        .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)
    )
    for sid, status, count in rows:
        counts[sid][status] = count
    return counts


def subscription_to_dict(
    subscription: WebhookSubscription, counts: dict[str, int] | None = None
) -> dict[str, Any]:
    """The API shape of a subscription, without its secret."""
    if counts is None:
        session = object_session(subscription)
        if session is not None and subscription.id is not None:
            counts = delivery_counts(session, [subscription.id])[subscription.id]
    if subscription.enabled:
        status = "failing" if subscription.failing_since is not None else "active"
    else:
        status = "disabled"
    return {
        "id": subscription.id,
        "url": subscription.url,
        "description": subscription.description,
        "countries": subscription.countries,
        "stances": subscription.stances,
        "events": subscription.events,
        "enabled": bool(subscription.enabled),
        "status": status,
        "disabled_reason": subscription.disabled_reason,
        "failing_since": iso(subscription.failing_since),
        "created_at": iso(subscription.created_at),
        "deliveries": counts if counts is not None else dict.fromkeys(DELIVERY_STATUSES, 0),
    }
