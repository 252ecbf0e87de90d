"""The outbox relay over a real SMTP server on loopback: the breach e-mail, retries while the
server is down, exactly one mail once it is back."""

from datetime import timedelta

from jobs.escalation import overdue_sweep
from jobs.relay import relay
from models.core import clock, db
from models.core.notices import retry
from models.core.outbox import Channel, enqueue
from tests.jobs.conftest import notices


def test_breach_email_names_the_agency_the_subject_and_the_deadline(
    frozen_clock, run, dispatch_row, mail_to, agency_mail
):
    dispatch = dispatch_row(sla=600, subject="低收入戶申請進度")
    clock.advance(seconds=605)
    run(overdue_sweep)
    result = run(relay)
    assert result == {"sent": 1}

    [(rcpts, mail)] = mail_to.messages
    assert rcpts == ["desk@sw.example"]
    subject = mail["Subject"]
    assert "派員逾時" in subject and "社會局" in subject and "10:10" in subject
    assert "Department of Social Welfare" in subject
    assert mail["From"] == "CityDesk <citydesk@city.example>"
    assert mail["X-CityDesk-Event"] == f"dispatch:{dispatch.id}:breach"
    body = mail.get_content()
    chinese, english = body.index("到場期限"), body.index("Deadline")
    assert chinese < english  # Traditional Chinese first, English below
    assert "113/03/04 10:10" in body  # the deadline in Taipei time, ROC date
    assert "2024-03-04 10:10 (Taipei time)" in body
    assert "低收入戶申請進度" in body
    assert f"http://127.0.0.1:5000/agency/dispatches/{dispatch.id}" in body

    [row] = notices(channel="email")
    assert (row.state, row.attempts, row.sent_at) == ("sent", 1, clock.now())
    assert run(relay) == {}  # nothing left: never sent twice
    assert len(mail_to.messages) == 1


def test_with_the_server_down_the_notice_waits_and_is_retried_then_sent_once(
    frozen_clock, run, dispatch_row, mail_to, agency_mail, app
):
    base = app.config["OUTBOX_BACKOFF_SECONDS"]
    dispatch = dispatch_row(sla=600)
    clock.advance(seconds=601)
    run(overdue_sweep)
    mail_to.stop()

    assert run(relay) == {"retry": 1}
    [row] = notices(channel="email")
    assert (row.state, row.attempts) == ("pending", 1)
    assert "unavailable" in row.last_error
    wait = row.next_attempt_at - clock.now()
    assert timedelta(seconds=base / 2) <= wait <= timedelta(seconds=base)

    assert run(relay) == {}  # not due yet: no attempt before the backoff
    clock.advance(seconds=base)
    assert run(relay) == {"retry": 1}  # still down: second attempt, longer wait
    [row] = notices(channel="email")
    assert row.attempts == 2
    assert row.next_attempt_at - clock.now() >= timedelta(seconds=base)

    mail_to.start()
    clock.advance(seconds=2 * base)
    assert run(relay) == {"sent": 1}
    clock.advance(hours=1)
    run(relay)
    assert len(mail_to.messages) == 1
    [(_rcpts, mail)] = mail_to.messages
    assert mail["X-CityDesk-Event"] == f"dispatch:{dispatch.id}:breach"
    [row] = notices(channel="email")
    assert (row.state, row.attempts, row.last_error) == ("sent", 3, None)


def test_after_the_last_attempt_the_notice_is_dead_until_an_admin_retries_it(
    frozen_clock, run, mail_to, app, monkeypatch
):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 3)
    mail_to.stop()
    enqueue("test:1", "test.notice", Channel.EMAIL, "someone@city.example", {"title": "Hello"})
    for _ in range(3):
        run(relay)
        clock.advance(hours=1)
    [row] = notices()
    assert (row.state, row.attempts) == ("dead", 3)
    assert run(relay) == {}  # a dead notice is left alone

    mail_to.start()
    retry(row.id)
    db.session.commit()
    assert run(relay) == {"sent": 1}
    assert len(mail_to.messages) == 1


def test_an_address_the_server_refuses_is_dead_at_once(frozen_clock, run, mail_to):
    mail_to.inbox.refuse.add("nobody@city.example")
    enqueue("test:1", "test.notice", Channel.EMAIL, "nobody@city.example", {"title": "Hi"})
    enqueue("test:1", "test.notice", Channel.EMAIL, "somebody@city.example", {"title": "Hi"})
    assert run(relay) == {"dead": 1, "sent": 1}
    dead = notices(recipient="nobody@city.example")[0]
    assert dead.state == "dead" and "550" in dead.last_error
    assert [r for r, _m in mail_to.messages] == [["somebody@city.example"]]


def test_without_a_mail_server_email_notices_wait_and_in_app_ones_go(
    frozen_clock, run, create_user, app, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")
    user = create_user(role="supervisor")
    enqueue("test:1", "test.notice", Channel.EMAIL, "a@city.example", {})
    enqueue("test:1", "test.notice", Channel.IN_APP, f"user:{user.id}", {}, user_id=user.id)
    assert run(relay) == {"sent": 1}
    assert notices(channel="email")[0].state == "pending"
    assert notices(channel="email")[0].attempts == 0
    assert notices(channel="in_app")[0].state == "sent"


def test_a_notice_that_cannot_be_rendered_is_dead_and_the_others_still_go(
    frozen_clock, run, mail_to, monkeypatch
):
    import jobs.relay

    real_prepare = jobs.relay.prepare

    def prepare(notice, dispatch, attempts, mail):
        if notice.recipient == "broken@city.example":
            raise KeyError("deadline_at")
        return real_prepare(notice, dispatch, attempts, mail)

    monkeypatch.setattr(jobs.relay, "prepare", prepare)
    enqueue("test:1", "test.notice", Channel.EMAIL, "broken@city.example", {"title": "A"})
    enqueue("test:1", "test.notice", Channel.EMAIL, "fine@city.example", {"title": "B"})
    assert run(relay) == {"dead": 1, "sent": 1}
    [broken] = notices(recipient="broken@city.example")
    assert broken.last_error == "cannot be rendered: KeyError: 'deadline_at'"
    assert [r for r, _m in mail_to.messages] == [["fine@city.example"]]


def test_the_chief_mail_and_a_mail_delayed_past_the_arrival_say_so(
    frozen_clock, run, dispatch_row, mail_to, create_user
):
    create_user(role="supervisor", email="chief@city.example", receives_escalations=True)
    dispatch = dispatch_row(sla=600)
    clock.advance(seconds=600 + 301)
    run(overdue_sweep)
    run(relay)
    [chief_mail] = [
        m for m in mail_to.inbox.to("chief@city.example") if "chief" in m["X-CityDesk-Event"]
    ]
    body = chief_mail.get_content()
    assert "逾時陳報" in chief_mail["Subject"] and "已逾到場期限 5 分鐘" in body
    assert "5 minutes after the deadline" in body
    assert f"/desk/dispatches/{dispatch.id}" in body
    assert "延遲送出" not in body  # still open: no note

    # A breach mail held up by a dead mail server goes out after the agency arrived.
    late = dispatch_row(sla=600)
    clock.advance(seconds=601)
    mail_to.stop()
    run(overdue_sweep)
    run(relay)
    late.state, late.arrived_at = "arrived", clock.now()
    db.session.commit()
    mail_to.start()
    clock.advance(hours=1)
    run(relay)
    [held] = [
        m for m in mail_to.messages if m[1]["X-CityDesk-Event"] == f"dispatch:{late.id}:breach"
    ]
    body = held[1].get_content()
    assert "本信延遲送出：此案件已於 113/03/04 10:25 已到場" in body
    assert "this dispatch has since ended (someone arrived, 2024-03-04 10:25)" in body


def test_a_connection_the_server_dropped_between_notices_is_reopened(frozen_clock, run, mail_to):
    mail_to.inbox.hang_up = True
    for n in range(3):
        enqueue("test:1", "test.notice", Channel.EMAIL, f"p{n}@city.example", {"title": "Hi"})
    db.session.commit()
    assert run(relay) == {"sent": 3}
    assert len(mail_to.messages) == 3
    assert mail_to.inbox.sessions == 3
