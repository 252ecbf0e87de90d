"""The monthly digest on a moved clock: sent on the first working day of the month at 08:30
Taipei time through the outbox to each agency and to the chief, with last month's and the
year's figures, the late dispatches and their reasons and a warning below the target; never
twice; a month whose 1st is a holiday sends on the next working day; a missed 08:30 catches up."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from jobs import digest
from jobs.relay import relay
from jobs.scheduler import job_specs
from models.core import clock, db
from models.core.audit import AuditEntry
from models.core.outbox import Notification
from models.dispatch.late import set_late_reason
from models.reference import agency_by_code, update_agency
from models.reports.digest import MonthlyDigest, first_working_day
from tests.jobs.conftest import notices
from tests.reports import data as rd


def at(text: str) -> datetime:
    return clock.parse_local(text)


def digest_notices() -> list[Notification]:
    return notices(kind="report.monthly_digest")


@pytest.fixture
def centre(create_user):
    """January and February 2024: 社會局 59 dispatches, 8 late (four of them in February, one
    with a reason), 勞動局 4 on time in February; their addresses and staff; the chief."""
    update_agency(agency_by_code("social-welfare"), emails="desk@sw.example, head@sw.example")
    update_agency(agency_by_code("labor"), emails="desk@labor.example")
    social_staff = create_user(role="agency", agency="social-welfare")
    labor_staff = create_user(role="agency", agency="labor")
    create_user(role="agency", agency="health")  # no dispatch this year: no digest
    chief = create_user(
        role="supervisor", email="chief@city.example", receives_escalations=True, name="李主任"
    )
    create_user(role="supervisor", email="sup@city.example")  # not the chief
    late = []
    for index in range(59):
        month, day = (1, 2 + index % 28) if index < 30 else (2, 1 + index % 28)
        notified = f"2024-{month:02d}-{day:02d} {9 + index % 8:02d}:{index % 60:02d}"
        if index % 7 == 3 and len(late) < 8:
            late.append(rd.dispatch(notified, "social-welfare", arrived=14))
        else:
            rd.dispatch(notified, "social-welfare", arrived=4)
    for day in (5, 6, 7, 8):
        rd.dispatch(f"2024-02-{day:02d} 10:00", "labor", arrived=3)
    rd.dispatch("2024-03-01 08:00", "labor", arrived=30)  # March: not in February's digest
    db.session.commit()
    february_late = [d for d in late if clock.local(d.notified_at).month == 2]
    assert len(february_late) == 4
    set_late_reason(february_late[0], "short_staffed", "兩位承辦人請假", by=social_staff)
    db.session.commit()
    return {
        "social_staff": social_staff,
        "labor_staff": labor_staff,
        "chief": chief,
        "february_late": february_late,
    }


def test_the_monthly_digest_on_a_moved_clock(centre, run, mail_to):
    clock.freeze(at("2024-03-01 08:29"))  # a Friday, the first working day of March
    assert run(digest.monthly_digest) == {"sent": 0, "notices": 0}
    assert digest_notices() == []

    clock.advance(minutes=1)  # 08:30 Taipei
    assert run(digest.monthly_digest) == {"sent": 1, "notices": 7}

    sent = {(n.channel, n.recipient): n for n in digest_notices()}
    social, labor = centre["social_staff"], centre["labor_staff"]
    chief = centre["chief"]
    assert set(sent) == {
        ("email", "desk@sw.example"),
        ("email", "head@sw.example"),
        ("in_app", f"user:{social.id}"),
        ("email", "desk@labor.example"),
        ("in_app", f"user:{labor.id}"),
        ("email", "chief@city.example"),
        ("in_app", f"user:{chief.id}"),
    }
    assert sent[("email", "desk@sw.example")].event_key == "digest:2024-02:social-welfare"
    assert sent[("email", "chief@city.example")].event_key == "digest:2024-02:chief"

    mine = sent[("email", "desk@sw.example")].payload
    assert (mine["period"], mine["agency"], mine["year_over"]) == (
        "2024-02",
        "social-welfare",
        False,
    )
    month, year = mine["month_figures"], mine["year_figures"]
    assert (month["counted"], month["late"]) == (29, 4)
    assert (year["counted"], year["on_time"], year["late"]) == (59, 51, 8)
    assert (year["rate"], year["target"], year["target_met"]) == (86.44, 87, False)
    assert (year["rate_text"], year["target_text"]) == ("86.44%", "87%")
    assert year["needed_in_a_row"] == 3
    assert mine["warning"] is True
    assert [row["id"] for row in mine["late"]] == [d.id for d in reversed(centre["february_late"])]
    explained = next(row for row in mine["late"] if row["reason"])
    assert (explained["reason_label"], explained["note"]) == ("人力不足", "兩位承辦人請假")
    assert sum(1 for row in mine["late"] if row["reason"] is None) == 3
    assert all("subject" not in row for row in mine["late"])  # no visit data leaves by e-mail
    assert mine["path"] == "/agency/scorecard?year=2024"

    theirs = sent[("email", "desk@labor.example")].payload
    assert (theirs["month_figures"]["counted"], theirs["year_figures"]["rate"]) == (4, 100.0)
    assert (theirs["warning"], theirs["late"]) == (False, [])

    overview = sent[("email", "chief@city.example")].payload
    assert (overview["year_figures"]["counted"], overview["year_figures"]["late"]) == (63, 8)
    assert overview["month_figures"]["counted"] == 33
    assert [a["agency"] for a in overview["agencies"]] == ["labor", "social-welfare"]
    assert overview["below_target"] == ["social-welfare"]
    assert len(overview["late"]) == 4
    assert overview["path"] == "/reports/2024"

    # Through the outbox and a real SMTP server: Chinese first, English below.
    assert run(relay)["sent"] == 7
    [mail] = mail_to.inbox.to("desk@sw.example")
    assert "113年2月派員到場月報：社會局" in mail["Subject"] and "below target" in mail["Subject"]
    body = mail.get_content()
    assert "達成率 86.44%，目標值 87%" in body
    assert "須連續 3 件準時到場始能達標" in body
    assert "人力不足（兩位承辦人請假）" in body
    assert "未填原因" in body
    assert "3 on-time arrivals in a row are needed" in body
    assert "http://127.0.0.1:5000/agency/scorecard?year=2024" in body
    assert body.index("預警") < body.index("Warning")
    [chief_mail] = mail_to.inbox.to("chief@city.example")
    assert "社會局：4/29 件逾時" in chief_mail.get_content()
    assert mail_to.inbox.to("sup@city.example") == []

    # A second run (a restart, another leader, the next day) sends nothing.
    assert run(digest.monthly_digest) == {"sent": 0, "notices": 0}
    clock.advance(days=1)
    assert run(digest.monthly_digest) == {"sent": 0, "notices": 0}
    assert len(digest_notices()) == 7
    record = db.session.get(MonthlyDigest, "2024-02")
    assert (record.sent_at, record.notices) == (at("2024-03-01 08:30"), 7)
    audited = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "report.monthly_digest")
    ).all()
    assert [(e.object_id, e.actor, e.after["below_target"]) for e in audited] == [
        ("2024-02", "jobs", ["social-welfare"])
    ]


def test_a_month_whose_1st_is_a_holiday_sends_on_the_next_working_day(centre, run):
    assert first_working_day(2024, 1) == date(2024, 1, 2)  # 元旦 on Monday the 1st
    assert first_working_day(2024, 6) == date(2024, 6, 3)  # the 1st is a Saturday
    assert first_working_day(2024, 3) == date(2024, 3, 1)
    clock.freeze(at("2024-01-01 08:30"))
    assert run(digest.monthly_digest) == {"sent": 0, "notices": 0}
    clock.freeze(at("2024-01-02 08:29:59"))
    assert run(digest.monthly_digest)["sent"] == 0
    clock.advance(seconds=1)
    result = run(digest.monthly_digest)
    assert result["sent"] == 1
    # December 2023 had no dispatch: only the chief hears, and the year is over.
    [email, in_app] = sorted(digest_notices(), key=lambda n: n.channel)
    assert (email.recipient, email.event_key) == ("chief@city.example", "digest:2023-12:chief")
    assert email.payload["year_over"] is True
    assert email.payload["year_figures"]["needed_in_a_row"] is None
    assert in_app.user_id == centre["chief"].id


def test_a_scheduler_down_at_0830_catches_up_later_that_day(centre, run):
    clock.freeze(at("2024-03-01 11:45"))  # nobody ran the job at 08:30
    assert run(digest.monthly_digest) == {"sent": 1, "notices": 7}
    assert db.session.get(MonthlyDigest, "2024-02").sent_at == at("2024-03-01 11:45")


def test_a_month_already_claimed_by_another_leader_is_not_sent_again(centre, run):
    clock.freeze(at("2024-03-01 08:30"))
    db.session.add(MonthlyDigest(month="2024-02", sent_at=clock.now(), notices=7))
    db.session.commit()
    assert run(digest.monthly_digest) == {"sent": 0, "notices": 0}
    assert digest_notices() == []


def test_the_time_is_a_setting_and_the_job_runs_daily_at_it(app, centre, run, monkeypatch):
    [spec] = [s for s in job_specs(app) if s.name == digest.NAME]
    assert spec.describe() == "daily:08:30"
    monkeypatch.setitem(app.config, "JOBS_DIGEST_AT", "09:15")
    [spec] = [s for s in job_specs(app) if s.name == digest.NAME]
    assert spec.describe() == "daily:09:15"
    clock.freeze(at("2024-03-01 09:14"))
    assert run(digest.monthly_digest)["sent"] == 0
    clock.advance(minutes=1)
    assert run(digest.monthly_digest)["sent"] == 1


def test_a_bad_digest_time_stops_the_jobs_with_a_clear_message(run_cli, app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_DIGEST_AT", "half past eight")
    result = run_cli("jobs", "--once")
    assert result.exit_code != 0
    assert "CITYDESK_JOBS_DIGEST_AT must be HH:MM" in result.output


def test_an_inactive_agency_and_staff_hear_nothing(centre, run, create_user):
    update_agency(agency_by_code("labor"), active=False)
    db.session.commit()
    clock.freeze(at("2024-03-01 08:30"))
    run(digest.monthly_digest)
    recipients = {n.recipient for n in digest_notices()}
    assert "desk@labor.example" not in recipients
    assert f"user:{centre['labor_staff'].id}" not in recipients
    overview = next(n for n in digest_notices() if n.recipient == "chief@city.example").payload
    assert "labor" in [a["agency"] for a in overview["agencies"]]  # the chief still sees it
    total = db.session.scalar(select(func.count()).select_from(Notification))
    assert total == len(digest_notices()) == 5
