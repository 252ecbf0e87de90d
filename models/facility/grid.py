"""The building grid: open tickets per zone and floor, their oldest one and how many are late."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select

from models.core import clock, db
from models.facility.tables import OPEN_STATES, Defect


@dataclass
class GridCell:
    """Open tickets at one zone and floor."""

    count: int
    oldest: datetime  # when the oldest open ticket was found
    overdue: int


def building_grid(today: date | None = None) -> dict[tuple[int, int | None], GridCell]:
    """Open tickets per (zone id, floor id): count, the oldest's found_at, how many overdue."""
    today = today or clock.today()
    overdue = func.sum(case((Defect.overdue_on(today), 1), else_=0))
    rows = db.session.execute(
        select(Defect.zone_id, Defect.floor_id, func.count(), func.min(Defect.found_at), overdue)
        .where(Defect.state.in_([s.value for s in OPEN_STATES]))
        .group_by(Defect.zone_id, Defect.floor_id)
    )
    cells = {}
    for zone_id, floor_id, count, oldest, late in rows:
        if oldest is not None and oldest.tzinfo is None:  # SQLite's MIN() loses the type
            oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=clock.UTC)
        elif isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest).replace(tzinfo=clock.UTC)
        cells[(zone_id, floor_id)] = GridCell(count=count, oldest=oldest, overdue=int(late or 0))
    return cells
