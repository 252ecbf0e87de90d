"""The pages: a user's notifications with the unread count, and the admin's jobs page."""

import re
from datetime import timedelta

import sqlalchemy as sa

from jobs.escalation import overdue_sweep
from jobs.records import take_lease
from jobs.relay import relay
from jobs.scheduler import run_once
from models.core import clock, db
from models.core.audit import AuditEntry
from models.core.outbox import Channel, Notification, enqueue
from tests.jobs.conftest import notices


def _unread_badge(page: str) -> str | None:
    match = re.search(r'class="badge warn unread-count">(\d+)<', page)
    return match.group(1) if match else None


def test_a_delivered_notice_shows_in_the_list_with_an_unread_count(
    run, dispatch_row, login_as, create_user
):
    client, agency_user = login_as("agency", agency="social-welfare")
    dispatch = dispatch_row(sla=1, notified_at=clock.now().replace(microsecond=0))
    clock.advance(seconds=2)
    page = client.get("/notifications").get_data(as_text=True)
    assert _unread_badge(page) is None
    assert "尚無通知。" in page  # Traditional Chinese by default

    run(overdue_sweep)  # the breach's in-app notice is delivered with it: no relay pass
    page = client.get("/").get_data(as_text=True)
    assert _unread_badge(page) == "1"
    page = client.get("/notifications").get_data(as_text=True)
    assert f'href="/agency/dispatches/{dispatch.id}"' in page
    assert "社會局" in page

    [notice] = notices(channel="in_app", user_id=agency_user.id)
    other, _user = login_as("agency", agency="social-welfare")
    assert other.post(f"/notifications/{notice.id}/read").status_code == 404
    response = client.post(f"/notifications/{notice.id}/read", data={"open": "1"})
    assert response.headers["Location"] == f"/agency/dispatches/{dispatch.id}"
    assert _unread_badge(client.get("/").get_data(as_text=True)) is None
    assert notices(id=notice.id)[0].read_at is not None


def test_the_button_that_opens_a_notice_says_view_not_the_open_state(run, dispatch_row, login_as):
    client, user = login_as("supervisor")
    dispatch = dispatch_row()
    enqueue(
        "t:1",
        "t",
        Channel.IN_APP,
        f"user:{user.id}",
        {"title": "T"},
        user_id=user.id,
        dispatch_id=dispatch.id,
    )
    db.session.commit()
    run(relay)
    page = client.get("/notifications").get_data(as_text=True)
    assert re.search(r'<button type="submit" name="open" value="1" [^>]*>檢視</button>', page)
    assert "進行中" not in page  # the word for an open ticket or visit, not for opening


def test_mark_all_read(run, login_as):
    client, user = login_as("supervisor")
    for n in range(3):
        enqueue(
            f"t:{n}", "t", Channel.IN_APP, f"user:{user.id}", {"title": f"T{n}"}, user_id=user.id
        )
    db.session.commit()
    run(relay)
    assert _unread_badge(client.get("/notifications").get_data(as_text=True)) == "3"
    client.post("/notifications/read-all")
    assert _unread_badge(client.get("/notifications").get_data(as_text=True)) is None


def test_admin_sees_the_scheduler_the_job_runs_and_the_outbox(app, login_as, run):
    client, _admin = login_as("admin", locale="en")
    take_lease("host-a:4242:abc123", "citydesk jobs", clock.now(), 15)
    enqueue("t:1", "t", Channel.WEBHOOK, "ftp://nowhere", {})  # dies at once
    enqueue("t:2", "t", Channel.EMAIL, "x@city.example", {})  # waits: no mail server
    db.session.commit()
    run_once(app)

    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "host-a:4242:abc123" in page and "citydesk jobs" in page
    for job in ("overdue_sweep", "outbox_relay", "retention"):
        assert f"<code>{job}</code>" in page
    assert "every 5 s" in page and "daily at 03:30 (Taipei time)" in page
    assert "lock: lease row" in page
    assert 'data-channel="webhook" data-state="dead">1<' in page
    assert 'data-channel="email" data-state="pending">1<' in page
    assert "not an http(s) URL" in page
    assert "CITYDESK_MAIL_SERVER" in page

    dead = db.session.scalar(sa.select(Notification).where(Notification.state == "dead"))
    response = client.post(f"/admin/jobs/outbox/{dead.id}/retry")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, dead.id).state == "pending"
    # Retrying twice is refused with a message, not an error page.
    response = client.post(f"/admin/jobs/outbox/{dead.id}/retry", follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Only a notice whose every attempt failed can be retried." in page


def test_without_a_lease_the_page_warns_that_nothing_is_sent(login_as):
    client, _admin = login_as("admin")
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "目前沒有排程程序持有鎖定" in page and 'role="alert"' in page
    take_lease("host-a:1:abc", "citydesk jobs", clock.now() - timedelta(minutes=1), 15)
    db.session.commit()
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "目前沒有排程程序持有鎖定" in page  # an expired lease holds nothing
    assert "host-a:1:abc" in page


def test_only_administrators_see_the_jobs_page(login_as):
    for role in ("clerk", "agency", "supervisor", "facility"):
        client, _user = login_as(role)
        assert client.get("/admin/jobs/").status_code == 403
        assert client.post("/admin/jobs/outbox/1/retry").status_code == 403


def test_admin_retries_every_dead_notice_at_once(login_as, run):
    client, _admin = login_as("admin")
    for n in range(3):
        enqueue(f"t:{n}", "t", Channel.WEBHOOK, f"mailto:nobody{n}", {})
    db.session.commit()
    run(relay)
    assert {n.state for n in notices()} == {"dead"}
    assert client.post("/admin/jobs/outbox/retry-dead").status_code == 302
    assert {(n.state, n.attempts) for n in notices()} == {("pending", 0)}
    retried = db.session.scalars(
        sa.select(AuditEntry.object_id).where(AuditEntry.action == "notification.retry")
    )
    assert sorted(retried) == sorted(str(n.id) for n in notices())
