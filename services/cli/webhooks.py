"""``stancewatch webhooks``: subscriptions, test sends, the delivery log and redelivery."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from services.changes import iso
from services.cli import AppContext, emit_json, format_option, main, pass_app
from services.db import utcnow
from services.delivery import make_webhook_client, redeliver, send_test
from services.models import EVENT_TYPES, WebhookDelivery
from services.subscriptions import (
    DELIVERY_STATUSES,
    create_subscription,
    delete_subscription,
    delivery_counts,
    list_subscriptions,
    subscription_to_dict,
)
from services.types import Stance


@main.group()
def webhooks() -> None:
    """Manage webhook subscriptions and deliveries."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--secret",
    help="whsec_<base64> signing secret, or '-' to read it from standard input (keeps it out of shell "
    "history); generated (and shown once) when left out.",
)
@click.option(
    "--country", "countries", multiple=True, metavar="CC", help="Only these countries (repeatable)."
)
@click.option(
    "--stance",
    "stances",
    multiple=True,
    type=click.Choice([s.value for s in Stance]),
    help="Only changes from or to these stances (repeatable).",
)
@click.option(
    "--event", "events", multiple=True, type=click.Choice(EVENT_TYPES), help="Only these event types."
)
@click.option("--description", help="A note for yourself.")
@format_option
@pass_app
def webhooks_add(
    app: AppContext,
    url: str,
    secret: str | None,
    countries: tuple[str, ...],
    stances: tuple[str, ...],
    events: tuple[str, ...],
    description: str | None,
    fmt: str,
) -> None:
    """Subscribe URL to stance changes; prints the signing secret once."""
    if secret == "-":
        secret = sys.stdin.readline().strip()
    with app.transaction() as session:
        subscription, shown_secret = create_subscription(
            session,
            url,
            settings=app.settings,
            secret=secret,
            countries=list(countries) or None,
            stances=list(stances) or None,
            events=list(events) or None,
            description=description,
        )
        data = subscription_to_dict(subscription, counts=dict.fromkeys(DELIVERY_STATUSES, 0))
    if fmt == "json":
        emit_json({**data, "secret": shown_secret})
        return
    click.echo(f"webhook {data['id']} added: {data['url']}")
    click.echo(f"secret: {shown_secret}")
    click.echo("Keep the secret now: it is not shown again.")


def _filters(data: dict[str, Any]) -> str:
    parts = [
        f"{name}={','.join(data[name])}" for name in ("countries", "stances", "events") if data.get(name)
    ]
    return " ".join(parts) or "all changes"


@webhooks.command("list")
@format_option
@pass_app
def webhooks_list(app: AppContext, fmt: str) -> None:
    """List subscriptions (never their secrets): status, failing since, disabled reason."""
    with app.transaction() as session:
        subscriptions = list_subscriptions(session)
        counts = delivery_counts(session, [s.id for s in subscriptions])
        rows = [subscription_to_dict(s, counts=counts[s.id]) for s in subscriptions]
    if fmt == "json":
        emit_json({"webhooks": rows})
        return
    if not rows:
        click.echo("no webhooks (add one with `stancewatch webhooks add URL`)")
    for row in rows:
        counts_text = ", ".join(f"{n} {status}" for status, n in row["deliveries"].items() if n)
        line = f"{row['id']:>4}  {row['status']:<8}  {row['url']}  [{_filters(row)}]"
        if counts_text:
            line += f"  deliveries: {counts_text}"
        click.echo(line)
        if row["failing_since"]:
            click.echo(f"      failing since {row['failing_since']}")
        if row["disabled_reason"]:
            click.echo(f"      disabled: {row['disabled_reason']}")


@webhooks.command("remove")
@click.argument("subscription_id", metavar="ID", type=int)
@pass_app
def webhooks_remove(app: AppContext, subscription_id: int) -> None:
    """Remove a subscription and its delivery log."""
    with app.transaction() as session:
        delete_subscription(session, subscription_id)
    click.echo(f"webhook {subscription_id} removed")


@webhooks.command("test")
@click.argument("subscription_id", metavar="ID", type=int)
@format_option
@pass_app
def webhooks_test(app: AppContext, subscription_id: int, fmt: str) -> None:
    """Send a webhook.test event to one subscription now and print the result."""
    settings = app.settings
    with make_webhook_client(settings) as client:
        outcome = send_test(app.session_factory, client, subscription_id, settings, now=utcnow())
    ok = outcome.status == "delivered"
    if fmt == "json":
        emit_json(
            {
                "delivery_id": outcome.delivery_id,
                "status": outcome.status,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
                "reason": outcome.reason,
            }
        )
    else:
        detail = f"HTTP {outcome.status_code}" if outcome.status_code is not None else (outcome.error or "")
        duration = f" in {outcome.duration_ms:.0f} ms" if outcome.duration_ms is not None else ""
        click.echo(f"test delivery {outcome.delivery_id}: {outcome.status} ({detail}){duration}")
        if outcome.error and outcome.status_code is not None:
            click.echo(f"error: {outcome.error}")
        if outcome.reason:
            click.echo(f"note: {outcome.reason}")
    if not ok:
        raise SystemExit(1)


def _delivery_dict(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "subscription_id": delivery.subscription_id,
        "event": {
            "msg_id": delivery.event.msg_id,
            "type": delivery.event.type,
            "change_id": delivery.event.change_id,
        },
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
        "attempts": [
            {
                "number": a.number,
                "attempted_at": iso(a.attempted_at),
                "status_code": a.status_code,
                "duration_ms": round(a.duration_ms, 1),
                "error": a.error,
                "response": a.response_excerpt,
            }
            for a in delivery.attempts
        ],
    }


@webhooks.command("deliveries")
@click.option("--status", type=click.Choice(DELIVERY_STATUSES), help="Only deliveries in this state.")
@click.option("--webhook", "subscription_id", type=int, help="Only deliveries of this subscription.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@format_option
@pass_app
def webhooks_deliveries(
    app: AppContext, status: str | None, subscription_id: int | None, limit: int, fmt: str
) -> None:
    """Recent deliveries, newest first, with every attempt."""
    query = (
        select(WebhookDelivery)
        .options(selectinload(WebhookDelivery.attempts), selectinload(WebhookDelivery.event))
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    with app.transaction() as session:
        rows = [_delivery_dict(d) for d in session.scalars(query)]
    if fmt == "json":
        emit_json({"deliveries": rows})
        return
    if not rows:
        click.echo("no deliveries")
    for row in rows:
        event = row["event"]
        line = (
            f"{row['id']:>5}  webhook {row['subscription_id']}  {row['status']:<9}  {event['type']}  "
            f"{event['msg_id']}  attempts={row['attempt_count']}"
        )
        if row["status"] == "pending" and row["next_attempt_at"]:
            line += f"  next at {row['next_attempt_at']}"
        click.echo(line)
        for a in row["attempts"]:
            result = f"HTTP {a['status_code']}" if a["status_code"] is not None else "no response"
            error = f"  {a['error']}" if a["error"] and a["status_code"] is None else ""
            click.echo(
                f"         #{a['number']} {a['attempted_at']}  {result}  {a['duration_ms']:.0f} ms{error}"
            )


@webhooks.command("redeliver")
@click.argument("delivery_id", metavar="ID", type=int)
@pass_app
def webhooks_redeliver(app: AppContext, delivery_id: int) -> None:
    """Send one delivery again (same webhook-id); the running worker picks it up within a second."""
    with app.transaction() as session:
        delivery = redeliver(session, delivery_id, now=utcnow())
        msg_id = delivery.event.msg_id
    # Due now: the worker's sweep sends it within one sweep interval; no broker needed here.
    click.echo(f"delivery {delivery_id} ({msg_id}) queued for redelivery")
