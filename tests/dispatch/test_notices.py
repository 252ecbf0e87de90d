"""Notices about a dispatch: one recipient rule and one payload for every kind, and links that
use the one page path of models.core.notices."""

from pathlib import Path

from flask import url_for
from sqlalchemy import select

from models.core import db
from models.core.notices import ROUNDS_PATH, dispatch_path, notice_link, ticket_path
from models.core.outbox import Notification
from models.dispatch.notices import enqueue_breach, enqueue_chief, enqueue_reminder
from models.reference import agency_by_code, update_agency

ROOT = Path(__file__).resolve().parents[2]
# Per-kind additions to the one payload.
STEP_FIELDS = {
    "path",
    "step",
    "minutes_late",
    "number",
    "ack_path",
}  # issue 13: which reminder; the agency's link


def _by_event(dispatch_id: int, event: str) -> list[Notification]:
    key = f"dispatch:{dispatch_id}:{event}"
    stmt = select(Notification).where(Notification.event_key == key).order_by(Notification.id)
    return list(db.session.scalars(stmt))


def test_dispatch_notices_share_one_recipient_rule_and_one_payload(
    frozen_clock, make_dispatch, create_user
):
    update_agency(
        agency_by_code("social-welfare"),
        emails="desk@sw.example",
        webhook_url="https://hook.example/sw",
    )
    staff = create_user(role="agency", agency="social-welfare")
    boss = create_user(role="supervisor", email="boss@city.example")
    chief = create_user(role="clerk", email="chief@city.example", receives_escalations=True)
    dispatch = make_dispatch(is_senior=True, petitioner_name="王小明")
    enqueue_reminder(dispatch)
    enqueue_breach(dispatch, to_supervisors=True)
    enqueue_chief(dispatch, minutes_late=5)
    db.session.commit()

    agency_side = {
        ("in_app", f"user:{staff.id}"),
        ("email", "desk@sw.example"),
        ("webhook", "https://hook.example/sw"),
    }
    got = {
        event: {(n.channel, n.recipient) for n in _by_event(dispatch.id, event)}
        for event in ("notified", "reminder", "breach", "chief")
    }
    assert got["notified"] == got["reminder"] == agency_side
    assert got["breach"] == agency_side | {
        ("in_app", f"user:{boss.id}"),
        ("email", "boss@city.example"),
    }
    assert got["chief"] == {("in_app", f"user:{chief.id}"), ("email", "chief@city.example")}

    rows = db.session.scalars(select(Notification).where(Notification.dispatch_id == dispatch.id))
    payloads = [n.payload for n in rows]
    common = [{k: v for k, v in p.items() if k not in STEP_FIELDS} for p in payloads]
    assert all(c == common[0] for c in common)
    assert common[0]["is_senior"] is True and common[0]["deadline_at"]
    assert "王小明" not in str(payloads)


def test_notice_links_use_the_one_page_path(app, frozen_clock, make_dispatch, create_user):
    staff = create_user(role="agency", agency="social-welfare")
    dispatch = make_dispatch()
    [notice] = _by_event(dispatch.id, "notified")
    assert notice.user_id == staff.id
    with app.test_request_context():
        agency_page = url_for("agency.dispatch", dispatch_id=dispatch.id)
        desk_page = url_for("desk.dispatch", dispatch_id=dispatch.id)
    assert dispatch_path(dispatch.id, agency_side=True) == agency_page
    assert dispatch_path(dispatch.id) == desk_page
    assert notice.payload["path"] == notice_link(notice) == agency_page

    # No other module writes the page paths out.
    written = {
        str(path.relative_to(ROOT))
        for folder in ("models", "jobs", "webapp", "demo")
        for path in (ROOT / folder).rglob("*.py")
        if any(
            page in path.read_text()
            for page in (
                "/desk/dispatches",
                "/agency/dispatches",
                "/facility/tickets/",
                '"/facility/rounds"',
            )
        )
    }
    assert written == {"models/core/notices.py"}
    with app.test_request_context():
        assert ticket_path(7) == url_for("facility.ticket", defect_id=7)
        assert url_for("facility.rounds") == ROUNDS_PATH
