"""Repair tickets: every transition, every refused one, due dates, the guard, notices."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from models import facility as fac
from models.core import clock, db
from models.core.audit import AuditEntry
from models.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.core.outbox import Notification
from models.facility import Defect, EventAction, TicketState
from models.users import User
from tests.facility.support import (
    as_user,
    events,
    move,
    new_ticket,
    remind_overdue,
    to_fixed,
    upload,
)
from webapp.facility.labels import age_band

pytestmark = pytest.mark.usefixtures("english")


def test_full_life_of_a_ticket(people, frozen_clock):
    defect = new_ticket(people["clerk"])
    assert defect.state == TicketState.REPORTED
    assert defect.source == "report" and defect.reported_by_id == people["clerk"].id
    assert [p.kind for p in defect.photos] == ["before"]

    move(defect, people["tech"], "assign", assignee=people["tech"])
    assert (defect.state, defect.assignee_id) == (TicketState.ASSIGNED, people["tech"].id)
    move(defect, people["tech"], "start")
    assert defect.state == TicketState.IN_PROGRESS
    move(defect, people["tech"], "fix", note="換新燈管", uploads=[upload("after.jpg")])
    assert defect.state == TicketState.FIXED and defect.is_fixed
    assert defect.fix_note == "換新燈管" and defect.fixed_at == clock.now()
    assert sorted(p.kind for p in defect.photos) == ["after", "before"]  # before photos kept
    move(defect, people["clerk"], "verify")  # the reporter confirms
    assert defect.state == TicketState.VERIFIED and defect.verified_by_id == people["clerk"].id

    assert events(defect) == ["reported", "assigned", "started", "fixed", "verified"]
    timeline = fac.events_of(defect)
    assert [e.user_id for e in timeline] == [
        people["clerk"].id,
        people["tech"].id,
        people["tech"].id,
        people["tech"].id,
        people["clerk"].id,
    ]
    assert [(e.from_state, e.to_state) for e in timeline][1:] == [
        ("reported", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "fixed"),
        ("fixed", "verified"),
    ]
    actions = list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "defect", AuditEntry.object_id == str(defect.id))
            .order_by(AuditEntry.id)
        )
    )
    assert actions == [
        "defect.report",
        "defect.assign",
        "defect.start",
        "defect.fix",
        "defect.verify",
    ]


def test_reopen_from_fixed_and_from_verified(people):
    defect = to_fixed(new_ticket(people["clerk"]), people)
    move(defect, people["clerk"], "reopen", reason="還在閃")
    assert defect.state == TicketState.IN_PROGRESS and not defect.is_fixed
    assert defect.fixed_at is not None  # kept for the timeline
    move(defect, people["tech"], "fix", note="換安定器", uploads=[upload()])
    move(defect, people["boss"], "verify")
    assert defect.state == TicketState.VERIFIED
    move(defect, people["boss"], "reopen", reason="複查仍有問題")
    assert defect.state == TicketState.IN_PROGRESS
    assert defect.verified_at is None and defect.verified_by_id is None
    reopened = [e for e in fac.events_of(defect) if e.action == EventAction.REOPENED]
    assert [e.note for e in reopened] == ["還在閃", "複查仍有問題"]


def test_reassign_keeps_in_progress(people):
    defect = new_ticket(people["clerk"])
    move(defect, people["tech"], "assign", assignee=people["tech"])
    move(defect, people["tech"], "start")
    move(defect, people["boss"], "assign", assignee=people["tech2"])
    assert (defect.state, defect.assignee_id) == (TicketState.IN_PROGRESS, people["tech2"].id)


@pytest.mark.parametrize(
    ("state", "step", "kw"),
    [
        ("reported", "start", {}),
        ("reported", "fix", {"note": "x"}),
        ("reported", "verify", {}),
        ("reported", "reopen", {"reason": "x"}),
        ("assigned", "fix", {"note": "x"}),
        ("assigned", "verify", {}),
        ("assigned", "reopen", {"reason": "x"}),
        ("in_progress", "start", {}),
        ("in_progress", "verify", {}),
        ("in_progress", "reopen", {"reason": "x"}),
        ("fixed", "assign", {}),
        ("fixed", "start", {}),
        ("fixed", "fix", {"note": "x"}),
        ("verified", "assign", {}),
        ("verified", "start", {}),
        ("verified", "fix", {"note": "x"}),
        ("verified", "verify", {}),
    ],
)
def test_refused_transitions(people, state, step, kw):
    defect = new_ticket(people["clerk"])
    path = ["assign", "start", "fix", "verify"]
    steps = {"reported": 0, "assigned": 1, "in_progress": 2, "fixed": 3, "verified": 4}[state]
    for name in path[:steps]:
        if name == "assign":
            move(defect, people["tech"], "assign", assignee=people["tech"])
        elif name == "fix":
            move(defect, people["tech"], "fix", note="ok", uploads=[upload()])
        elif name == "verify":
            move(defect, people["boss"], "verify")
        else:
            move(defect, people["tech"], name)
    assert defect.state == state
    if step == "assign":
        kw = {"assignee": people["tech2"]}
    if step in ("fix",):
        kw["uploads"] = [upload()]
    count = len(fac.events_of(defect))
    actor = people["boss"]  # a supervisor may make every move, so only the state refuses
    with pytest.raises(Conflict), as_user(actor):
        getattr(fac, step)(defect, by=actor, **kw)
    db.session.rollback()
    assert db.session.get(Defect, defect.id).state == state
    assert len(fac.events_of(defect)) == count


def test_fix_needs_a_note_and_an_after_photo(people):
    defect = new_ticket(people["clerk"])
    move(defect, people["tech"], "assign", assignee=people["tech"])
    move(defect, people["tech"], "start")
    with pytest.raises(InvalidInput, match="fix note"), as_user(people["tech"]):
        fac.fix(defect, by=people["tech"], note="  ", uploads=[upload()])
    db.session.rollback()
    with pytest.raises(Conflict, match="after the repair"), as_user(people["tech"]):
        fac.fix(defect, by=people["tech"], note="換了", uploads=[])
    db.session.rollback()
    assert db.session.get(Defect, defect.id).state == TicketState.IN_PROGRESS
    # an after photo uploaded beforehand (as the API does) goes with the fix
    with as_user(people["tech"]):
        fac.add_photos(defect, by=people["tech"], kind=fac.PhotoKind.AFTER, uploads=[upload()])
        fac.fix(defect, by=people["tech"], note="換了")
        db.session.commit()
    fixed = next(e for e in fac.events_of(defect) if e.action == "fixed")
    assert [p.kind for p in fixed.photos] == ["after"]


def test_reopen_needs_a_reason(people):
    defect = to_fixed(new_ticket(people["clerk"]), people)
    with pytest.raises(InvalidInput, match="reason"), as_user(people["boss"]):
        fac.reopen(defect, by=people["boss"], reason=" ")
    db.session.rollback()
    assert db.session.get(Defect, defect.id).state == TicketState.FIXED


def test_only_managers_work_tickets(people):
    defect = new_ticket(people["clerk"])
    for who in ("clerk", "agency"):
        with pytest.raises(Forbidden), as_user(people[who]):
            fac.assign(defect, people["tech"], by=people[who])
    with pytest.raises(InvalidInput, match="facility staff or supervisors"):
        fac.assign(defect, people["clerk"], by=people["tech"])
    move(defect, people["tech"], "assign", assignee=people["tech"])
    with pytest.raises(Forbidden):
        fac.start(defect, by=people["clerk"])
    move(defect, people["tech"], "start")
    with pytest.raises(Forbidden):
        fac.fix(defect, by=people["agency"], note="x", uploads=[upload()])


def test_only_the_reporter_or_a_supervisor_verifies(people):
    defect = to_fixed(new_ticket(people["clerk"]), people)
    for who in ("tech2", "agency"):
        with pytest.raises(Forbidden, match="supervisor or the person who reported"):
            fac.verify(defect, by=people[who])
    with pytest.raises(Forbidden, match="other than the person who fixed"):
        fac.verify(defect, by=people["tech"])
    assert fac.can_verify(people["boss"], defect) and fac.can_verify(people["clerk"], defect)
    move(defect, people["boss"], "verify")
    assert defect.state == TicketState.VERIFIED


def test_reporter_who_fixed_it_cannot_verify_it_himself(people):
    defect = new_ticket(people["tech"])
    to_fixed(defect, people)
    with pytest.raises(Forbidden):
        fac.verify(defect, by=people["tech"])
    move(defect, people["boss"], "verify")


def test_only_managers_or_the_reporter_reopen(people):
    defect = to_fixed(new_ticket(people["clerk"]), people)
    with pytest.raises(Forbidden):
        fac.reopen(defect, by=people["agency"], reason="x")
    move(defect, people["tech2"], "reopen", reason="再檢查")
    assert defect.state == TicketState.IN_PROGRESS


def test_two_people_cannot_close_or_reopen_twice(people):
    """The in-memory object says `fixed`; the database already says `verified`."""
    defect = to_fixed(new_ticket(people["clerk"]), people)
    stale = db.session.get(Defect, defect.id)
    db.session.execute(
        update(Defect)
        .where(Defect.id == defect.id)
        .values(state="verified")
        .execution_options(synchronize_session=False)
    )
    assert stale.state == "fixed"  # still the stale copy
    with pytest.raises(Conflict, match="changed by someone else"), as_user(people["boss"]):
        fac.verify(stale, by=people["boss"])
    db.session.rollback()
    assert sum(e.action == "verified" for e in fac.events_of(defect)) == 0

    # a reopen racing a reopen: the second one finds the ticket in progress already
    db.session.expire_all()
    stale = db.session.get(Defect, defect.id)
    assert stale.state == "fixed"
    db.session.execute(
        update(Defect)
        .where(Defect.id == defect.id)
        .values(state="in_progress")
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(Conflict, match="changed by someone else"), as_user(people["tech"]):
        fac.reopen(stale, by=people["tech"], reason="two")
    db.session.rollback()
    assert [e.action for e in fac.events_of(defect)].count("reopened") == 0


def test_duplicate_hint_and_adding_a_report(people, create_user):
    first = new_ticket(people["clerk"], category="corridor", floor="1F")
    new_ticket(people["clerk"], category="facility", floor="1F")  # another category
    place = (fac.zone_by_code("northeast"), fac.floor_by_code("1F"))
    corridor = fac.category_by_code("corridor")
    assert [d.id for d in fac.similar_open(*place, corridor)] == [first.id]

    other = create_user(role="agency", username="agency-b")
    at = {"zone": place[0], "floor": place[1], "category": corridor}
    with as_user(other):
        fac.add_report(first, by=other, **at, description="紙箱擋住逃生門", uploads=[upload()])
        db.session.commit()
    assert fac.can_see(other, first) and not fac.can_verify(other, first)
    assert events(first) == ["reported", "report_added"]
    assert len(first.photos) == 2

    to_fixed(first, people)
    assert fac.similar_open(*place, corridor) == []
    with pytest.raises(Conflict, match="no longer open"), as_user(other):
        fac.add_report(first, by=other, **at, description="again")


def test_round_finding_fixed_on_the_spot(people, frozen_clock):
    tech = people["tech"]
    with as_user(tech):
        inspection = fac.start_round(
            fac.zone_by_code("southwest"), [fac.floor_by_code("2F")], by=tech
        )
        defect = fac.record_finding(
            inspection,
            fac.floor_by_code("2F"),
            fac.category_by_code("corridor"),
            by=tech,
            location="樓梯口",
            description="推車擋住走道",
            uploads=[upload()],
            fixed_on_spot=True,
            fix_note="已移開推車",
            after_uploads=[upload("after.png")],
        )
        db.session.commit()
    assert defect.state == TicketState.FIXED and defect.source == "inspection"
    assert defect.round_id == inspection.id and defect.assignee_id == tech.id
    assert defect.found_at == defect.fixed_at == clock.now()
    assert events(defect) == ["found", "fixed"]
    assert sorted(p.kind for p in defect.photos) == ["after", "before"]
    move(defect, people["boss"], "verify")


def test_due_dates_by_category_in_working_days(people, frozen_clock):
    # Friday 2024-02-16 10:00 Taipei: Saturday 02-17 is a make-up working day (補班).
    clock.freeze(datetime(2024, 2, 16, 10, 0, tzinfo=clock.TAIPEI))
    corridor = new_ticket(people["clerk"], category="corridor")
    ceiling = new_ticket(people["clerk"], category="ceiling_floor")
    facility = new_ticket(people["clerk"], category="facility")
    assert corridor.due_on == date(2024, 2, 17)  # the make-up Saturday counts
    assert ceiling.due_on == date(2024, 2, 20)  # Sat 17, Mon 19, Tue 20
    assert facility.due_on == date(2024, 2, 26)  # 17,19,20,21,22,23,26
    # Tuesday 2024-02-27 evening in Taipei (still the 27th) — 2/28 is a national holiday
    clock.freeze(datetime(2024, 2, 27, 23, 30, tzinfo=clock.TAIPEI))
    assert new_ticket(people["clerk"], category="cleanliness").due_on == date(2024, 2, 29)
    # a setting change applies to new tickets only
    with as_user(people["boss"]):
        fac.set_due_days(fac.category_by_code("cleanliness"), 3)
        db.session.commit()
    assert new_ticket(people["clerk"], category="cleanliness").due_on == date(2024, 3, 4)
    # the Taipei date counts: Friday 07:00 in Taipei is still Thursday in UTC
    clock.freeze(datetime(2024, 3, 1, 7, 0, tzinfo=clock.TAIPEI))
    assert new_ticket(people["clerk"], category="corridor").due_on == date(2024, 3, 4)


def test_overdue_notices_once_to_assignee_and_supervisors(people, frozen_clock, create_user):
    from models.users import update_user

    update_user(create_user(role="supervisor", username="boss-off"), active=False)
    db.session.commit()
    clock.freeze(datetime(2024, 3, 4, 9, 0, tzinfo=clock.TAIPEI))  # Monday
    late = new_ticket(people["clerk"], category="corridor")  # due Tue 03-05
    move(late, people["tech"], "assign", assignee=people["tech"])
    on_time = new_ticket(people["clerk"], category="facility")  # due 03-13
    assert remind_overdue() == 0
    clock.freeze(datetime(2024, 3, 6, 9, 0, tzinfo=clock.TAIPEI))
    assert late.is_overdue() and not on_time.is_overdue()
    assert remind_overdue() == 2
    db.session.commit()
    assert remind_overdue() == 0  # run twice: nothing sent twice
    notices = db.session.scalars(
        select(Notification).where(Notification.kind == "defect.overdue")
    ).all()
    assert sorted(n.user_id for n in notices) == sorted([people["tech"].id, people["boss"].id])
    assert {n.defect_id for n in notices} == {late.id}
    assert f"#{late.id}" in notices[0].payload["title"]
    assert "overdue" in notices[0].payload["title_en"]
    assert events(late).count("overdue") == 1
    # fixed, reopened while still late: a new overdue spell, a new notice
    move(late, people["tech"], "start")
    move(late, people["tech"], "fix", note="ok", uploads=[upload()])
    assert remind_overdue() == 0
    move(late, people["clerk"], "reopen", reason="not fixed")
    assert remind_overdue() == 2
    assert events(late).count("overdue") == 2


def test_notices_on_report_assign_and_fix(people):
    defect = new_ticket(people["clerk"])
    kinds = lambda: sorted(  # noqa: E731
        (n.kind, n.user_id) for n in db.session.scalars(select(Notification))
    )
    assert kinds() == [
        ("defect.reported", people["tech"].id),
        ("defect.reported", people["tech2"].id),
    ]
    move(defect, people["boss"], "assign", assignee=people["tech"])
    move(defect, people["tech"], "start")
    move(defect, people["tech"], "fix", note="ok", uploads=[upload()])
    assert ("defect.assigned", people["tech"].id) in kinds()
    assert ("defect.fixed", people["clerk"].id) in kinds()


def test_bad_input_changes_nothing(people):
    with pytest.raises(InvalidInput, match="Describe"), as_user(people["clerk"]):
        fac.report_defect(
            by=people["clerk"],
            category=fac.category_by_code("corridor"),
            zone=fac.zone_by_code("northeast"),
            floor=fac.floor_by_code("1F"),
            location="",
            description="   ",
        )
    db.session.rollback()
    with pytest.raises(InvalidInput, match="not a photo"), as_user(people["clerk"]):
        fac.report_defect(
            by=people["clerk"],
            category=fac.category_by_code("corridor"),
            zone=fac.zone_by_code("northeast"),
            floor=fac.floor_by_code("1F"),
            location="",
            description="ok",
            uploads=[upload("fake.jpg", b"hello, I am text")],
        )
    db.session.rollback()
    assert db.session.scalar(select(Defect.id)) is None
    with pytest.raises(NotFound, match="Unknown zone"):
        fac.zone_by_code("atlantis")
    with pytest.raises(NotFound):
        fac.zone_by_code("north\x00east")


def test_ticket_filters(people, frozen_clock):
    a = new_ticket(people["clerk"], category="corridor", zone="northeast", floor="1F")
    clock.advance(days=3)
    b = new_ticket(people["agency"], category="facility", zone="southwest", floor="2F")
    move(b, people["tech"], "assign", assignee=people["tech"])

    def ids(user=people["boss"], **kw):
        stmt = fac.ticket_query(user, fac.TicketFilter(**kw))
        return [d.id for d in db.session.scalars(stmt)]

    assert ids() == [a.id, b.id]
    assert ids(state="assigned") == [b.id]
    assert ids(state="open") == [a.id, b.id]
    assert ids(category="corridor") == [a.id]
    assert ids(zone="southwest") == [b.id]
    assert ids(floor="1F") == [a.id]
    assert ids(assignee="tech-a") == [b.id]
    assert ids(assignee="none") == [a.id]
    assert ids(user=people["tech"], assignee="me") == [b.id]
    assert ids(overdue=True) == [a.id]  # corridor: due the next working day
    assert ids(source="inspection") == []
    assert ids(found_from=date(2024, 3, 5)) == [b.id]
    assert ids(found_to=date(2024, 3, 4)) == [a.id]
    # non-managers see only their own reports
    assert ids(user=people["clerk"]) == [a.id]
    assert ids(user=people["agency"]) == [b.id]
    with pytest.raises(InvalidInput):
        ids(state="lost")
    # filters that name nothing match nothing; so does a range that ends before it starts
    assert ids(zone="atlantis") == [] and ids(assignee="nobody") == []
    assert ids(found_from=date(2024, 3, 9), found_to=date(2024, 3, 1)) == []
    assert ids(found_from=date(1, 1, 1), found_to=date(9999, 12, 31)) == [a.id, b.id]


def test_building_grid_counts_open_tickets_and_ages(people, frozen_clock):
    old = new_ticket(people["clerk"], category="corridor", zone="northeast", floor="1F")
    clock.advance(days=9)
    new_ticket(people["clerk"], category="corridor", zone="northeast", floor="1F")
    fresh = new_ticket(people["clerk"], zone="southwest", floor="5F")
    to_fixed(new_ticket(people["clerk"], zone="southwest", floor="5F"), people)
    grid = fac.building_grid()
    ne, sw = fac.zone_by_code("northeast"), fac.zone_by_code("southwest")
    cell = grid[(ne.id, fac.floor_by_code("1F").id)]
    assert (cell.count, cell.oldest, age_band(cell.oldest)) == (2, old.found_at, "age-3")
    assert cell.overdue == 1  # the old one was due the next working day; the new one is not late
    other = grid[(sw.id, fac.floor_by_code("5F").id)]
    assert (other.count, other.oldest, age_band(other.oldest)) == (1, fresh.found_at, "age-0")
    assert age_band(fresh.found_at, fresh.found_at + timedelta(days=2)) == "age-1"


@pytest.mark.postgres_only(reason="needs PostgreSQL row locks")
def test_two_verifications_at_once_on_postgres(app, people):
    """Two real transactions: the second waits on the row lock, then finds it verified."""
    import threading
    import time

    from sqlalchemy import text

    defect = to_fixed(new_ticket(people["clerk"]), people)
    clerk_id, defect_id = people["clerk"].id, defect.id
    outcome = []

    def second():
        with app.app_context():
            clerk = db.session.get(User, clerk_id)
            mine = db.session.get(Defect, defect_id)
            assert mine.state == "fixed"  # the first verification is not committed yet
            try:
                with as_user(clerk):
                    fac.verify(mine, by=clerk)
                    db.session.commit()
                outcome.append("verified")
            except Conflict:
                db.session.rollback()
                outcome.append("conflict")
            finally:
                db.session.remove()

    with as_user(people["boss"]):
        fac.verify(defect, by=people["boss"])  # flushed: holds the row, not committed
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db.session.execute(text("select pg_stat_clear_snapshot()"))  # fresh statistics
            waiting = db.session.execute(
                text(
                    "select count(*) from pg_stat_activity "
                    "where wait_event_type = 'Lock' and datname = current_database()"
                )
            ).scalar()
            if waiting:
                break
            time.sleep(0.02)
        assert waiting, "the second verification should wait on the row lock"
        db.session.commit()
    thread.join(timeout=10)
    assert outcome == ["conflict"]
    db.session.expire_all()
    assert [e.action for e in fac.events_of(defect)].count("verified") == 1
