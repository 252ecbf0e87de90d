"""The facility demo data: made only through the operations and the clock."""

from collections import Counter

from sqlalchemy import select

from demo import load_demo
from models import facility as fac
from models.core import clock, db


def test_facility_demo_reaches_every_state_through_the_operations(frozen_clock):
    before = clock.now()
    load_demo()
    db.session.commit()
    assert clock.now() == before  # the demo moved the clock back and put it where it was
    # This year's tickets and rounds (the published year 2023 is checked in tests/reports).
    recent = fac.Defect.found_at >= clock.year_bounds(2024)[0]
    defects = list(db.session.scalars(select(fac.Defect).where(recent).order_by(fac.Defect.id)))
    assert Counter(d.state for d in defects) == {
        "reported": 3,  # two reports and one round finding
        "assigned": 1,
        "in_progress": 1,
        "fixed": 2,  # one repair, one finding fixed on the spot
        "verified": 2,
    }
    for defect in defects:
        timeline = fac.events_of(defect)
        assert timeline[0].action in ("reported", "found")
        assert timeline[-1].to_state == defect.state  # every state reached by a move
        assert all(e.user_id is not None for e in timeline)
        assert defect.found_at < before
        assert defect.due_on == fac.due_date(defect.found_at, defect.category)
    this_year = fac.InspectionRound.started_at >= clock.year_bounds(2024)[0]
    rounds = list(db.session.scalars(select(fac.InspectionRound).where(this_year)))
    assert len(rounds) == 5 and all(r.is_finished for r in rounds)
    assert not fac.missing_checks(rounds[0])


def test_demo_leaves_a_running_clock_running():
    load_demo()
    db.session.commit()
    assert clock.frozen_at() is None
