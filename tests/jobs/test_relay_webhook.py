"""Webhooks to a real HTTP receiver on loopback: signed JSON with a timestamp, Idempotency-Key,
retries; no webhook to this server, link-local or metadata addresses."""

from pathlib import Path

import pytest

from jobs import signature
from jobs.escalation import overdue_sweep
from jobs.relay import relay
from models.core import clock, db
from models.reference import agency_by_code, update_agency
from models.reference.webhooks import AddressPolicy, AddressRefused
from tests.jobs.conftest import WEBHOOK_SECRET, notices


def _verify(request, secret=WEBHOOK_SECRET, *, later: float = 0) -> bool:
    """What the agency's receiver does (docs/jobs.md), `later` seconds after now."""
    header = request["headers"][signature.HEADER]
    return signature.verify(secret, request["body"], header, now=clock.now().timestamp() + later)


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
    assert request["verified"]  # the receiver checked it when it arrived
    assert request["headers"][signature.HEADER].startswith(f"t={int(clock.now().timestamp())},v1=")
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
    assert all(r["verified"] for r in receiver.requests)  # each checked as it arrived


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


def test_a_captured_request_replayed_six_minutes_later_or_tampered_is_rejected(
    frozen_clock, run, dispatch_row, webhook_receiver, hooked_agency
):
    receiver = webhook_receiver()
    hooked_agency(receiver.url)
    dispatch_row(sla=600)
    clock.advance(seconds=601)
    run(overdue_sweep)
    assert run(relay) == {"sent": 1}
    [captured] = receiver.requests
    assert captured["verified"]
    body, header = captured["body"], captured["headers"][signature.HEADER]

    clock.advance(minutes=4)
    assert _verify(captured)  # still within the five minutes
    clock.advance(minutes=2)
    assert not _verify(captured)  # six minutes on: a replay of the same body and header
    assert not signature.verify(WEBHOOK_SECRET, body, header, now=clock.now().timestamp())

    clock.advance(minutes=-6)
    tampered = body.replace(b'"overdue":true', b'"overdue":false')
    assert tampered != body
    assert not signature.verify(WEBHOOK_SECRET, tampered, header, now=clock.now().timestamp())
    moved = header.replace("t=", "t=1", 1)  # a new time with the old HMAC
    assert not signature.verify(WEBHOOK_SECRET, body, moved, now=clock.now().timestamp() + 1e9)


def test_the_real_receiver_refuses_a_replay_sent_six_minutes_later(
    frozen_clock, run, dispatch_row, webhook_receiver, hooked_agency
):
    """The receiver answers 401 to a captured request posted again after six minutes."""
    import httpx

    receiver = webhook_receiver()
    hooked_agency(receiver.url)
    dispatch_row(sla=600)
    clock.advance(seconds=601)
    run(overdue_sweep)
    assert run(relay) == {"sent": 1}
    [captured] = receiver.requests
    headers = {signature.HEADER: captured["headers"][signature.HEADER]}

    assert httpx.post(receiver.url, content=captured["body"], headers=headers).status_code == 200
    clock.advance(minutes=6)
    replay = httpx.post(receiver.url, content=captured["body"], headers=headers)
    assert replay.status_code == 401
    assert [r["verified"] for r in receiver.requests] == [True, True, False]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:5432/", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://169.254.10.1/", "link_local"),
        ("http://[fe80::1]/", "link_local"),
        ("http://0.0.0.0:8000/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("ftp://hooks.example/", "not_http"),
    ],
)
def test_setting_an_internal_webhook_url_is_refused(app, url, reason):
    agency = agency_by_code("social-welfare")
    with pytest.raises(AddressRefused) as refused:
        update_agency(agency, webhook_url=url)
    assert refused.value.reason == reason
    db.session.rollback()
    assert agency_by_code("social-welfare").webhook_url == ""


def test_private_ranges_are_allowed_unless_turned_off(app, monkeypatch):
    agency = agency_by_code("social-welfare")
    for url in ("http://10.2.3.4/hook", "https://172.20.0.9/hook", "http://192.168.1.5:8080/"):
        update_agency(agency, webhook_url=url)
        assert agency.webhook_url == url
    update_agency(agency, webhook_url="https://hooks.sw.example/citydesk")  # a name: checked later
    db.session.rollback()

    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    with pytest.raises(AddressRefused) as refused:
        update_agency(agency, webhook_url="http://10.2.3.4/hook")
    assert refused.value.reason == "private"
    db.session.rollback()
    assert AddressPolicy(allow_private=False).refusal("8.8.8.8") is None


def test_loopback_is_allowed_only_with_the_test_switch(app, monkeypatch):
    agency = agency_by_code("social-welfare")
    with pytest.raises(AddressRefused):
        update_agency(agency, webhook_url="http://127.0.0.1:9/hook")
    db.session.rollback()
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOOPBACK", True)
    update_agency(agency, webhook_url="http://127.0.0.1:9/hook")
    assert agency.webhook_url == "http://127.0.0.1:9/hook"
    db.session.rollback()


def test_a_host_name_resolving_to_loopback_is_refused_at_send_time(
    frozen_clock, run, dispatch_row, webhook_receiver, hooked_agency, app, monkeypatch
):
    """`localhost` resolves to 127.0.0.1: with loopback not allowed the notice is dead with the
    reason and the receiver sees nothing; with the test switch the same URL is delivered."""
    receiver = webhook_receiver()
    named = receiver.url.replace("127.0.0.1", "localhost")
    hooked_agency(named)  # set while loopback is allowed (as a URL saved before this rule)
    dispatch_row(sla=600)
    dispatch_row(sla=600)
    clock.advance(seconds=601)
    run(overdue_sweep)

    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOOPBACK", False)
    assert run(relay) == {"dead": 2}
    assert receiver.requests == []
    errors = {n.last_error for n in notices(channel="webhook")}
    assert len(errors) == 1
    [error] = errors
    assert error.startswith("webhook address localhost (127.0.0.1) is a loopback address")
    assert error.endswith("not sent")

    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOOPBACK", True)
    for row in notices(channel="webhook"):
        row.state, row.next_attempt_at = "pending", clock.now()
    db.session.commit()
    assert run(relay) == {"sent": 2}
    assert len(receiver.requests) == 2


def test_the_recipe_in_the_docs_verifies_as_the_module_does():
    """docs/jobs.md's receiver recipe accepts a fresh signature and refuses a replay or a
    tampered body, exactly as `jobs.signature.verify` does."""
    docs = (Path(__file__).parents[2] / "docs" / "jobs.md").read_text()
    code = docs.split("Verifying a webhook", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    recipe: dict = {}
    exec(code, recipe)  # noqa: S102 - our own documentation
    body, at = b'{"id":1}', 1_700_000_000
    header = signature.sign(WEBHOOK_SECRET, body, at)
    for now, data, expected in [
        (at + 10, body, True),
        (at + 360, body, False),
        (at + 10, b'{"id":2}', False),
    ]:
        assert recipe["verify"](WEBHOOK_SECRET, data, header, now=now) is expected
        assert signature.verify(WEBHOOK_SECRET, data, header, now=now) is expected
