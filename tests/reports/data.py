"""Test factories for the report: dispatch, defect and round rows inserted directly.

Times are given as Taipei wall time ("2023-03-05 14:03") unless they carry an offset.
"""

from datetime import datetime, timedelta

from sqlalchemy import select

from models.core import clock, db
from models.dispatch import Dispatch, DispatchState, deadline_after
from models.facility import Defect, InspectionPlan, InspectionRound, TicketState
from models.reference import Agency, DefectCategory, Zone
from models.reports import ReportSnapshot  # noqa: F401  (the table must exist)

_counter = iter(range(1, 10**9))


def at(text: str) -> datetime:
    """A Taipei wall time (or ISO 8601 with offset) as an aware UTC instant."""
    return clock.parse_local(text)


def _agency_id(code: str) -> int:
    return db.session.scalar(select(Agency.id).where(Agency.code == code))


def dispatch(
    notified: str,
    agency: str = "social-welfare",
    *,
    arrived: float | None = None,
    cancelled: float | None = None,
    transferred: float | None = None,
    acknowledged: float | None = None,
    sla: int = 600,
    reference: str | None = None,
) -> Dispatch:
    """A dispatch notified at `notified`; the other times are minutes after the notice."""
    start = at(notified)

    def after(minutes):
        return None if minutes is None else start + timedelta(minutes=minutes)

    state = DispatchState.NOTIFIED
    ended = None
    if arrived is not None:
        state, ended = DispatchState.ARRIVED, after(arrived)
    elif cancelled is not None:
        state, ended = DispatchState.CANCELLED, after(cancelled)
    elif transferred is not None:
        state, ended = DispatchState.TRANSFERRED, after(transferred)
    row = Dispatch(
        reference=reference,
        agency_id=_agency_id(agency),
        subject="test",
        state=state,
        notified_at=start,
        sla_seconds=sla,
        deadline_at=deadline_after(start, sla),
        acknowledged_at=after(acknowledged),
        arrived_at=after(arrived),
        ended_at=ended,
    )
    db.session.add(row)
    return row


def defect(
    found: str,
    category: str = "corridor",
    zone: str = "northeast",
    *,
    fixed: str | None = None,
    state: str | None = None,
    due_on=None,
    reference: str | None = None,
) -> Defect:
    """A defect found at `found`; fixed (state fixed) when `fixed` is given."""
    row = Defect(
        reference=reference,
        category_id=db.session.scalar(
            select(DefectCategory.id).where(DefectCategory.code == category)
        ),
        zone_id=db.session.scalar(select(Zone.id).where(Zone.code == zone)),
        state=state or (TicketState.FIXED if fixed else TicketState.REPORTED),
        found_at=at(found),
        fixed_at=at(fixed) if fixed else None,
        due_on=due_on,
        source="inspection",
    )
    db.session.add(row)
    return row


def inspection_round(zone: str, started: str, *, finished: bool = True) -> InspectionRound:
    """A walk through a zone, finished an hour after it started unless told otherwise."""
    start = at(started)
    row = InspectionRound(
        zone_id=db.session.scalar(select(Zone.id).where(Zone.code == zone)),
        started_at=start,
        finished_at=start + timedelta(hours=1) if finished else None,
    )
    db.session.add(row)
    return row


def plan(zone: str, every_days: int) -> InspectionPlan:
    """An inspection plan: walk `zone` every `every_days` days."""
    row = InspectionPlan(
        zone_id=db.session.scalar(select(Zone.id).where(Zone.code == zone)),
        frequency_days=every_days,
    )
    db.session.add(row)
    return row


# The ten agencies with a desk and how many of the 59 dispatches of 2023 each had (late ones).
AGENCIES_2023 = [
    ("social-welfare", 12, 1),
    ("health", 8, 1),
    ("labor", 7, 1),
    ("economic-development", 6, 1),
    ("land-administration", 6, 1),
    ("civil-affairs", 5, 1),
    ("commerce", 4, 1),
    ("songshan-land-office", 4, 1),
    ("xinyi-household-registration", 4, 0),
    ("secretariat", 3, 0),
]
# Dispatches per month (59) and the months of the 8 late ones.
MONTHS_2023 = [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4]
LATE_MONTHS_2023 = [1, 2, 3, 4, 6, 7, 9, 10]
DEFECTS_2023 = {"corridor": 95, "facility": 48, "cleanliness": 38, "ceiling_floor": 17}


def published_2023() -> None:
    """The Secretariat's published 2023 figures as raw records: 59 counted dispatches (8 late,
    one of them cancelled after its deadline, one arrival exactly at 10:00) and 198 defects
    fixed (95 / 48 / 38 / 17), plus records just outside the year."""
    slots = []  # (month, day) for each dispatch in date order
    for month, count in enumerate(MONTHS_2023, start=1):
        slots += [(month, day) for day in range(3, 3 + 2 * count, 2)]
    left = {code: n for code, n, _late in AGENCIES_2023}
    agencies = []  # round robin over the agencies, so that every month sees several
    while len(agencies) < len(slots):
        for code, _n, _late in AGENCIES_2023:
            if left[code]:
                agencies.append(code)
                left[code] -= 1
    late_left = {code: late for code, _n, late in AGENCIES_2023}
    late_months = list(LATE_MONTHS_2023)
    for index, ((month, day), agency) in enumerate(zip(slots, agencies, strict=True)):
        notified = f"2023-{month:02d}-{day:02d} {9 + index % 8:02d}:{index % 60:02d}"
        if late_months and month == late_months[0] and late_left[agency]:
            late_months.pop(0)
            late_left[agency] -= 1
            if month == 6:
                dispatch(notified, agency, cancelled=25)  # nobody came; cancelled too late
            else:
                dispatch(notified, agency, arrived=10 + month, acknowledged=2)
        else:
            minutes = 10 if index == 0 else 3 + index % 6  # the first arrives at exactly 10:00
            dispatch(notified, agency, arrived=minutes, acknowledged=1)
    assert not late_months, late_months
    zones = ["northeast", "southeast", "northwest", "southwest", "central-north", "central-south"]
    n = 0
    for category, count in DEFECTS_2023.items():
        for i in range(count):
            n += 1
            month, day = 1 + n % 12, 1 + n % 27
            found = f"2023-{month:02d}-{day:02d} 10:00"
            fixed = f"2023-{month:02d}-{day + 1:02d} 16:00"
            defect(found, category, zones[i % len(zones)], fixed=fixed)
    # Just outside 2023 in Taipei time: must not count.
    dispatch("2022-12-31 23:59", "health", arrived=30)
    dispatch("2024-01-01 00:05", "health", arrived=30)
    defect("2024-01-01 00:05", "corridor", fixed="2024-01-02 10:00")
    defect("2022-12-31 23:50", "facility")
    db.session.commit()
