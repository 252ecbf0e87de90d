"""Webhooks to a real HTTP receiver on loopback: signed JSON, Idempotency-Key, retries."""

import hashlib
import hmac

from jobs.escalation import overdue_sweep
from jobs.relay import relay
from models.core import clock, db
from models.reference import agency_by_code, update_agency
from tests.jobs.conftest import WEBHOOK_SECRET, notices


def _verify(request, secret=WEBHOOK_SECRET) -> bool:
    """What the agency's receiver does: recompute the HMAC over the raw body."""
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"]["X-CityDesk-Signature"])


def test_receiver_gets_the_signed_event(
    frozen_clock, run, dispatch_row, webhook_receiver, hooked_agency
):
    receiver = webhook_receiver()
    hooked_agency(receiver.url)
    dispatch = dispatch_row(sla=600, subject="勞保給付")
    clock.advance(seconds=601)
    run(overdue_sweep)
    assert run(relay) == {"sent": 1}

    [request] = receiver.requests
    [row] = notices(channel="webhook")
    assert request["path"] == "/citydesk/events"
    assert _verify(request)
    assert not _verify(request, secret="someone-else")
    assert request["headers"]["Idempotency-Key"] == str(row.id)
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["headers"]["X-CityDesk-Event"] == "dispatch.breach"
    event = receiver.json()
    assert event["id"] == row.id
    assert event["event"] == "dispatch.breach"
    assert event["event_key"] == f"dispatch:{dispatch.id}:breach"
    assert event["dispatch"]["id"] == dispatch.id
    assert event["dispatch"]["agency"] == "social-welfare"
    assert event["dispatch"]["deadline_at"] == dispatch.deadline_at.isoformat()
    assert event["dispatch"]["overdue"] is True
    assert event["data"]["subject"] == "勞保給付"
    assert event["url"].endswith(f"/agency/dispatches/{dispatch.id}")
    assert row.state == "sent"


def test_two_failures_then_success_delivers_on_the_third_attempt_once(
    frozen_clock, run, dispatch_row, webhook_receiver, hooked_agency, app
):
    receiver = webhook_receiver(statuses=[500, 500])
    hooked_agency(receiver.url)
    dispatch_row(sla=600)
    clock.advance(seconds=601)
    run(overdue_sweep)

    assert run(relay) == {"retry": 1}
    assert run(relay) == {}  # waiting out the backoff
    clock.advance(seconds=app.config["OUTBOX_BACKOFF_SECONDS"])
    assert run(relay) == {"retry": 1}
    clock.advance(seconds=2 * app.config["OUTBOX_BACKOFF_SECONDS"])
    assert run(relay) == {"sent": 1}
    clock.advance(hours=2)
    assert run(relay) == {}

    assert [r["status"] for r in receiver.requests] == [500, 500, 200]
    keys = {r["headers"]["Idempotency-Key"] for r in receiver.requests}
    [row] = notices(channel="webhook")
    assert keys == {str(row.id)}  # the same event each time: the receiver can de-duplicate
    assert (row.state, row.attempts) == ("sent", 3)
    assert all(_verify(r) for r in receiver.requests)


def test_a_slow_receiver_times_out_and_is_retried(
    frozen_clock, run, dispatch_row, webhook_receiver, hooked_agency, app, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT", 0.3)
    receiver = webhook_receiver(delay=1)
    hooked_agency(receiver.url)
    dispatch_row(sla=600)
    clock.advance(seconds=601)
    run(overdue_sweep)
    assert run(relay) == {"retry": 1}
    [row] = notices(channel="webhook")
    assert "timed out" in row.last_error


def test_a_refusal_or_a_missing_secret_is_dead_with_the_reason(
    frozen_clock, run, dispatch_row, webhook_receiver, hooked_agency
):
    receiver = webhook_receiver(statuses=[404])
    hooked_agency(receiver.url)
    dispatch_row(sla=600)
    dispatch_row("health", sla=600)
    update_agency(agency_by_code("health"), webhook_url=receiver.url + "/health")
    db.session.commit()
    clock.advance(seconds=601)
    run(overdue_sweep)
    assert run(relay) == {"dead": 2}
    errors = sorted(n.last_error for n in notices(channel="webhook"))
    assert errors == [
        "agency health has no webhook secret: set one on the agency page, then retry",
        "webhook refused the event: HTTP 404",
    ]
    assert len(receiver.requests) == 1
