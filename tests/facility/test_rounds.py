"""Inspection plans, rounds with per-floor per-category checks, schedule and reminders."""

import re
from datetime import date, datetime

import pytest
from sqlalchemy import select

from models import facility as fac
from models.core import clock, db
from models.core.errors import Conflict, Forbidden, InvalidInput
from models.core.outbox import Notification
from models.facility import CheckResult, RoundStatus
from tests.facility.support import (
    as_user,
    remind_rounds,
    upload,
)

pytestmark = pytest.mark.usefixtures("english")


def floor(code):
    return fac.floor_by_code(code)


def cat(code):
    return fac.category_by_code(code)


def walk(tech, zone="northeast", floors=("1F",), finding=True):
    """Start a round and record every check; one finding on the first floor's facility."""
    with as_user(tech):
        inspection = fac.start_round(fac.zone_by_code(zone), [floor(f) for f in floors], by=tech)
        for code in floors:
            for category in fac.categories():
                if finding and code == floors[0] and category.code == "facility":
                    fac.record_finding(
                        inspection,
                        floor(code),
                        category,
                        by=tech,
                        location="電梯廳",
                        description="緊急照明故障",
                        uploads=[upload()],
                    )
                else:
                    fac.mark_no_defect(inspection, floor(code), category, by=tech)
        fac.finish_round(inspection, by=tech)
        db.session.commit()
    return inspection


def test_a_round_with_one_finding_and_three_no_defect(tech, frozen_clock):
    inspection = walk(tech)
    assert inspection.is_finished and inspection.finished_at == clock.now()
    results = {c.category.code: c.result for c in inspection.checks}
    assert results == {
        "corridor": "ok",
        "facility": "defects",
        "cleanliness": "ok",
        "ceiling_floor": "ok",
    }
    [finding] = fac.round_findings(inspection)
    assert finding.source == "inspection" and finding.state == "reported"
    assert (finding.zone.code, finding.floor.code, finding.category.code) == (
        "northeast",
        "1F",
        "facility",
    )


def test_a_round_with_no_finding_is_the_proof_the_zone_was_walked(tech):
    inspection = walk(tech, floors=("1F", "2F"), finding=False)
    assert len(inspection.checks) == 8
    assert fac.round_findings(inspection) == []


def test_finish_refuses_open_checks_and_a_second_finish(tech):
    with as_user(tech):
        inspection = fac.start_round(fac.zone_by_code("northeast"), [floor("1F")], by=tech)
        fac.mark_no_defect(inspection, floor("1F"), cat("corridor"), by=tech)
        with pytest.raises(InvalidInput, match="3 checks are still open"):
            fac.finish_round(inspection, by=tech)
        for code in ("facility", "cleanliness", "ceiling_floor"):
            fac.mark_no_defect(inspection, floor("1F"), cat(code), by=tech)
        fac.finish_round(inspection, by=tech)
        db.session.commit()
        with pytest.raises(Conflict, match="finished already"):
            fac.finish_round(inspection, by=tech)
        with pytest.raises(Conflict, match="finished already"):
            fac.mark_no_defect(inspection, floor("1F"), cat("corridor"), by=tech)


def test_round_checks_refuse_wrong_floor_and_contradictions(tech, create_user):
    with as_user(tech):
        inspection = fac.start_round(fac.zone_by_code("northeast"), [floor("1F")], by=tech)
        with pytest.raises(InvalidInput, match="not part of this round"):
            fac.mark_no_defect(inspection, floor("2F"), cat("corridor"), by=tech)
        fac.record_finding(
            inspection,
            floor("1F"),
            cat("corridor"),
            by=tech,
            location="A",
            description="紙箱",
        )
        with pytest.raises(Conflict, match="Findings were recorded"):
            fac.mark_no_defect(inspection, floor("1F"), cat("corridor"), by=tech)
        # marking "no defect" then finding something turns the check into findings
        fac.mark_no_defect(inspection, floor("1F"), cat("cleanliness"), by=tech)
        fac.record_finding(
            inspection, floor("1F"), cat("cleanliness"), by=tech, location="", description="垃圾"
        )
        db.session.commit()
    checks = fac.checks_by_place(inspection)
    assert checks[(floor("1F").id, cat("cleanliness").id)].result == CheckResult.DEFECTS
    other = create_user(role="facility", username="tech-other")
    with pytest.raises(Forbidden, match="inspector who started"):
        fac.mark_no_defect(inspection, floor("1F"), cat("facility"), by=other)
    clerk = create_user(role="clerk", username="clerk-r")
    with pytest.raises(Forbidden):
        fac.start_round(fac.zone_by_code("northeast"), [floor("1F")], by=clerk)
    with pytest.raises(InvalidInput, match="at least one floor"):
        fac.start_round(fac.zone_by_code("northeast"), [], by=tech)


def test_starting_again_resumes_the_unfinished_round(tech):
    with as_user(tech):
        first = fac.start_round(fac.zone_by_code("northeast"), [floor("1F")], by=tech)
        again = fac.start_round(fac.zone_by_code("northeast"), [floor("2F")], by=tech)
    assert again.id == first.id


def test_finding_fixed_on_the_spot_needs_note_and_after_photo(tech):
    with as_user(tech):
        inspection = fac.start_round(fac.zone_by_code("northeast"), [floor("1F")], by=tech)
        with pytest.raises(Conflict, match="after the repair"):
            fac.record_finding(
                inspection,
                floor("1F"),
                cat("corridor"),
                by=tech,
                location="",
                description="x",
                fixed_on_spot=True,
                fix_note="moved",
            )
    db.session.rollback()
    assert fac.round_findings(inspection) == []


def test_plan_schedule_and_statuses(tech, create_user):
    boss = create_user(role="supervisor", username="boss-r")
    with as_user(boss):
        fac.set_plan(fac.zone_by_code("northeast"), 7)
        fac.set_plan(fac.zone_by_code("southeast"), 30)
        fac.set_plan(fac.zone_by_code("northwest"), 7, active=False)
        db.session.commit()
        with pytest.raises(InvalidInput):
            fac.set_plan(fac.zone_by_code("southeast"), 0)
    # walked on Thursday 2024-03-28: +7 days is Thursday 04-04, a holiday, so due Monday 04-08
    clock.freeze(datetime(2024, 3, 28, 15, 0, tzinfo=clock.TAIPEI))
    walk(tech, "northeast", finding=False)
    clock.freeze(datetime(2024, 3, 29, 15, 0, tzinfo=clock.TAIPEI))
    walk(tech, "southeast", finding=False)

    def status(today):
        return {s.zone.code: (s.status, s.due_on) for s in fac.round_schedule(today)}

    on = status(date(2024, 4, 1))
    assert on["northeast"] == (RoundStatus.OK, date(2024, 4, 8))
    assert on["southeast"] == (RoundStatus.OK, date(2024, 4, 29))  # 04-28 is a Sunday
    assert on["northwest"] == (RoundStatus.NO_PLAN, None)
    assert on["southwest"] == (RoundStatus.NO_PLAN, None)
    assert status(date(2024, 4, 3))["northeast"][0] == RoundStatus.DUE_NEXT  # 04-04/05 off
    assert status(date(2024, 4, 8))["northeast"][0] == RoundStatus.DUE_TODAY
    assert status(date(2024, 4, 9))["northeast"][0] == RoundStatus.OVERDUE
    with as_user(boss):
        fac.set_plan(fac.zone_by_code("southwest"), 14)
    assert status(date(2024, 4, 9))["southwest"] == (RoundStatus.NEVER, None)


def test_round_reminders_to_facility_staff_once(tech, create_user):
    other = create_user(role="facility", username="tech-r2")
    create_user(role="supervisor", username="boss-r2")
    with as_user(tech):
        fac.set_plan(fac.zone_by_code("northeast"), 7)
        fac.set_plan(fac.zone_by_code("southeast"), 7)
    clock.freeze(datetime(2024, 3, 1, 10, 0, tzinfo=clock.TAIPEI))  # Friday
    walk(tech, "northeast", finding=False)  # due Friday 03-08
    # Thursday 03-07: northeast is due on the next working day; southeast was never walked
    assert remind_rounds(date(2024, 3, 7)) == 4
    db.session.commit()
    assert remind_rounds(date(2024, 3, 7)) == 0  # run twice: nothing sent twice
    notices = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert {(n.kind, n.payload["zone"]) for n in notices} == {
        ("round.due", "northeast"),
        ("round.overdue", "southeast"),
    }
    assert {n.user_id for n in notices} == {tech.id, other.id}  # facility staff only
    # Monday 03-11: northeast is now overdue: one more notice each
    assert remind_rounds(date(2024, 3, 11)) == 2


def test_rounds_with_findings_come_from_one_query(tech, api, login_as):
    """findings_by_round is what the rounds page counts and the API lists."""
    with_finding = walk(tech, "northeast")
    without = walk(tech, "southeast", finding=False)
    found = fac.findings_by_round([with_finding.id, without.id])
    [defect] = found[with_finding.id]
    assert found[without.id] == [] and defect.round_id == with_finding.id
    assert fac.round_findings(with_finding) == [defect]
    assert fac.findings_by_round([]) == {}
    staff = api("facility")
    listed = {r["id"]: r["findings"] for r in staff.get("/rounds").get_json()["items"]}
    assert listed == {with_finding.id: [defect.id], without.id: []}
    client, _ = login_as("facility")
    page = client.get("/facility/rounds").get_data(as_text=True)
    assert sorted(re.findall(r'<td class="num"[^>]*>(\d+)</td>', page)) == ["0", "1"]


@pytest.mark.parametrize("field", ["location", "description", "fix_note"])
def test_round_findings_refuse_nul_characters(tech, field):
    """Round findings go through the same text rule as every facility text."""
    with as_user(tech):
        inspection = fac.start_round(fac.zone_by_code("northeast"), [floor("1F")], by=tech)
        db.session.commit()
        values = {"location": "電梯廳", "description": "緊急照明故障", "fix_note": "換新"}
        values[field] = "緊急\x00照明"
        with pytest.raises(InvalidInput):
            fac.record_finding(
                inspection,
                floor("1F"),
                cat("facility"),
                by=tech,
                uploads=[upload()],
                fixed_on_spot=True,
                after_uploads=[upload("after.jpg")],
                **values,
            )
    db.session.rollback()
    assert fac.round_findings(inspection) == []
