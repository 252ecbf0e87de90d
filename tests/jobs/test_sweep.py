"""The overdue sweep and its escalation ladder: each step at its time, once per dispatch."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from jobs import config
from jobs.escalation import overdue_sweep
from models.core import clock, db
from models.core.audit import AuditEntry
from models.core.errors import InvalidInput
from models.dispatch import DispatchState
from models.dispatch.escalation import DispatchEscalation, breaches_for, steps_for
from tests.jobs.conftest import notices


def _escalations(step=None):
    stmt = sa.select(DispatchEscalation).order_by(DispatchEscalation.id)
    if step:
        stmt = stmt.where(DispatchEscalation.step == step)
    return list(db.session.scalars(stmt))


def test_breach_is_recorded_once_with_notices_to_agency_contacts_and_supervisors(
    frozen_clock, run, dispatch_row, agency_contacts, create_user
):
    supervisor = create_user(role="supervisor", email="boss@city.example")
    gone = create_user(role="supervisor", email="gone@city.example")
    gone.active = False
    db.session.commit()
    dispatch = dispatch_row(sla=600)

    clock.advance(seconds=600)  # exactly at the deadline: still on time, no breach
    assert run(overdue_sweep)["breach"] == 0
    clock.advance(seconds=1)
    result = run(overdue_sweep)
    assert result["breach"] == 1

    [breach] = _escalations("breach")
    assert breach.dispatch_id == dispatch.id
    assert breach.due_at == dispatch.deadline_at
    assert breach.recorded_at == clock.now()
    rows = notices(event_key=f"dispatch:{dispatch.id}:breach")
    got = {(n.channel, n.recipient) for n in rows}
    assert got == {
        ("in_app", f"user:{agency_contacts[0].id}"),
        ("in_app", f"user:{agency_contacts[1].id}"),
        ("email", "desk@sw.example"),
        ("email", "chief@sw.example"),
        ("webhook", "http://127.0.0.1:9/hook"),
        ("in_app", f"user:{supervisor.id}"),
        ("email", "boss@city.example"),
    }
    assert {n.kind for n in rows} == {"dispatch.breach"}
    assert all(n.dispatch_id == dispatch.id for n in rows)
    # In-app notices are delivered with the breach itself; e-mail and webhook wait for the relay.
    assert {(n.channel, n.state) for n in rows} == {
        ("in_app", "sent"),
        ("email", "pending"),
        ("webhook", "pending"),
    }
    assert all(n.sent_at == clock.now() for n in rows if n.channel == "in_app")
    assert breach.notices == len(rows) == 7
    assert rows[0].payload["deadline_at"] == dispatch.deadline_at.isoformat()
    agency_rows = [n for n in rows if n.recipient == "desk@sw.example"]
    assert agency_rows[0].payload["path"] == f"/agency/dispatches/{dispatch.id}"
    boss_rows = [n for n in rows if n.recipient == "boss@city.example"]
    assert boss_rows[0].payload["path"] == f"/desk/dispatches/{dispatch.id}"

    # Idempotent: run again (and again later): nothing new.
    assert run(overdue_sweep)["breach"] == 0
    clock.advance(seconds=30)
    assert run(overdue_sweep)["breach"] == 0
    assert len(_escalations("breach")) == 1
    assert len(notices(event_key=f"dispatch:{dispatch.id}:breach")) == 7
    assert breaches_for([dispatch.id]) == {dispatch.id: breach.recorded_at}

    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "dispatch.breached"))
    assert entry.actor == "jobs" and entry.object_id == str(dispatch.id)
    assert entry.after["notices"] == 7


def test_reminder_three_minutes_before_the_deadline_only_when_not_acknowledged(
    frozen_clock, run, dispatch_row, agency_contacts
):
    waiting = dispatch_row(sla=600)
    acknowledged = dispatch_row(sla=600, state=DispatchState.ACKNOWLEDGED.value)
    acknowledged.acknowledged_at = clock.now()
    db.session.commit()

    clock.advance(seconds=600 - 181)
    assert run(overdue_sweep)["reminder"] == 0
    clock.advance(seconds=1)  # deadline - 3:00
    assert run(overdue_sweep)["reminder"] == 1
    assert run(overdue_sweep)["reminder"] == 0

    [reminder] = _escalations("reminder")
    assert reminder.dispatch_id == waiting.id
    rows = notices(event_key=f"dispatch:{waiting.id}:reminder")
    assert {n.channel for n in rows} == {"in_app", "email", "webhook"}
    assert {n.kind for n in rows} == {"dispatch.reminder"}
    # Reminders go to the agency only, never to supervisors.
    assert all(n.payload["path"].startswith("/agency/") for n in rows)
    assert notices(event_key=f"dispatch:{acknowledged.id}:reminder") == []


def test_no_reminder_when_the_sla_is_shorter_than_the_reminder_or_the_deadline_passed(
    frozen_clock, run, dispatch_row, agency_contacts
):
    short = dispatch_row(sla=120)  # the reminder would come before the notice itself
    clock.advance(seconds=60)
    assert run(overdue_sweep)["reminder"] == 0
    late = dispatch_row(sla=600)
    clock.advance(seconds=700)  # the sweep was down through the reminder window
    result = run(overdue_sweep)
    assert result["reminder"] == 0 and result["breach"] == 2
    assert {s.step for s in steps_for(late.id)} == {"breach"}
    assert {s.step for s in steps_for(short.id)} == {"breach", "chief"}


def test_chief_is_told_five_minutes_after_the_deadline_if_nobody_arrived(
    frozen_clock, run, dispatch_row, agency_contacts, create_user
):
    chief = create_user(role="supervisor", email="chief@city.example", receives_escalations=True)
    clerk_chief = create_user(role="clerk", receives_escalations=True)
    open_one = dispatch_row(sla=600)
    arrived = dispatch_row(sla=600)

    clock.advance(seconds=601)
    run(overdue_sweep)
    arrived.state = DispatchState.ARRIVED.value
    arrived.arrived_at = clock.now()
    db.session.commit()

    clock.advance(seconds=299)
    assert run(overdue_sweep)["chief"] == 0
    clock.advance(seconds=1)
    assert run(overdue_sweep)["chief"] == 1
    assert run(overdue_sweep)["chief"] == 0

    rows = notices(event_key=f"dispatch:{open_one.id}:chief")
    assert {(n.channel, n.recipient) for n in rows} == {
        ("in_app", f"user:{chief.id}"),
        ("email", "chief@city.example"),
        ("in_app", f"user:{clerk_chief.id}"),
    }
    assert {n.kind for n in rows} == {"dispatch.escalated"}
    assert notices(event_key=f"dispatch:{arrived.id}:chief") == []
    assert [s.step for s in steps_for(open_one.id)] == ["breach", "chief"]


def test_a_breach_due_with_the_chiefs_step_is_recorded_and_notified_first(
    frozen_clock, run, dispatch_row, agency_contacts, create_user
):
    """The sweep was down past deadline + 5 minutes: one sweep takes both steps, the breach
    first (its record, its notices and its audit entry all come before the chief's)."""
    create_user(role="supervisor", email="chief@city.example", receives_escalations=True)
    dispatch = dispatch_row(sla=600)
    clock.advance(seconds=600 + 300 + 1)  # the breach and the chief's step both due now
    result = run(overdue_sweep)
    assert result["breach"] == 1 and result["chief"] == 1

    assert [(e.step, e.dispatch_id) for e in _escalations()] == [
        ("breach", dispatch.id),
        ("chief", dispatch.id),
    ]
    breach = notices(event_key=f"dispatch:{dispatch.id}:breach")
    chief = notices(event_key=f"dispatch:{dispatch.id}:chief")
    assert breach and chief
    assert max(n.id for n in breach) < min(n.id for n in chief)
    # Entries are inserted unsealed; the sealer numbers them (seq) in id order.
    entries = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.action.in_(["dispatch.breached", "dispatch.escalated"]))
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.object_id) for e in entries] == [
        ("dispatch.breached", str(dispatch.id)),
        ("dispatch.escalated", str(dispatch.id)),
    ]


def test_closed_dispatches_are_never_escalated(frozen_clock, run, dispatch_row, agency_contacts):
    for state in ("arrived", "cancelled", "transferred"):
        dispatch_row(sla=60, state=state, ended_at=clock.now())
    clock.advance(hours=1)
    assert run(overdue_sweep) == {"reminder": 0, "breach": 0, "chief": 0, "notices": 0}


def test_each_step_is_configurable(
    frozen_clock, run, dispatch_row, agency_contacts, create_user, monkeypatch, app
):
    monkeypatch.setitem(app.config, "ESCALATION_REMINDER_SECONDS", None)  # off
    monkeypatch.setitem(app.config, "ESCALATION_BREACH_TO_SUPERVISORS", False)
    monkeypatch.setitem(app.config, "ESCALATION_CHIEF_SECONDS", 60)
    supervisor = create_user(role="supervisor", receives_escalations=False)
    chief = create_user(role="supervisor", receives_escalations=True)
    dispatch = dispatch_row(sla=600)
    clock.advance(seconds=599)
    assert run(overdue_sweep)["reminder"] == 0
    clock.advance(seconds=2)
    run(overdue_sweep)
    breach_users = {n.user_id for n in notices(event_key=f"dispatch:{dispatch.id}:breach")}
    assert supervisor.id not in breach_users and chief.id not in breach_users
    clock.advance(seconds=60)
    assert run(overdue_sweep)["chief"] == 1
    assert {n.user_id for n in notices(event_key=f"dispatch:{dispatch.id}:chief")} == {chief.id}


def test_a_breach_found_late_is_recorded_but_stale_ones_send_nothing(
    frozen_clock, run, dispatch_row, agency_contacts
):
    old = dispatch_row(sla=600)
    clock.advance(hours=30)  # e.g. an open dispatch imported or left from long ago
    run(overdue_sweep)
    [breach] = _escalations("breach")
    assert breach.dispatch_id == old.id and breach.notices == 0
    assert notices(dispatch_id=old.id) == []


def test_bad_ladder_settings_fail_with_a_clear_message(app, monkeypatch, run):
    monkeypatch.setitem(app.config, "ESCALATION_CHIEF_SECONDS", "five minutes")
    with pytest.raises(Exception, match="CITYDESK_ESCALATION_CHIEF_SECONDS must be a whole number"):
        run(overdue_sweep)


def test_the_ladder_is_read_by_the_one_config_parser():
    settings = {
        "ESCALATION_REMINDER_SECONDS": "off",
        "ESCALATION_BREACH_TO_SUPERVISORS": "no",
        "ESCALATION_CHIEF_SECONDS": "120",
        "ESCALATION_MAX_AGE_HOURS": 2,
    }
    ladder = config.Ladder.from_config(settings)
    assert ladder == config.Ladder(None, False, 120, timedelta(hours=2))
    # The same parser reads every jobs setting: the same words mean the same everywhere.
    assert config.flag(settings, "ESCALATION_BREACH_TO_SUPERVISORS") is False
    assert config.whole(settings, "ESCALATION_CHIEF_SECONDS") == 120
    assert config.whole(settings, "ESCALATION_REMINDER_SECONDS", optional=True) is None
    for bad in ("-5", "five", True):
        with pytest.raises(InvalidInput, match="CITYDESK_ESCALATION_CHIEF_SECONDS must be"):
            config.Ladder.from_config(settings | {"ESCALATION_CHIEF_SECONDS": bad})
    with pytest.raises(InvalidInput, match="CITYDESK_ESCALATION_MAX_AGE_HOURS must be set"):
        config.Ladder.from_config(settings | {"ESCALATION_MAX_AGE_HOURS": None})
