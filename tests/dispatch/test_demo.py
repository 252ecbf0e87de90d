"""The demo data: realistic visits and dispatches, consistent with the rules."""

from datetime import timedelta

from sqlalchemy import func, select

from demo import load_demo
from models.core import db
from models.core.outbox import Notification
from models.dispatch import OPEN_STATES, Dispatch, Visit, outcome_counts


def test_demo_loads_history_today_and_open_dispatches(frozen_clock):
    created = load_demo()
    db.session.commit()
    assert "clerk" in created
    states = dict(
        db.session.execute(select(Dispatch.state, func.count()).group_by(Dispatch.state)).all()
    )
    assert states["notified"] + states["acknowledged"] == 4
    assert states["arrived"] > 40 and states["transferred"] == 1
    counts = outcome_counts()
    assert counts.on_time > counts.late > 0
    assert counts.pending == 3  # the fourth open one is overdue: late
    for dispatch in db.session.scalars(select(Dispatch)):
        assert dispatch.deadline_at == dispatch.notified_at + timedelta(
            seconds=dispatch.sla_seconds
        )
        assert dispatch.notified_at >= dispatch.visit.created_at
        if not dispatch.is_open:
            assert dispatch.ended_at >= dispatch.notified_at
    assert db.session.scalar(select(func.count(Visit.id))) > states["arrived"]
    # Only open dispatches have notices: nothing old is sent when the outbox relay starts.
    noticed = set(
        db.session.scalars(
            select(Notification.dispatch_id).where(Notification.dispatch_id.is_not(None))
        )
    )
    open_ids = set(
        db.session.scalars(
            select(Dispatch.id).where(Dispatch.state.in_([s.value for s in OPEN_STATES]))
        )
    )
    assert noticed and noticed <= open_ids
    assert load_demo() == {}  # a second run adds nothing


def test_demo_visitors_have_care_notes_and_answers_and_no_old_notice(frozen_clock):
    """Issue 13 in the demo: care notes while waiting, the visitors' verdicts, and none of the
    demo's 不滿意 answers waits in the outbox for the chief."""
    from models.dispatch import VisitNote, VisitRating

    load_demo()
    db.session.commit()
    care = db.session.scalar(select(func.count()).where(VisitNote.kind.is_not(None)))
    answers = dict(
        db.session.execute(
            select(VisitRating.score, func.count()).group_by(VisitRating.score)
        ).all()
    )
    assert care > 10
    assert answers["satisfied"] > answers.get("dissatisfied", 0) > 0
    waiting = select(func.count()).where(Notification.kind == "visit.dissatisfied")
    assert db.session.scalar(waiting) == 0
