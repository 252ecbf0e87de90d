"""不滿意 reaches the service-centre chief by real SMTP: the visitor's answer is written to the
outbox with the rating, and the relay mails it to the users who receive escalations."""

from models.core import audit, clock, db
from models.dispatch import arrive, log_visit, notify, rate_visit, transfer
from tests.jobs.conftest import notices


def test_dissatisfied_reaches_the_chief_by_real_smtp_with_the_visit_agency_and_wait(
    frozen_clock, run, mail_to, create_user
):
    from jobs.relay import relay

    clerk = create_user(role="clerk", username="counter")
    create_user(role="supervisor", email="chief@city.example", receives_escalations=True)
    create_user(role="supervisor", email="deputy@city.example")  # no escalations: not told
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        visit = log_visit(
            kind="petition", subject="長照補助申請", agency="social-welfare", by=clerk
        )
        first = notify(visit, by=clerk)
        clock.advance(seconds=7 * 60)
        second = transfer(first, "health", by=clerk)
        clock.advance(seconds=8 * 60)
        arrive(second, by=clerk)
        rate_visit(visit, "dissatisfied", by=clerk)
    db.session.commit()

    result = run(relay)
    assert result.get("sent", 0) >= 2  # the chief's e-mail and in-app notice
    [mail] = mail_to.inbox.to("chief@city.example")
    assert [rcpts for rcpts, _m in mail_to.messages] == [["chief@city.example"]]
    subject = mail["Subject"]
    assert "民眾不滿意" in subject and "衛生局" in subject and f"#{visit.id}" in subject
    assert mail["X-CityDesk-Event"] == f"dispatch:{second.id}:dissatisfied"
    body = mail.get_content()
    assert f"臨櫃案件：#{visit.id}" in body
    assert "服務機關：衛生局" in body
    assert "民眾等候：15.0 分鐘" in body  # 10:00 logged → 10:15 arrived, across the transfer
    assert "Visitor's wait: 15.0 minutes" in body
    assert f"http://127.0.0.1:5000/desk/dispatches/{second.id}" in body
    [row] = notices(channel="email", kind="visit.dissatisfied")
    assert row.state == "sent"
    assert run(relay) == {}  # sent once


def test_the_chiefs_mail_says_when_the_responder_arrived(frozen_clock, run, mail_to, create_user):
    from jobs.relay import relay

    clerk = create_user(role="clerk", username="counter")
    create_user(role="supervisor", email="chief@city.example", receives_escalations=True)
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        visit = log_visit(
            kind="petition", subject="長照補助申請", agency="social-welfare", by=clerk
        )
        dispatch = notify(visit, by=clerk)
        clock.advance(seconds=7 * 60)
        arrive(dispatch, by=clerk)
        clock.advance(seconds=60)  # the visitor answers a minute after the arrival
        rate_visit(visit, "dissatisfied", by=clerk)
    db.session.commit()

    run(relay)
    [mail] = mail_to.inbox.to("chief@city.example")
    body = mail.get_content()
    assert "派員通知：113/03/04 10:00（臺北時間）" in body
    assert "人員到場：113/03/04 10:07（臺北時間）" in body
    assert "Arrived: 2024-03-04 10:07 (Taipei time)" in body
