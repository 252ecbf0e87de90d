"""Facility settings: due working days per category and how often each zone is walked."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from models.core import audit, db
from models.core.errors import InvalidInput
from models.facility.tables import InspectionPlan
from models.reference import DefectCategory, Zone


@dataclass(frozen=True)
class SettingRange:
    """The allowed whole numbers of a setting, and what to say when a value is outside."""

    low: int
    high: int
    message: str

    def __contains__(self, value) -> bool:
        return self.low <= value <= self.high

    def check(self, value: int) -> int:
        """`value` when allowed, else InvalidInput with the range's message."""
        if value not in self:
            raise InvalidInput(self.message)
        return value


# The one statement of each range: the forms' validators, the pages and the operations use these.
DUE_WORKING_DAYS = SettingRange(0, 60, _l("Between 0 and 60 working days."))
ROUND_FREQUENCY_DAYS = SettingRange(1, 366, _l("A round every 1 to 366 days."))


def set_due_days(category: DefectCategory, days: int) -> DefectCategory:
    """Change how many working days a category's tickets have (new tickets only)."""
    DUE_WORKING_DAYS.check(days)
    before = {"due_working_days": category.due_working_days}
    category.due_working_days = days
    after = {"due_working_days": days}
    audit.record("defect_category.due_days", "defect_category", category.code, before, after)
    db.session.flush()
    return category


def set_plan(zone: Zone, frequency_days: int, *, active: bool = True) -> InspectionPlan:
    """Set how often a zone is walked (calendar days between rounds)."""
    ROUND_FREQUENCY_DAYS.check(frequency_days)
    plan = db.session.scalar(select(InspectionPlan).where(InspectionPlan.zone_id == zone.id))
    before = None
    if plan is not None:
        before = {"frequency_days": plan.frequency_days, "active": plan.active}
    if plan is None:
        plan = InspectionPlan(zone_id=zone.id)
        db.session.add(plan)
    plan.frequency_days, plan.active = frequency_days, active
    db.session.flush()
    audit.record(
        "inspection_plan.save",
        "inspection_plan",
        zone.code,
        before,
        {"frequency_days": frequency_days, "active": active},
    )
    return plan


def plans_by_zone() -> dict[int, InspectionPlan]:
    """Every zone's inspection plan, by zone id (zones without one are missing)."""
    return {p.zone_id: p for p in db.session.scalars(select(InspectionPlan))}
