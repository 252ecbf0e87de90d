"""Inspection rounds (走動式巡檢): the schedule against each zone's plan, and walking a round.

A round covers some floors of one zone; each category on each floor is recorded as "no
defect" or gets findings (defect tickets, optionally fixed on the spot) before it can finish.

A check or finding may carry the id the inspector's phone made for it (`client_id`, a UUID):
the offline queue sends it again until it hears back, and a repeated id is answered with the
earlier record, recorded once (a unique constraint settles two syncs racing).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from models import photos, workdays
from models.core import audit, clock, db
from models.core.errors import Conflict, Forbidden, InvalidInput
from models.core.sql import guarded_update
from models.facility.access import require_manager
from models.facility.errors import FieldError, MissingAfterPhoto
from models.facility.lookups import floors, zones
from models.facility.tables import (
    CheckResult,
    Defect,
    InspectionPlan,
    InspectionRound,
    RoundCheck,
    RoundStatus,
    TicketState,
)
from models.facility.tickets import (
    checked_description,
    checked_fix_note,
    close_as_fixed,
    new_defect,
)
from models.reference import DefectCategory, Floor, Zone, categories
from models.users import Role, User


@dataclass
class ZoneSchedule:
    """A zone's plan, its last finished round and when the next one is due."""

    zone: Zone
    plan: InspectionPlan | None
    last_round: InspectionRound | None
    open_rounds: list[InspectionRound]
    due_on: date | None
    status: RoundStatus

    @property
    def needs_walking(self) -> bool:
        """Overdue, never walked, or due today."""
        return self.status in (RoundStatus.NEVER, RoundStatus.OVERDUE, RoundStatus.DUE_TODAY)


def round_schedule(today: date | None = None) -> list[ZoneSchedule]:
    """Every active zone: its plan, last finished round, due date and status.

    The next round is due `frequency_days` calendar days after the last finished one, moved
    to the next working day when that is a weekend or holiday.
    """
    today = today or clock.today()
    plans = {p.zone_id: p for p in db.session.scalars(select(InspectionPlan))}
    last_finished = (
        select(InspectionRound.zone_id, func.max(InspectionRound.finished_at).label("at"))
        .where(InspectionRound.finished_at.is_not(None))
        .group_by(InspectionRound.zone_id)
        .subquery()
    )
    last = {
        r.zone_id: r
        for r in db.session.scalars(
            select(InspectionRound).join(
                last_finished,
                and_(
                    InspectionRound.zone_id == last_finished.c.zone_id,
                    InspectionRound.finished_at == last_finished.c.at,
                ),
            )
        )
    }
    open_rounds = defaultdict(list)
    for r in db.session.scalars(
        select(InspectionRound)
        .where(InspectionRound.finished_at.is_(None))
        .order_by(InspectionRound.started_at)
    ):
        open_rounds[r.zone_id].append(r)
    calendar = workdays.current()
    next_day = calendar.add_working_days(today, 1)
    result = []
    for zone in zones():
        plan, last_round = plans.get(zone.id), last.get(zone.id)
        due_on = None
        if plan is None or not plan.active:
            status = RoundStatus.NO_PLAN
        elif last_round is None:
            status = RoundStatus.NEVER
        else:
            walked = clock.local(last_round.finished_at).date()
            due_on = calendar.next_working_day(walked + timedelta(days=plan.frequency_days))
            if due_on < today:
                status = RoundStatus.OVERDUE
            elif due_on == today:
                status = RoundStatus.DUE_TODAY
            elif due_on <= next_day:
                status = RoundStatus.DUE_NEXT
            else:
                status = RoundStatus.OK
        result.append(
            ZoneSchedule(zone, plan, last_round, open_rounds.get(zone.id, []), due_on, status)
        )
    return result


def round_floors(inspection: InspectionRound) -> list[Floor]:
    """The round's floors as rows, in walking order."""
    by_code = {f.code: f for f in floors(active_only=False)}
    return [by_code[code] for code in inspection.floor_codes if code in by_code]


def start_round(zone: Zone, floor_list: list[Floor], *, by: User) -> InspectionRound:
    """Start a round; the inspector's unfinished round in the same zone is resumed instead."""
    require_manager(by)
    if not floor_list:
        raise FieldError(_l("Choose at least one floor."), "floors")
    existing = db.session.scalar(
        select(InspectionRound).where(
            InspectionRound.zone_id == zone.id,
            InspectionRound.inspector_id == by.id,
            InspectionRound.finished_at.is_(None),
        )
    )
    if existing is not None:
        return existing
    rank = {f.id: i for i, f in enumerate(floors(active_only=False))}  # the one floor order
    ordered = sorted({f.id: f for f in floor_list}.values(), key=lambda f: rank.get(f.id, 0))
    inspection = InspectionRound(
        zone_id=zone.id,
        floors=",".join(f.code for f in ordered),
        inspector_id=by.id,
        started_at=clock.now(),
    )
    db.session.add(inspection)
    db.session.flush()
    audit.record(
        "round.start",
        "inspection_round",
        inspection.id,
        None,
        {"zone": zone.code, "floors": inspection.floor_codes},
    )
    return inspection


def _lock_open_round(inspection: InspectionRound, by: User) -> InspectionRound:
    require_manager(by)
    locked = db.session.scalar(
        select(InspectionRound)
        .where(InspectionRound.id == inspection.id)
        .with_for_update(of=InspectionRound)
        .execution_options(populate_existing=True)
    )
    if locked is None or locked.finished_at is not None:
        raise Conflict(_l("This round is finished already."))
    if locked.inspector_id != by.id and by.role != Role.SUPERVISOR:
        raise Forbidden(_l("Only the inspector who started the round can record it."))
    return locked


def _check_place(inspection: InspectionRound, floor: Floor) -> None:
    if floor.code not in inspection.floor_codes:
        raise InvalidInput(_l("Floor %(floor)s is not part of this round.", floor=floor.code))


def checks_by_place(inspection: InspectionRound) -> dict[tuple[int, int], RoundCheck]:
    """The round's checks keyed by (floor id, category id)."""
    rows = db.session.scalars(select(RoundCheck).where(RoundCheck.round_id == inspection.id))
    return {(c.floor_id, c.category_id): c for c in rows}


def checked_client_id(client_id: str | None) -> str | None:
    """The phone-made id in its canonical form (a UUID), or None when none was sent."""
    if client_id is None or client_id == "":
        return None
    try:
        return str(uuid.UUID(str(client_id)))
    except ValueError:
        raise InvalidInput(_l("The id the phone gave this record is not valid.")) from None


def _earlier(model, client_id: str | None, inspection: InspectionRound):
    """The check or finding already recorded under `client_id`, if any."""
    if client_id is None:
        return None
    row = db.session.scalar(
        select(model).where(model.client_id == client_id).execution_options(populate_existing=True)
    )
    if row is not None and row.round_id != inspection.id:
        raise Conflict(_l("The id the phone gave this record belongs to another round."))
    return row


def _locked_unless_sent(model, client_id: str | None, inspection: InspectionRound, by: User):
    """(the round locked for recording, None), or (the round, the record `client_id` already
    made): a resend is answered before the lock, a sync that held the lock first after it."""
    earlier = _earlier(model, client_id, inspection)
    if earlier is not None:
        return inspection, earlier
    inspection = _lock_open_round(inspection, by)
    return inspection, _earlier(model, client_id, inspection)


def _once(model, client_id: str | None, inspection: InspectionRound, record):
    """Run `record()` in a savepoint; when a racing sync stored `client_id` first, its row."""
    if client_id is None:
        return record()
    try:
        with db.session.begin_nested():
            return record()
    except IntegrityError:
        earlier = _earlier(model, client_id, inspection)
        if earlier is None:
            raise
        return earlier


def _save_check(
    inspection, floor, category, result: CheckResult, by: User, client_id: str | None = None
) -> RoundCheck:
    check = db.session.scalar(
        select(RoundCheck).where(
            RoundCheck.round_id == inspection.id,
            RoundCheck.floor_id == floor.id,
            RoundCheck.category_id == category.id,
        )
    )
    if check is None:
        check = RoundCheck(
            round_id=inspection.id,
            floor_id=floor.id,
            category_id=category.id,
            result=result.value,
            checked_at=clock.now(),
            checked_by_id=by.id,
            client_id=client_id,
        )
        db.session.add(check)  # the round row is locked: no one else writes its checks now
    else:
        check.result, check.checked_at, check.checked_by_id = result.value, clock.now(), by.id
        check.client_id = client_id or check.client_id
    db.session.flush()
    return check


def mark_no_defect(
    inspection: InspectionRound,
    floor: Floor,
    category: DefectCategory,
    *,
    by: User,
    client_id: str | None = None,
) -> RoundCheck:
    """Record "no defect" for a category on a floor of the round (once per phone-made id)."""
    require_manager(by)
    client_id = checked_client_id(client_id)
    inspection, earlier = _locked_unless_sent(RoundCheck, client_id, inspection, by)
    if earlier is not None:
        return earlier
    _check_place(inspection, floor)
    existing = checks_by_place(inspection).get((floor.id, category.id))
    if existing is not None and existing.result == CheckResult.DEFECTS:
        raise Conflict(_l("Findings were recorded here; it cannot also be \u201cno defect\u201d."))
    if client_id is not None and existing is not None:
        return existing  # the place is "no defect" already: a second phone's tap is done

    def record() -> RoundCheck:
        check = _save_check(inspection, floor, category, CheckResult.OK, by, client_id)
        audit.record(
            "round.check",
            "inspection_round",
            inspection.id,
            None,
            {"floor": floor.code, "category": category.code, "result": CheckResult.OK.value},
        )
        return check

    return _once(RoundCheck, client_id, inspection, record)


def record_finding(
    inspection: InspectionRound,
    floor: Floor,
    category: DefectCategory,
    *,
    by: User,
    location: str,
    description: str,
    uploads=(),
    fixed_on_spot: bool = False,
    fix_note: str = "",
    after_uploads=(),
    client_id: str | None = None,
) -> Defect:
    """Record a finding of the round: a defect ticket, optionally fixed on the spot (once per
    phone-made id)."""
    require_manager(by)
    client_id = checked_client_id(client_id)
    inspection, earlier = _locked_unless_sent(Defect, client_id, inspection, by)
    if earlier is not None:
        return earlier
    _check_place(inspection, floor)
    description = checked_description(description, floor)
    before_photos = photos.check_all(uploads)
    if fixed_on_spot:
        fix_note = checked_fix_note(fix_note)
        after_photos = photos.check_all(after_uploads, "after_photos")
        if not after_photos:
            raise MissingAfterPhoto()

    def record() -> Defect:
        defect = new_defect(
            by,
            category,
            inspection.zone,
            floor,
            location,
            description,
            before_photos,
            inspection,
            client_id=client_id,
        )
        _save_check(inspection, floor, category, CheckResult.DEFECTS, by)
        if fixed_on_spot:
            close_as_fixed(
                defect,
                [TicketState.REPORTED],
                fix_note,
                after_photos,
                TicketState.REPORTED.value,
                by=by,
                assignee_id=by.id,
            )
        return defect

    return _once(Defect, client_id, inspection, record)


def missing_checks(inspection: InspectionRound) -> list[tuple[Floor, DefectCategory]]:
    """Floor and category pairs of the round not yet checked."""
    done = checks_by_place(inspection)
    cats = categories()
    return [
        (floor, category)
        for floor in round_floors(inspection)
        for category in cats
        if (floor.id, category.id) not in done
    ]


def finish_round(inspection: InspectionRound, *, by: User) -> InspectionRound:
    """Finish the round once every category on every floor is "no defect" or has findings."""
    inspection = _lock_open_round(inspection, by)
    gaps = missing_checks(inspection)
    if gaps:
        first = ", ".join(f"{f.code} {c.name_zh}" for f, c in gaps[:4])
        raise InvalidInput(
            _l(
                "%(count)s checks are still open (%(first)s…). Record each as no defect or add "
                "its findings.",
                count=len(gaps),
                first=first,
            )
        )
    finished = guarded_update(
        inspection, InspectionRound.finished_at.is_(None), finished_at=clock.now()
    )
    if not finished:
        raise Conflict(_l("This round is finished already."))
    findings = len(round_findings(inspection))
    audit.record(
        "round.finish",
        "inspection_round",
        inspection.id,
        None,
        {"zone": inspection.zone.code, "findings": findings},
    )
    return inspection


def findings_by_round(round_ids) -> dict[int, list[Defect]]:
    """The defects found in each of these rounds, oldest first (every round id is a key)."""
    ids = list(round_ids)
    found: dict[int, list[Defect]] = {round_id: [] for round_id in ids}
    if ids:
        rows = db.session.scalars(
            select(Defect).where(Defect.round_id.in_(ids)).order_by(Defect.id)
        )
        for defect in rows:
            found[defect.round_id].append(defect)
    return found


def round_findings(inspection: InspectionRound) -> list[Defect]:
    """The defects found in a round."""
    return findings_by_round([inspection.id])[inspection.id]


def recent_rounds(limit: int = 20) -> list[InspectionRound]:
    """The latest finished rounds, newest first."""
    return list(
        db.session.scalars(
            select(InspectionRound)
            .where(InspectionRound.finished_at.is_not(None))
            .order_by(InspectionRound.finished_at.desc())
            .limit(limit)
        )
    )
