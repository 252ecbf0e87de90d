"""Facility access rules: who works tickets, which states take after photos, and the acting
user every operation is given (`by=`)."""

import pytest

from models import facility as fac
from models.core import db
from models.core.errors import Conflict, Forbidden
from models.facility import PhotoKind, TicketState
from tests.facility.support import as_user, move, new_ticket, upload

pytestmark = pytest.mark.usefixtures("english")


def test_after_photos_are_allowed_only_in_states_assigned_and_in_progress(people):
    assert set(fac.AFTER_PHOTO_STATES) == {TicketState.ASSIGNED, TicketState.IN_PROGRESS}
    defect = new_ticket(people["clerk"])
    seen = {}
    for step, kw in (
        (None, {}),
        ("assign", {"assignee": people["tech"]}),
        ("start", {}),
        ("fix", {"note": "ok", "uploads": [upload()]}),
        ("verify", {}),
    ):
        if step:
            move(defect, people["boss"] if step == "verify" else people["tech"], step, **kw)
        allowed = fac.accepts_after_photos(defect)
        assert fac.can_add_after_photos(people["tech"], defect) is allowed
        assert not fac.can_add_after_photos(people["clerk"], defect)  # managers only
        with as_user(people["tech"]):
            if allowed:
                fac.add_photos(defect, by=people["tech"], kind=PhotoKind.AFTER, uploads=[upload()])
            else:
                with pytest.raises(Conflict, match="being worked on"):
                    fac.add_photos(
                        defect, by=people["tech"], kind=PhotoKind.AFTER, uploads=[upload()]
                    )
        db.session.rollback()
        seen[defect.state] = allowed
    assert seen == {
        "reported": False,
        "assigned": True,
        "in_progress": True,
        "fixed": False,
        "verified": False,
    }


def test_ticket_managers_are_active_facility_staff_and_supervisors(people, create_user):
    from models.users import update_user

    assert set(fac.TICKET_MANAGER_ROLES) == {"facility", "supervisor"}
    update_user(create_user(role="facility", username="tech-gone"), active=False)
    create_user(role="admin", username="admin-a")
    assert [u.username for u in fac.ticket_managers()] == ["tech-a", "tech-b", "boss-a"]
    for role, manager in (("clerk", False), ("agency", False), ("tech", True), ("boss", True)):
        assert fac.can_manage(people[role]) is manager


def test_ticket_manager_check_is_the_operations_own(people):
    """The operations refuse non-managers themselves: pages and API rely on that refusal."""
    defect = new_ticket(people["clerk"])
    for step, kw in (
        ("assign", {"assignee": people["tech"]}),
        ("start", {}),
        ("fix", {"note": "x"}),
    ):
        with pytest.raises(Forbidden, match="Only facility staff and supervisors"):
            getattr(fac, step)(defect, by=people["clerk"], **kw)
    with pytest.raises(Forbidden):
        fac.add_photos(defect, by=people["clerk"], kind=PhotoKind.AFTER, uploads=[upload()])
    with pytest.raises(Forbidden):
        fac.start_round(
            fac.zone_by_code("northeast"), [fac.floor_by_code("1F")], by=people["clerk"]
        )


def test_operations_record_the_user_passed_as_by(people):
    """The timeline and the photos name `by`, not whoever the audit context says is acting."""
    defect = fac.report_defect(  # no audit context here: the system is "acting"
        by=people["clerk"],
        category=fac.category_by_code("facility"),
        zone=fac.zone_by_code("northeast"),
        floor=fac.floor_by_code("3F"),
        location="",
        description="燈管閃爍",
        uploads=[upload()],
    )
    fac.assign(defect, people["tech"], by=people["boss"])
    fac.start(defect, by=people["tech"])
    fac.fix(defect, by=people["tech"], note="換新", uploads=[upload()])
    db.session.commit()
    steps = [(e.action, e.user_id, e.actor) for e in fac.events_of(defect)]
    assert steps == [
        ("reported", people["clerk"].id, "clerk-a"),
        ("assigned", people["boss"].id, "boss-a"),
        ("started", people["tech"].id, "tech-a"),
        ("fixed", people["tech"].id, "tech-a"),
    ]
    uploaders = {(p.kind, p.uploaded_by_id) for p in defect.photos}
    assert uploaders == {("before", people["clerk"].id), ("after", people["tech"].id)}
