"""``stancewatch webhooks`` as a user runs it, against a real database and a verifying loopback receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from support_receiver import WebhookReceiver

from services.cli import main
from services.db import utcnow
from services.delivery import dispatch_events
from services.models import OutboxEvent, WebhookSubscription

pytestmark = pytest.mark.db


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "STANCEWATCH_DATA_DIR": str(tmp_path),
        "STANCEWATCH_ALLOW_PRIVATE_URLS": "1",
        "STANCEWATCH_WEBHOOK_SCHEDULE": "0,0.2,0.5",
    }


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def add(env: dict[str, str], url: str, *extra: str) -> dict:
    result = cli(env, "webhooks", "add", url, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_shows_the_secret_once_and_list_never(env, receiver, session_factory):
    result = cli(env, "webhooks", "add", receiver.url, "--country", "ni", "--stance", "supports")
    assert result.exit_code == 0, result.output
    secret_line = next(line for line in result.output.splitlines() if line.startswith("secret: "))
    secret = secret_line.removeprefix("secret: ")
    assert secret.startswith("whsec_")
    with session_factory() as session:  # closed at once: on SQLite every transaction holds the write lock
        assert session.scalar(select(WebhookSubscription.countries)) == ["NI"]

    listed = cli(env, "webhooks", "list")
    assert listed.exit_code == 0 and receiver.url in listed.output and "countries=NI" in listed.output
    as_json = cli(env, "webhooks", "list", "--format", "json")
    assert secret not in listed.output and secret not in as_json.output
    [row] = json.loads(as_json.output)["webhooks"]
    assert row["enabled"] is True and row["status"] == "active" and "secret" not in row


def test_add_with_a_given_secret_and_bad_input(env, receiver):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert add(env, receiver.url, "--secret", secret)["secret"] == secret
    for args, expected in [
        (("--secret", "hunter2"), "whsec_"),
        (("--country", "XX"), "unknown country code 'XX'"),
        ((), "only http:// and https://"),
    ]:
        url = "ftp://example.com/x" if not args else receiver.url
        result = cli(env, "webhooks", "add", url, *args)
        assert result.exit_code != 0
        assert expected in result.output
        assert "Traceback" not in result.output


def test_secret_from_standard_input_stays_out_of_argv(env, receiver, session_factory):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    result = CliRunner().invoke(
        main,
        ["webhooks", "add", receiver.url, "--secret", "-", "--format", "json"],
        env=env,
        input=secret + "\n",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["secret"] == secret
    with session_factory() as session:
        assert session.scalar(select(WebhookSubscription.secret)) == secret


def test_a_pending_send_never_shows_its_secret_in_repr():
    from services.delivery import _Send

    send = _Send(1, "http://127.0.0.1:9/hook", "whsec_c2VjcmV0c2VjcmV0c2VjcmV0", "msg_1", "{}", 1, utcnow())
    assert "whsec_" not in repr(send)


def test_private_url_refused_without_the_setting(env, receiver):
    result = cli({**env, "STANCEWATCH_ALLOW_PRIVATE_URLS": "0"}, "webhooks", "add", receiver.url)
    assert result.exit_code != 0 and "refused" in result.output


def test_test_command_sends_a_verified_test_event(env, receiver):
    created = add(env, receiver.url)
    receiver.secret = created["secret"]
    result = cli(env, "webhooks", "test", str(created["id"]))
    assert result.exit_code == 0, result.output
    assert "delivered (HTTP 200)" in result.output
    [got] = receiver.wait_for(1)
    assert got.verified and got.payload["type"] == "webhook.test"

    receiver.respond(500)
    failing = cli(env, "webhooks", "test", str(created["id"]))
    assert failing.exit_code != 0 and "HTTP 500" in failing.output


def test_remove_and_unknown_ids(env, receiver):
    created = add(env, receiver.url)
    assert cli(env, "webhooks", "remove", str(created["id"])).exit_code == 0
    for command in ("remove", "test", "redeliver"):
        result = cli(env, "webhooks", command, "999")
        assert result.exit_code != 0 and "999 not found" in result.output


def test_deliveries_and_redeliver(env, receiver, session_factory):
    created = add(env, receiver.url)
    receiver.secret = created["secret"]
    with session_factory.begin() as session:
        session.add(
            OutboxEvent(
                msg_id="msg_cli_1",
                type="stance.changed",
                created_at=utcnow(),
                payload={
                    "type": "stance.changed",
                    "timestamp": "2022-02-27T14:03:00Z",
                    "data": {"country": "NI", "from": None, "to": "supports"},
                },
            )
        )
    with session_factory.begin() as session:
        [delivery_id] = dispatch_events(session, now=utcnow())

    pending = cli(env, "webhooks", "deliveries", "--status", "pending", "--format", "json")
    [row] = json.loads(pending.output)["deliveries"]
    assert row["id"] == delivery_id and row["event"]["msg_id"] == "msg_cli_1" and row["attempts"] == []

    cli(env, "webhooks", "test", str(created["id"]))  # adds a second, delivered, delivery
    text = cli(env, "webhooks", "deliveries")
    assert "webhook.test" in text.output and "#1" in text.output and "HTTP 200" in text.output

    result = cli(env, "webhooks", "redeliver", str(delivery_id))
    assert result.exit_code == 0 and "msg_cli_1" in result.output
    assert (
        json.loads(cli(env, "webhooks", "deliveries", "--status", "delivered", "--format", "json").output)[
            "deliveries"
        ][0]["event"]["type"]
        == "webhook.test"
    )
