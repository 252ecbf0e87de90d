"""One-tap acknowledgement from the notice e-mail (issue 13): each agency address gets its own
link; opening it changes nothing, its button acknowledges once exactly as the inbox does, and a
used, expired (dispatch ended), foreign or unknown link is refused with a page that says why.
The database keeps only the token's hash."""

import hashlib
import re

import pytest
import sqlalchemy as sa
from flask import url_for
from sqlalchemy import func, select

from jobs.relay import relay
from models.core import audit, clock, db
from models.core.audit import AuditEntry
from models.core.notices import ack_path
from models.core.outbox import Notification
from models.dispatch import AckLink, Dispatch, arrive, cancel, log_visit, transfer
from models.reference import agency_by_code, update_agency
from tests.conftest import csrf_token

ADDRESSES = ("desk@sw.example", "chief@sw.example")
LINK = re.compile(r"http://127\.0\.0\.1:5000(/ack/[A-Za-z0-9_-]+)")
PERSONAL = ("王小明", "0912345123", "民眾詢問急難救助資格", "陳櫃台")


@pytest.fixture
def sw_mail():
    """社會局 with two e-mail addresses."""
    update_agency(agency_by_code("social-welfare"), emails=", ".join(ADDRESSES))
    db.session.commit()


@pytest.fixture
def mailed(frozen_clock, sw_mail, make_dispatch, run, mail_to):
    """mailed(**visit) → (dispatch, {address: link path}) with the notices sent by real SMTP."""

    def factory(**visit):
        dispatch = make_dispatch(**visit)
        before = len(mail_to.messages)
        run(relay)
        links = {}
        for rcpts, mail in mail_to.messages[before:]:
            [address] = rcpts
            [path] = set(LINK.findall(mail.get_content()))  # once in each language
            links[address] = path
        return db.session.get(Dispatch, dispatch.id), links

    return factory


def _link_row(path: str) -> AckLink:
    token = path.rsplit("/", 1)[1]
    digest = hashlib.sha256(token.encode()).hexdigest()
    return db.session.scalar(select(AckLink).where(AckLink.token_hash == digest))


def _audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


def _fresh(dispatch: Dispatch) -> Dispatch:
    db.session.expire_all()
    return db.session.get(Dispatch, dispatch.id)


def _press(client, path, responder="王專員"):
    return client.post(path, data={"responder": responder})


# --- The e-mail carries the link ---------------------------------------------------------


def test_each_notice_email_carries_its_recipients_own_link(mailed, client):
    dispatch, links = mailed(
        petitioner_name="王小明",
        petitioner_phone="0912345123",
        summary="民眾詢問急難救助資格",
        is_senior=True,
    )
    assert set(links) == set(ADDRESSES)
    assert links["desk@sw.example"] != links["chief@sw.example"]
    for address, path in links.items():
        row = _link_row(path)
        assert (row.dispatch_id, row.recipient, row.used_at) == (dispatch.id, address, None)
        assert row.agency_id == dispatch.agency_id

    page = client.get(links["desk@sw.example"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "社會局" in html and "低收入戶補助申請" in html
    assert 'data-deadline="2024-03-04T02:10:00+00:00"' in html  # the live countdown
    assert "10:00" in html  # the clock starts at the notification
    assert "高齡" in html  # the care flag the e-mail carries too
    assert 'name="responder"' in html and "確認派員" in html
    for text in PERSONAL:
        assert text not in html, text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_the_link_path_is_the_routes_own(app):
    with app.test_request_context():
        assert ack_path("abc_-9") == url_for("ack.page", token="abc_-9")


def test_links_are_made_in_the_transaction_that_enqueues_the_notice(frozen_clock, sw_mail, clerk):
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        visit = log_visit(
            kind="petition", subject="急難救助", agency="social-welfare", by=clerk, notify_now=True
        )
    assert visit.id is not None
    assert db.session.scalar(select(func.count(AckLink.id))) == 2  # flushed, not committed
    db.session.rollback()  # a crash before the commit: neither the mail nor its link remains
    assert db.session.scalar(select(func.count(AckLink.id))) == 0
    assert db.session.scalar(select(func.count(Notification.id))) == 0


def test_only_the_agencys_emails_get_links(frozen_clock, sw_mail, make_dispatch, create_user):
    create_user(role="agency", agency="social-welfare")
    dispatch = make_dispatch()
    rows = db.session.scalars(select(Notification).where(Notification.dispatch_id == dispatch.id))
    with_link = {(n.channel, n.recipient) for n in rows if "ack_path" in n.payload}
    assert with_link == {("email", address) for address in ADDRESSES}


# --- Opening changes nothing; the button acknowledges once -------------------------------


def test_opening_the_link_changes_nothing(mailed, app):
    dispatch, links = mailed()
    path = links["desk@sw.example"]
    audits, notices = _audit_count(), db.session.scalar(select(func.count(Notification.id)))
    scanner = app.test_client()
    for _ in range(3):  # a mail scanner, a preview, the person
        assert scanner.get(path).status_code == 200
        assert scanner.head(path).status_code == 200
    assert _audit_count() == audits
    assert db.session.scalar(select(func.count(Notification.id))) == notices
    assert _fresh(dispatch).state == "notified"
    assert _link_row(path).used_at is None

    assert _press(app.test_client(), path).status_code == 200  # still usable
    assert _fresh(dispatch).state == "acknowledged"


def test_the_button_acknowledges_exactly_as_the_inbox_does(mailed, login_as, clerk_api, app):
    by_inbox, _links = mailed()
    by_link, links = mailed()
    agency_client, _staff = login_as("agency", agency="social-welfare", name="林社工")
    clock.advance(seconds=95)
    notices_before = db.session.scalar(select(func.max(Notification.id)))

    inbox = agency_client.post(
        f"/agency/dispatches/{by_inbox.id}/acknowledge", data={"responder": "王專員"}
    )
    assert inbox.status_code == 302
    page = _press(app.test_client(), links["desk@sw.example"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "已確認" in html and "王專員" in html

    first, second = _fresh(by_inbox), _fresh(by_link)
    for d in (first, second):
        assert (d.state, d.responder, d.eta_minutes) == ("acknowledged", "王專員", None)
        assert (d.acknowledged_at - d.notified_at).total_seconds() == 95
    # What the clerk is told: the same notices (none, the board shows it live) ...
    later = db.session.scalars(select(Notification).where(Notification.id > notices_before))
    assert {(n.dispatch_id, n.kind, n.channel) for n in later} == set()
    # ... and the same live feed.
    feed = {d["id"]: d for d in clerk_api.get("/dispatches/open").get_json()["dispatches"]}
    keys = ("state", "responder", "acknowledged_at", "deadline_at", "eta_minutes")
    assert [feed[first.id][k] for k in keys] == [feed[second.id][k] for k in keys]
    # The audit trail: the same acknowledgement, by the link's recipient, and the link's use.
    rows = db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_id == str(second.id)).order_by(AuditEntry.id)
    ).all()
    assert [r.action for r in rows][-2:] == ["dispatch.acknowledge", "ack_link.use"]
    assert {r.actor for r in rows[-2:]} == {"ack-link:desk@sw.example"}
    assert rows[-1].after["recipient"] == "desk@sw.example"
    assert _link_row(links["desk@sw.example"]).used_at == clock.now()
    # The dispatch's timeline says how it was acknowledged.
    desk = login_as("clerk")[0].get(f"/desk/dispatches/{second.id}").get_data(as_text=True)
    assert "desk@sw.example" in desk


def test_a_second_use_is_refused_and_the_page_says_by_whom(mailed, app):
    dispatch, links = mailed()
    used, other = links["desk@sw.example"], links["chief@sw.example"]
    assert _press(app.test_client(), used, "王專員").status_code == 200
    acknowledged_at = _fresh(dispatch).acknowledged_at
    clock.advance(seconds=30)

    again = _press(app.test_client(), used, "李專員")
    assert again.status_code == 410
    html = again.get_data(as_text=True)
    assert "此連結已使用過" in html and "王專員" in html and "10:00:00" in html
    assert app.test_client().get(used).status_code == 410

    # A colleague's link, unused, now shows who is coming and offers no button.
    page = app.test_client().get(other)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "已有人確認" in html and "王專員" in html and 'name="responder"' not in html
    refused = _press(app.test_client(), other, "李專員")
    assert refused.status_code == 409
    assert "王專員" in refused.get_data(as_text=True)
    assert _link_row(other).used_at is None

    after = _fresh(dispatch)
    assert (after.responder, after.acknowledged_at) == ("王專員", acknowledged_at)
    uses = select(func.count(AuditEntry.id)).where(AuditEntry.action == "ack_link.use")
    assert db.session.scalar(uses) == 1


def test_a_dispatch_acknowledged_in_the_inbox_shows_by_whom_on_the_link(mailed, login_as, app):
    dispatch, links = mailed()
    agency_client, _staff = login_as("agency", agency="social-welfare", name="林社工")
    agency_client.post(
        f"/agency/dispatches/{dispatch.id}/acknowledge", data={"responder": "王專員"}
    )
    html = app.test_client().get(links["desk@sw.example"]).get_data(as_text=True)
    assert "王專員" in html and "林社工" in html and 'name="responder"' not in html


def test_past_the_deadline_the_link_still_acknowledges(mailed, app):
    dispatch, links = mailed()
    clock.advance(seconds=15 * 60)  # overdue, still open: the visitor still needs someone
    page = app.test_client().get(links["desk@sw.example"])
    assert page.status_code == 200 and "逾時" in page.get_data(as_text=True)
    assert _press(app.test_client(), links["desk@sw.example"]).status_code == 200
    assert _fresh(dispatch).state == "acknowledged"


@pytest.mark.parametrize("ending", ["arrived", "cancelled"])
def test_a_link_after_the_dispatch_ended_is_refused(mailed, clerk, app, ending):
    dispatch, links = mailed()
    path = links["desk@sw.example"]
    clock.advance(seconds=20 * 60)
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        if ending == "arrived":
            arrive(dispatch, by=clerk)
        else:
            cancel(dispatch, "民眾離開", by=clerk)
        db.session.commit()
    audits = _audit_count()

    page = app.test_client().get(path)
    assert page.status_code == 410
    message = "人員已於 10:20:00 到場" if ending == "arrived" else "已於 10:20:00 取消"
    assert message in page.get_data(as_text=True)
    pressed = _press(app.test_client(), path)
    assert pressed.status_code == 410
    after = _fresh(dispatch)
    assert (after.state, after.acknowledged_at) == (ending, None)
    assert _audit_count() == audits
    assert _link_row(path).used_at is None


def test_the_old_agencys_link_cannot_acknowledge_a_transferred_dispatch(
    mailed, clerk, app, mail_to, run
):
    dispatch, links = mailed()
    update_agency(agency_by_code("health"), emails="desk@health.example")
    clock.advance(seconds=60)
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        successor = transfer(dispatch, "health", "非本局業務", by=clerk)
    db.session.commit()

    old = links["desk@sw.example"]
    page = app.test_client().get(old)
    assert page.status_code == 410
    assert "將此案轉派其他機關" in page.get_data(as_text=True)
    assert _press(app.test_client(), old).status_code == 410
    assert _fresh(successor).state == "notified"
    assert _fresh(dispatch).state == "transferred"

    # The new agency's own link acknowledges the new dispatch.
    run(relay)
    [mail] = mail_to.inbox.to("desk@health.example")
    [new_path] = set(LINK.findall(mail.get_content()))
    assert _link_row(new_path).dispatch_id == successor.id
    assert _press(app.test_client(), new_path).status_code == 200
    assert _fresh(successor).state == "acknowledged"


def test_a_link_whose_address_left_the_agency_is_refused(mailed, app):
    dispatch, links = mailed()
    update_agency(agency_by_code("social-welfare"), emails="chief@sw.example")
    db.session.commit()
    page = app.test_client().get(links["desk@sw.example"])
    assert page.status_code == 403
    html = page.get_data(as_text=True)
    assert "已不是該機關" in html and "低收入戶補助申請" not in html
    assert _press(app.test_client(), links["desk@sw.example"]).status_code == 403
    assert _fresh(dispatch).state == "notified"
    assert _press(app.test_client(), links["chief@sw.example"]).status_code == 200


@pytest.mark.parametrize("token", ["nope", "x" * 43, "y" * 5000])
def test_an_unknown_link_is_a_404_that_names_no_dispatch(mailed, app, token):
    dispatch, _links = mailed()
    path = f"/ack/{token}"
    for response in (app.test_client().get(path), _press(app.test_client(), path)):
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert "無法辨識此確認連結" in html and "低收入戶補助申請" not in html
    assert _fresh(dispatch).state == "notified"


def test_an_empty_name_is_refused_and_the_link_stays_usable(mailed, app):
    dispatch, links = mailed()
    path = links["desk@sw.example"]
    refused = _press(app.test_client(), path, "  ")
    assert refused.status_code == 422
    assert _link_row(path).used_at is None and _fresh(dispatch).state == "notified"
    assert _press(app.test_client(), path).status_code == 200


def test_the_button_needs_the_pages_csrf_token(mailed, csrf_app):
    dispatch, links = mailed()
    path = links["desk@sw.example"]
    browser = csrf_app.test_client()
    assert browser.post(path, data={"responder": "王專員"}).status_code == 400
    assert _fresh(dispatch).state == "notified"
    token = csrf_token(browser, path)
    pressed = browser.post(path, data={"responder": "王專員", "csrf_token": token})
    assert pressed.status_code == 200
    assert _fresh(dispatch).state == "acknowledged"


def test_the_page_is_chinese_first_and_english_when_the_browser_asks(mailed, app):
    _dispatch, links = mailed()
    path = links["desk@sw.example"]
    client = app.test_client()
    assert "確認派員" in client.get(path).get_data(as_text=True)
    chinese_first = client.get(path, headers={"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.8"})
    assert "確認派員" in chinese_first.get_data(as_text=True)
    english = client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"})
    html = english.get_data(as_text=True)
    assert "Acknowledge the dispatch" in html and "確認派員" not in html
    unknown = client.get("/ack/nope", headers={"Accept-Language": "en"})
    assert "This link does not work" in unknown.get_data(as_text=True)
    # Pages for signed-in staff keep their own rule (the user's or the site's language).
    assert "登入" in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)


# --- The token itself ----------------------------------------------------------------------


def _rows_holding(text: str) -> list[str]:
    """Every table (and column) of the database whose stored value contains `text`."""
    found = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is not None and text in str(value):
                        found.append(f"{table.name}.{column}")
    return found


def test_the_database_never_keeps_the_clear_token(mailed, run, app):
    dispatch, links = mailed()
    tokens = [path.rsplit("/", 1)[1] for path in links.values()]
    for token in tokens:  # sent: the e-mails were its only carriers
        assert _rows_holding(token) == []
        row = _link_row(f"/ack/{token}")
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert _press(app.test_client(), links["desk@sw.example"]).status_code == 200
    for token in tokens:  # used: not in the audit trail either
        assert _rows_holding(token) == []
    assert _fresh(dispatch).state == "acknowledged"


def test_before_sending_the_clear_token_is_only_in_the_outbox_mail(
    frozen_clock, sw_mail, make_dispatch
):
    dispatch = make_dispatch()
    mails = db.session.scalars(
        select(Notification).where(
            Notification.dispatch_id == dispatch.id, Notification.channel == "email"
        )
    ).all()
    for mail in mails:
        token = mail.payload["ack_path"].rsplit("/", 1)[1]
        assert _rows_holding(token) == ["notification.payload"]
