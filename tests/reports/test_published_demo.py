"""The demo includes the published year: `load_demo` (what `citydesk serve --demo` runs) records
2023 through the operations so that its report says what the Secretariat published, beside the
current year's activity, and sends nothing old when the outbox relay starts."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from demo import load_demo
from demo.published import load_published_year
from models.core import audit, clock, db
from models.core.audit import AuditEntry
from models.core.outbox import Notification
from models.dispatch import Dispatch
from models.facility import Defect
from models.reports import yearly_report

PUBLISHED = [
    "112年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計59件。"
    "其中計有8件超過10分鐘到場，年度達成率為86.44%，已達112年度訂定之85%目標值。",
    "112年度缺失案件並完成改善總計198件(淨空走道95件、設施正常48件、環境整潔38件、天地無虞17件)。",
]


@pytest.fixture
def in_late_2026(frozen_clock):
    """Now is 2026-11-26 10:00 in Taipei (the demo's "today")."""
    clock.freeze(datetime(2026, 11, 26, 10, 0, tzinfo=clock.TAIPEI))
    return frozen_clock


def _load():
    with audit.acting_as(audit.Actor(None, "test")):
        created = load_demo()
        db.session.commit()
    return created


def test_the_demo_reproduces_the_published_2023_report(in_late_2026):
    _load()
    report = yearly_report(2023)
    d, f = report["dispatch"], report["defects"]
    assert (d["counted"], d["on_time"], d["late"], d["pending"]) == (59, 51, 8, 0)
    assert (d["rate"], d["target"], d["target_carried"], d["target_met"]) == (
        86.44,
        85,
        False,
        True,
    )
    assert d["sla_minutes"] == 10
    fixed = {c["category"]: c["fixed"] for c in f["by_category"]}
    assert fixed == {"corridor": 95, "facility": 48, "cleanliness": 38, "ceiling_floor": 17}
    assert (f["found"], f["fixed"], f["open"]) == (198, 198, 0)
    assert report["narrative"] == PUBLISHED  # word for word, and nothing more
    # The records were made by the operations: visits, acknowledgements, rounds, tickets.
    in_2023 = clock.in_year(Dispatch.notified_at, 2023)
    acknowledged = select(func.count()).where(in_2023, Dispatch.acknowledged_at.is_not(None))
    assert db.session.scalar(acknowledged) == 61  # 59 counted and 2 cancelled in time
    assert sum(r["done"] for r in f["inspection_rounds"]) == 24  # walked twice a month
    # And the current year goes on as today: open dispatches on the board.
    now = yearly_report(2026)["dispatch"]
    assert now["counted"] > 20 and now["pending"] == 3


def test_the_published_year_sends_nothing_old_and_keeps_a_verification_in_the_trail(
    in_late_2026,
):
    _load()
    old_defects = select(Defect.id).where(clock.in_year(Defect.found_at, 2023))
    old_dispatches = select(Dispatch.id).where(clock.in_year(Dispatch.notified_at, 2023))
    waiting = select(func.count()).where(
        Notification.defect_id.in_(old_defects) | Notification.dispatch_id.in_(old_dispatches)
    )
    assert db.session.scalar(waiting) == 0
    verified = select(func.count()).where(
        AuditEntry.action == "defect.verify", AuditEntry.at < clock.year_bounds(2023)[1]
    )
    assert db.session.scalar(verified) > 5
    assert load_published_year() == {}  # a second run adds nothing
