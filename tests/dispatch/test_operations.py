"""The dispatch operations: notices, permissions, illegal moves, notes, corrections, audit."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update

from models.core import audit, clock, db
from models.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.core.outbox import Notification
from models.dispatch import (
    Dispatch,
    DispatchState,
    Visit,
    VisitNote,
    VisitStatus,
    acknowledge,
    add_note,
    agency_to_notify,
    arrive,
    cancel,
    correct_time,
    dispatch_for,
    log_visit,
    notify,
    settle_visit,
    transfer,
)
from models.dispatch.privacy import mask_name, mask_phone
from models.reference import agency_by_code, update_agency


def audit_actions(object_type: str, object_id) -> list[str]:
    rows = db.session.scalars(
        audit.search(object_type=object_type, object_id=str(object_id)).order_by(None)
    )
    return sorted(r.action for r in rows)


def test_log_visit_records_the_visitor_and_who_logged_it(frozen_clock, clerk):
    visit = log_visit(
        kind="inquiry",
        subject="  身障補助 ",
        agency="社會局",
        petitioner_name="王小明",
        petitioner_phone="0912-345-123",
        is_senior=True,
        by=clerk,
    )
    db.session.commit()
    assert visit.subject == "身障補助"
    assert visit.agency.code == "social-welfare"
    assert visit.status == VisitStatus.OPEN
    assert visit.created_at == clock.now()
    assert visit.created_by_id == clerk.id
    assert audit_actions("visit", visit.id) == ["visit.create"]
    entry = db.session.scalar(audit.search(action="visit.create"))
    assert "王小明" not in str(entry.after)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "complaint", "subject": "x"}, "complaint"),
        ({"kind": "petition", "subject": "   "}, ""),
        ({"kind": "petition", "subject": "x" * 201}, ""),
        ({"kind": "petition", "subject": "x", "agency": "no-such-agency"}, "no-such-agency"),
        ({"kind": "petition", "subject": "x", "petitioner_phone": "call me"}, ""),
    ],
)
def test_log_visit_rejects_bad_input_and_changes_nothing(clerk, fields, message):
    with pytest.raises(InvalidInput) as raised:
        log_visit(by=clerk, **fields)
    assert message in raised.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count(Visit.id))) == 0


def test_the_agency_is_found_by_english_name_too(clerk):
    visit = log_visit(kind="other", subject="x", agency="Department of Labor", by=clerk)
    assert visit.agency.code == "labor"


def test_settled_visit_is_closed_without_a_dispatch(frozen_clock, clerk):
    visit = log_visit(kind="inquiry", subject="洽詢開放時間", by=clerk)
    settle_visit(visit, "已當場說明", by=clerk)
    db.session.commit()
    assert visit.status == VisitStatus.SETTLED
    assert visit.closed_at == clock.now()
    assert visit.dispatches == []
    assert [n.text for n in visit.note_entries] == ["已當場說明"]
    with pytest.raises(Conflict):
        settle_visit(visit, by=clerk)
    db.session.rollback()
    with pytest.raises(Conflict):
        notify(visit, "labor", by=clerk)


def test_notify_writes_in_app_email_and_webhook_notices_in_the_same_transaction(
    frozen_clock, create_user, clerk
):
    agency = agency_by_code("social-welfare")
    update_agency(
        agency,
        emails="desk@sw.gov.example\nchief@sw.gov.example",
        webhook_url="https://hook.example/x",
    )
    staff = [create_user(role="agency", agency="social-welfare") for _ in range(2)]
    gone = create_user(role="agency", agency="social-welfare")
    gone.active = False
    create_user(role="agency", agency="labor")  # another agency: no notice
    visit = log_visit(kind="petition", subject="急難救助", petitioner_name="王小明", by=clerk)
    dispatch = notify(visit, by=clerk, agency="social-welfare")
    db.session.commit()
    rows = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert {(n.channel, n.recipient) for n in rows} == {
        ("in_app", f"user:{staff[0].id}"),
        ("in_app", f"user:{staff[1].id}"),
        ("email", "desk@sw.gov.example"),
        ("email", "chief@sw.gov.example"),
        ("webhook", "https://hook.example/x"),
    }
    assert {n.event_key for n in rows} == {f"dispatch:{dispatch.id}:notified"}
    assert all(n.dispatch_id == dispatch.id and n.state == "pending" for n in rows)
    payload = rows[0].payload
    assert payload["agency"] == "social-welfare"
    assert payload["deadline_at"] == dispatch.deadline_at.isoformat()
    assert "王小明" not in str(payload)
    assert visit.status == VisitStatus.DISPATCHED


def test_a_failed_notify_leaves_no_dispatch_and_no_notice(clerk, create_user):
    create_user(role="agency", agency="social-welfare")
    visit = log_visit(kind="petition", subject="x", by=clerk)
    db.session.commit()
    with pytest.raises(InvalidInput):
        notify(visit, "nowhere", by=clerk)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Dispatch.id))) == 0
    assert db.session.scalar(select(func.count(Notification.id))) == 0
    with pytest.raises(InvalidInput):
        notify(visit, by=clerk)  # no agency on the visit and none given


def test_a_visit_is_notified_once(make_dispatch, clerk):
    dispatch = make_dispatch()
    with pytest.raises(Conflict):
        notify(dispatch.visit, "labor", by=clerk)


def test_only_clerks_notify_arrive_cancel_and_transfer(make_dispatch, create_user):
    dispatch = make_dispatch()
    for role in ("supervisor", "facility", "admin", "agency"):
        user = create_user(role=role)
        for move in (
            lambda u: notify(dispatch.visit, "labor", by=u),
            lambda u: arrive(dispatch, by=u),
            lambda u: cancel(dispatch, "x", by=u),
            lambda u: transfer(dispatch, "labor", by=u),
            lambda u: add_note(dispatch.visit, "x", by=u),
        ):
            with pytest.raises(Forbidden):
                move(user)
    assert dispatch.state == DispatchState.NOTIFIED


def test_agency_staff_acknowledge_their_own_agency_only(frozen_clock, make_dispatch, create_user):
    dispatch = make_dispatch(agency="social-welfare")
    other = create_user(role="agency", agency="labor")
    with pytest.raises(NotFound):
        acknowledge(dispatch, "張三", by=other)
    with pytest.raises(Forbidden):
        acknowledge(dispatch, "張三", by=create_user(role="supervisor"))
    own = create_user(role="agency", agency="social-welfare")
    clock.advance(seconds=95)
    acknowledge(dispatch, " 林社工 ", 4, by=own)
    db.session.commit()
    assert dispatch.state == DispatchState.ACKNOWLEDGED
    assert dispatch.acknowledged_at == dispatch.notified_at + timedelta(seconds=95)
    assert (dispatch.acknowledged_by_id, dispatch.responder, dispatch.eta_minutes) == (
        own.id,
        "林社工",
        4,
    )


def test_a_clerk_may_acknowledge_for_the_agency(make_dispatch, clerk):
    dispatch = make_dispatch()
    acknowledge(dispatch, "社會局值班", by=clerk)
    assert dispatch.acknowledged_by_id == clerk.id


@pytest.mark.parametrize(("responder", "eta"), [("", None), ("  ", 3), ("x" * 101, 3), ("x", -1)])
def test_acknowledge_needs_a_responder_and_a_sane_eta(make_dispatch, clerk, responder, eta):
    dispatch = make_dispatch()
    with pytest.raises(InvalidInput):
        acknowledge(dispatch, responder, eta, by=clerk)
    assert dispatch.state == DispatchState.NOTIFIED


def test_illegal_moves_are_conflicts_with_a_clear_message(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    acknowledge(dispatch, "林社工", by=clerk)
    with pytest.raises(Conflict, match="林社工"):
        acknowledge(dispatch, "另一人", by=clerk)
    arrive(dispatch, by=clerk)
    db.session.commit()
    with pytest.raises(Conflict, match="arrived|到場"):
        arrive(dispatch, by=clerk)
    with pytest.raises(Conflict):
        cancel(dispatch, "x", by=clerk)
    with pytest.raises(Conflict):
        transfer(dispatch, "labor", by=clerk)

    cancelled = make_dispatch()
    cancel(cancelled, "民眾離開", by=clerk)
    db.session.commit()
    with pytest.raises(Conflict, match="cancel|取消"):
        acknowledge(cancelled, "林社工", by=clerk)
    db.session.rollback()
    assert db.session.get(Dispatch, cancelled.id).acknowledged_at is None


def test_a_state_change_is_one_update_that_returns_the_row(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    db.session.refresh(dispatch)  # loaded, as a request has it before it moves it
    sent = []

    def listen(_conn, _cursor, statement, *_rest):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        acknowledge(dispatch, "林社工", by=clerk)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    on_dispatch = [s for s in sent if re.search(r"\bdispatch\b", s.split(" WHERE ")[0])]
    assert len(on_dispatch) == 1, on_dispatch  # no second read of the row after the change
    assert on_dispatch[0].startswith("UPDATE dispatch") and "RETURNING" in on_dispatch[0]
    assert dispatch.state == DispatchState.ACKNOWLEDGED.value
    assert dispatch.acknowledged_at == clock.now() and dispatch.responder == "林社工"


def test_a_lost_race_reloads_the_row_as_the_winner_left_it(make_dispatch, clerk):
    dispatch = make_dispatch()
    db.session.refresh(dispatch)
    # Another request arrived first: the row changes behind the loaded object's back.
    table = Dispatch.__table__
    db.session.execute(
        update(table).where(table.c.id == dispatch.id).values(state=DispatchState.ARRIVED.value)
    )
    assert dispatch.state == DispatchState.NOTIFIED.value  # stale in memory
    with pytest.raises(Conflict, match="arrived|到場"):
        acknowledge(dispatch, "林社工", by=clerk)
    assert dispatch.state == DispatchState.ARRIVED.value and dispatch.responder is None


def test_cancel_needs_a_reason(make_dispatch, clerk):
    dispatch = make_dispatch()
    with pytest.raises(InvalidInput):
        cancel(dispatch, "   ", by=clerk)
    assert dispatch.state == DispatchState.NOTIFIED


def test_transfer_to_the_same_agency_is_refused(make_dispatch, clerk):
    dispatch = make_dispatch(agency="labor")
    with pytest.raises(InvalidInput):
        transfer(dispatch, "勞動局", by=clerk)
    with pytest.raises(InvalidInput):
        transfer(dispatch, "nowhere", by=clerk)
    assert dispatch.state == DispatchState.NOTIFIED


def test_transfer_notifies_the_new_agency_and_keeps_the_visit_open(
    frozen_clock, make_dispatch, clerk, create_user
):
    labor_user = create_user(role="agency", agency="labor")
    first = make_dispatch(agency="social-welfare")
    second = transfer(first, "labor", by=clerk)
    db.session.commit()
    assert first.ended_at == clock.now()
    assert first.ended_by_id == clerk.id
    assert second.visit_id == first.visit_id
    assert first.visit.status == VisitStatus.DISPATCHED
    assert first.visit.agency.code == "labor"
    notice = db.session.scalar(
        select(Notification).where(Notification.event_key == f"dispatch:{second.id}:notified")
    )
    assert notice.user_id == labor_user.id
    arrive(second, by=clerk)
    db.session.commit()
    assert first.visit.status == VisitStatus.CLOSED


def test_arrival_and_cancel_close_the_visit(frozen_clock, make_dispatch, clerk):
    arrived = make_dispatch()
    cancelled = make_dispatch()
    clock.advance(seconds=30)
    arrive(arrived, by=clerk)
    cancel(cancelled, "民眾離開", by=clerk)
    db.session.commit()
    assert arrived.arrived_by_id == clerk.id
    assert arrived.ended_at == arrived.arrived_at == clock.now()
    assert arrived.visit.status == VisitStatus.CLOSED
    assert cancelled.visit.status == VisitStatus.CLOSED
    assert cancelled.end_reason == "民眾離開"
    assert cancelled.visit.closed_at == clock.now()


def test_every_move_is_audited(make_dispatch, clerk):
    dispatch = make_dispatch()
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        acknowledge(dispatch, "林社工", by=clerk)
        add_note(dispatch.visit, "民眾在等候區休息", by=clerk, dispatch=dispatch)
        arrive(dispatch, by=clerk)
    db.session.commit()
    assert audit_actions("dispatch", dispatch.id) == [
        "dispatch.acknowledge",
        "dispatch.arrive",
        "dispatch.notify",
    ]
    assert "visit.note" in audit_actions("visit", dispatch.visit_id)
    entry = db.session.scalar(audit.search(action="dispatch.arrive"))
    assert entry.before["state"] == "acknowledged"
    assert entry.after["state"] == "arrived"
    assert entry.actor == clerk.username


def test_notes_keep_time_author_and_text(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    note = add_note(dispatch.visit, "已提供茶水", by=clerk, dispatch=dispatch)
    db.session.commit()
    assert (note.at, note.by_id, note.dispatch_id) == (clock.now(), clerk.id, dispatch.id)
    with pytest.raises(InvalidInput):
        add_note(dispatch.visit, " ", by=clerk)
    assert db.session.scalar(select(func.count(VisitNote.id))) == 1


def test_a_supervisor_corrects_a_time_with_a_reason_and_both_values_are_audited(
    frozen_clock, make_dispatch, clerk, create_user
):
    chief = create_user(role="supervisor")
    dispatch = make_dispatch()
    clock.advance(seconds=660)
    arrive(dispatch, by=clerk)
    db.session.commit()
    assert dispatch.outcome() == "late"
    recorded = dispatch.arrived_at
    corrected = dispatch.notified_at + timedelta(seconds=540)
    with pytest.raises(InvalidInput):
        correct_time(dispatch, "arrived_at", corrected, "  ", by=chief)
    with pytest.raises(Forbidden):
        correct_time(dispatch, "arrived_at", corrected, "補登", by=clerk)
    correct_time(dispatch, "arrived_at", corrected, "櫃台晚按到場，依監視器時間更正", by=chief)
    db.session.commit()
    assert dispatch.arrived_at == dispatch.ended_at == corrected
    assert dispatch.outcome() == "on_time"
    entry = db.session.scalar(audit.search(action="dispatch.correct_time"))
    assert entry.before["arrived_at"] == recorded.isoformat()
    assert entry.after["arrived_at"] == corrected.isoformat()
    assert entry.after["reason"] == "櫃台晚按到場，依監視器時間更正"


def test_correcting_the_notification_moves_the_deadline_by_the_snapshot(
    frozen_clock, make_dispatch, create_user
):
    chief = create_user(role="supervisor")
    dispatch = make_dispatch()
    clock.advance(seconds=120)
    new_start = dispatch.notified_at + timedelta(seconds=60)
    correct_time(dispatch, "notified_at", new_start, "系統時間誤差", by=chief)
    assert dispatch.deadline_at == new_start + timedelta(seconds=600)


@pytest.mark.parametrize(
    ("field", "offset"),
    [
        ("arrived_at", 60),  # nothing recorded yet
        ("notified_at", 3600),  # in the future
        ("acknowledged_at", -60),  # before the notification
        ("bogus", 0),
    ],
)
def test_impossible_corrections_are_refused(
    frozen_clock, make_dispatch, clerk, create_user, field, offset
):
    chief = create_user(role="supervisor")
    dispatch = make_dispatch()
    clock.advance(seconds=120)
    acknowledge(dispatch, "林社工", by=clerk)
    db.session.commit()
    with pytest.raises(InvalidInput):
        correct_time(
            dispatch, field, dispatch.notified_at + timedelta(seconds=offset), "x", by=chief
        )


def test_dispatch_for_hides_other_agencies_and_refuses_other_roles(make_dispatch, create_user):
    dispatch = make_dispatch(agency="social-welfare")
    assert dispatch_for(create_user(role="clerk"), dispatch.id) is dispatch
    assert dispatch_for(create_user(role="supervisor"), dispatch.id) is dispatch
    assert dispatch_for(create_user(role="agency", agency="social-welfare"), dispatch.id)
    with pytest.raises(NotFound):
        dispatch_for(create_user(role="agency", agency="labor"), dispatch.id)
    with pytest.raises(NotFound):
        dispatch_for(create_user(role="clerk"), dispatch.id + 100)
    for role in ("facility", "admin"):
        with pytest.raises(Forbidden):
            dispatch_for(create_user(role=role), dispatch.id)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("王小明", "王○明"),
        ("王明", "王○"),
        ("歐陽小明", "歐○○明"),
        ("明", "○"),
        ("John Smith", "J○○○ ○○○○h"),
        ("", ""),
        (None, ""),
    ],
)
def test_names_are_masked(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("0912345123", "09xx-xxx-123"),
        ("0912-345-123", "09xx-xxx-123"),
        ("02-2720-8889", "02xx-xxx-889"),
        ("+886 912 345 123", "88xxxxxxx123"),
        ("1999", "xxxx"),
        (None, ""),
    ],
)
def test_phones_are_masked(phone, masked):
    assert mask_phone(phone) == masked


def test_the_agency_to_notify_is_chosen_by_the_operation(clerk):
    visit = log_visit(kind="petition", subject="勞資爭議", agency="labor", by=clerk)
    assert agency_to_notify(visit) == agency_by_code("labor")  # the one logged with the visit
    assert agency_to_notify(visit, "衛生局").code == "health"  # as typed: a name...
    assert agency_to_notify(visit, "health").code == "health"  # ...or a code
    assert agency_to_notify(visit, agency_by_code("health")).code == "health"  # or chosen
    bare = log_visit(kind="petition", subject="急難救助", by=clerk)
    for typed in (None, "", "  ", "火星局"):
        with pytest.raises(InvalidInput):
            agency_to_notify(bare, typed)
    update_agency(agency_by_code("labor"), active=False)
    with pytest.raises(InvalidInput):
        agency_to_notify(visit)
    with pytest.raises(InvalidInput):
        notify(visit, by=clerk)


def test_operations_record_the_acting_user_given_as_by(frozen_clock, clerk, create_user):
    # The audit context stays the system's: who did it comes from `by` alone.
    staff = create_user(role="agency", agency="social-welfare")
    other = create_user(role="clerk")
    visit = log_visit(kind="petition", subject="急難救助", by=clerk)
    dispatch = notify(visit, "social-welfare", by=clerk)
    acknowledge(dispatch, "王專員", by=staff)
    note = add_note(visit, "已請民眾稍候", by=other)
    successor = transfer(dispatch, "labor", "屬勞動局業務", by=other)
    cancel(successor, "民眾先行離開", by=clerk)
    assert (visit.created_by_id, dispatch.notified_by_id) == (clerk.id, clerk.id)
    assert note.by_id == other.id
    assert (dispatch.acknowledged_by_id, dispatch.ended_by_id) == (staff.id, other.id)
    assert (successor.notified_by_id, successor.ended_by_id) == (other.id, clerk.id)
    area = Path(__file__).resolve().parents[2] / "models" / "dispatch"
    assert not [p.name for p in area.glob("*.py") if "current_actor" in p.read_text()]


@pytest.mark.parametrize("role", ["admin", "facility"])
def test_roles_without_dispatches_see_none_even_with_an_agency(role):
    """The visibility rule: only clerks, supervisors and agency staff see dispatches; another
    role sees none even when an agency is set on it, and so does nobody signed in."""
    from types import SimpleNamespace

    from sqlalchemy.sql.elements import False_

    from models.dispatch.access import can_see_dispatches, visible_condition

    user = SimpleNamespace(role=role, agency_id=1)
    assert can_see_dispatches(user) is False
    assert isinstance(visible_condition(user), False_)
    assert can_see_dispatches(None) is False
    assert isinstance(visible_condition(None), False_)
    staff_without_agency = SimpleNamespace(role="agency", agency_id=None)
    assert isinstance(visible_condition(staff_without_agency), False_)
