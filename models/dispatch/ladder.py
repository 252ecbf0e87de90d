"""The escalation ladder a supervisor keeps (issue 13): the default ladder and per-agency
overrides, kept as versions that are added and never changed.

A version holds the rungs: a reminder to the agency this long before the deadline while
nobody has acknowledged (None: off), repeated every so often until someone acknowledges or the
deadline comes (None: once), whether supervisors also get the breach notice, and the chief's
notice this long after the deadline (None: off). An agency's version with `inherit` set ends
its override: the default applies to it again.

When a dispatch is notified (a new visit's, or a transfer's new dispatch) it records the
version in effect for its agency at that moment (`Dispatch.ladder_id`, `in_effect`); the
overdue sweep reads that version, so a change applies to dispatches notified after it and
history is never rewritten. Migration 0017 makes the first default version from the
configuration (`CITYDESK_ESCALATION_*`, `Rungs.from_config`) and gives it to every dispatch
already recorded. With no default version at all, a dispatch records none and the configured
ladder applies to it (jobs.config.Ladder).
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import CheckConstraint, ForeignKey, Index, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.core import audit, clock, db
from models.core.errors import Conflict, Forbidden, InvalidInput
from models.core.settings import flag, whole
from models.core.types import UTCDateTime
from models.dispatch.tables import DispatchState
from models.reference import Agency, sla_seconds
from models.users import Role, User

EDITOR_ROLES = (Role.SUPERVISOR, Role.ADMIN)  # who keeps the ladder (as targets and settings)

# The allowed values, in seconds (the page asks in minutes). The one statement of each range:
# the form's field errors and the operations both come from `problems()`.
REMINDER_BEFORE = (30, 240 * 60)
REPEAT_EVERY = (60, 60 * 60)
CHIEF_AFTER = (30, 240 * 60)

# The shipped ladder, the one statement of its values: `Rungs()` and the default configuration
# (webapp.DefaultConfig's CITYDESK_ESCALATION_*) both read them.
DEFAULT_REMINDER_BEFORE = 180  # remind the agency this long before the deadline
DEFAULT_BREACH_TO_SUPERVISORS = True  # the breach notice also goes to supervisors
DEFAULT_CHIEF_AFTER = 300  # tell the service-centre chief this long after it


@dataclass(frozen=True)
class Rungs:
    """The values of one ladder: seconds before the deadline for the reminder, seconds between
    repeated reminders, supervisors told of the breach, seconds after the deadline for the
    chief (None turns a rung off)."""

    reminder_before: int | None = DEFAULT_REMINDER_BEFORE
    repeat_every: int | None = None
    breach_to_supervisors: bool = DEFAULT_BREACH_TO_SUPERVISORS
    chief_after: int | None = DEFAULT_CHIEF_AFTER

    @classmethod
    def from_config(cls, config) -> "Rungs":
        """The configured ladder (`CITYDESK_ESCALATION_*`); InvalidInput names a bad setting."""
        return cls(
            reminder_before=whole(config, "ESCALATION_REMINDER_SECONDS", optional=True),
            repeat_every=None,
            breach_to_supervisors=flag(config, "ESCALATION_BREACH_TO_SUPERVISORS"),
            chief_after=whole(config, "ESCALATION_CHIEF_SECONDS", optional=True),
        )

    def to_dict(self) -> dict:
        """The audit view."""
        return asdict(self)


class EscalationLadder(db.Model):
    """One version of the escalation ladder: the default (no agency) or an agency's override;
    added, never changed."""

    __tablename__ = "escalation_ladder"
    __table_args__ = (
        Index("ix_escalation_ladder_agency", "agency_id", "id"),
        CheckConstraint("agency_id IS NOT NULL OR NOT inherit", name="inherit_needs_agency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))  # None: the default
    inherit: Mapped[bool] = mapped_column(default=False)  # the agency's override ended
    reminder_before_seconds: Mapped[int | None]
    repeat_every_seconds: Mapped[int | None]
    breach_to_supervisors: Mapped[bool] = mapped_column(default=True)
    chief_after_seconds: Mapped[int | None]
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    agency: Mapped[Agency | None] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def rungs(self) -> Rungs:
        """This version's values."""
        return Rungs(
            reminder_before=self.reminder_before_seconds,
            repeat_every=self.repeat_every_seconds,
            breach_to_supervisors=self.breach_to_supervisors,
            chief_after=self.chief_after_seconds,
        )

    @property
    def scope(self) -> str:
        """The audit object id: `default`, or the agency's code."""
        return "default" if self.agency is None else self.agency.code


# --- reading --------------------------------------------------------------------------------


def _latest(agency_id: int | None) -> EscalationLadder | None:
    """The newest version for an agency (None: of the default), inherit rows included."""
    owner = (
        EscalationLadder.agency_id.is_(None)
        if agency_id is None
        else EscalationLadder.agency_id == agency_id
    )
    stmt = select(EscalationLadder).where(owner).order_by(EscalationLadder.id.desc()).limit(1)
    return db.session.scalar(stmt)


def default_version() -> EscalationLadder | None:
    """The default ladder in force now (None until one exists)."""
    return _latest(None)


def override_for(agency_id: int) -> EscalationLadder | None:
    """An agency's own ladder in force now, or None when it follows the default."""
    row = _latest(agency_id)
    return None if row is None or row.inherit else row


def in_effect(agency_id: int) -> EscalationLadder | None:
    """The version a dispatch to this agency notified now follows: its override, else the
    default (None when no version exists: the configured ladder applies)."""
    return override_for(agency_id) or default_version()


def default_rungs() -> tuple[Rungs, EscalationLadder | None]:
    """The default ladder's values and its version (None: the configured values)."""
    row = default_version()
    return (row.rungs, row) if row is not None else (Rungs.from_config(current_app.config), None)


def overrides() -> list[EscalationLadder]:
    """Every agency's override in force now, in the agencies' order."""
    newest = (
        select(func.max(EscalationLadder.id))
        .where(EscalationLadder.agency_id.is_not(None))
        .group_by(EscalationLadder.agency_id)
    )
    stmt = (
        select(EscalationLadder)
        .join(Agency, Agency.id == EscalationLadder.agency_id)
        .where(EscalationLadder.id.in_(newest), ~EscalationLadder.inherit)
        .order_by(Agency.has_desk.desc(), Agency.sort_order, Agency.code)
    )
    return list(db.session.scalars(stmt))


def history(limit: int = 30) -> list[EscalationLadder]:
    """The newest versions first (default and agencies alike)."""
    stmt = select(EscalationLadder).order_by(EscalationLadder.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))


# --- the rules ------------------------------------------------------------------------------


def minutes(seconds: int) -> str:
    """Seconds as minutes for people: 180 → "3", 90 → "1.5", 100 → "1.67"."""
    value = (Decimal(seconds) / 60).quantize(Decimal("0.01"))
    return format(value.normalize(), "f")


def _outside(value: int | None, bounds: tuple[int, int]) -> bool:
    return value is not None and not bounds[0] <= value <= bounds[1]


def problems(rungs: Rungs, *, sla_seconds: int) -> dict[str, str]:
    """What is wrong with these values, by field (reminder_before, repeat_every,
    chief_after); empty when they may be saved. `sla_seconds` is the time limit in force."""
    found = {}
    before, repeat = rungs.reminder_before, rungs.repeat_every
    if _outside(before, REMINDER_BEFORE):
        found["reminder_before"] = _(
            "Between %(low)s and %(high)s minutes before the deadline, or empty for no reminder.",
            low=minutes(REMINDER_BEFORE[0]),
            high=minutes(REMINDER_BEFORE[1]),
        )
    elif before is not None and before >= sla_seconds:
        found["reminder_before"] = _(
            "The time limit is %(limit)s minutes: a reminder %(before)s minutes before the "
            "deadline would come before the notice itself.",
            limit=minutes(sla_seconds),
            before=minutes(before),
        )
    if _outside(repeat, REPEAT_EVERY) or (repeat is not None and repeat % 60):
        found["repeat_every"] = _(
            "Every %(low)s to %(high)s whole minutes, or empty to remind once.",
            low=minutes(REPEAT_EVERY[0]),
            high=minutes(REPEAT_EVERY[1]),
        )
    elif repeat is not None and before is None:
        found["repeat_every"] = _(
            "Only a reminder can be repeated: set the minutes before the deadline too."
        )
    elif repeat is not None and "reminder_before" not in found and repeat >= before:
        found["repeat_every"] = _(
            "Reminders repeat until the deadline, and the first comes %(before)s minutes "
            "before it: repeat more often than that, or leave this empty.",
            before=minutes(before),
        )
    if _outside(rungs.chief_after, CHIEF_AFTER):
        found["chief_after"] = _(
            "Between %(low)s and %(high)s minutes after the deadline, or empty for no notice "
            "to the chief.",
            low=minutes(CHIEF_AFTER[0]),
            high=minutes(CHIEF_AFTER[1]),
        )
    return found


def reminder_due_at(dispatch, rungs: Rungs, number: int) -> datetime:
    """When reminder `number` (1 the first, 2… its repeats) of a dispatch falls."""
    first = dispatch.deadline_at - timedelta(seconds=rungs.reminder_before)
    return first + (number - 1) * timedelta(seconds=rungs.repeat_every or 0)


def reminder_number(dispatch, rungs: Rungs, at: datetime) -> int | None:
    """The reminder due for a dispatch at instant `at`: 1 the first, 2, 3… its repeats; None
    when none is. Reminders go while nobody has acknowledged and the deadline has not come
    (then the breach notice takes over); one that would fall at or before the notification is
    not sent; after a pause of the jobs only the latest one due is sent, never a burst."""
    before = rungs.reminder_before
    if before is None or dispatch.state != DispatchState.NOTIFIED or at >= dispatch.deadline_at:
        return None
    first = dispatch.deadline_at - timedelta(seconds=before)
    if at < first:
        return None
    number = 1
    if rungs.repeat_every:
        number += (at - first) // timedelta(seconds=rungs.repeat_every)
    if reminder_due_at(dispatch, rungs, number) <= dispatch.notified_at:
        return None
    return number


# --- changing -------------------------------------------------------------------------------


def _require_editor(by) -> None:
    """Only a supervisor or an administrator keeps the ladder (as targets and settings)."""
    if by is None or by.role not in EDITOR_ROLES:
        raise Forbidden(_("Only a supervisor may change the escalation ladder."))


def _check(by, rungs: Rungs) -> None:
    """The editor's role, and values `problems()` allows with the time limit in force."""
    _require_editor(by)
    found = problems(rungs, sla_seconds=sla_seconds())
    if found:
        raise InvalidInput(" ".join(found.values()))


def _add(agency: Agency | None, rungs: Rungs | None, by) -> EscalationLadder:
    """A new version (rungs None: the agency's override ends)."""
    values = rungs or Rungs(None, None, False, None)
    row = EscalationLadder(
        agency_id=None if agency is None else agency.id,
        inherit=rungs is None,
        reminder_before_seconds=values.reminder_before,
        repeat_every_seconds=values.repeat_every,
        breach_to_supervisors=values.breach_to_supervisors,
        chief_after_seconds=values.chief_after,
        created_at=clock.now(),
        created_by_id=by.id,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _audited(action: str, row: EscalationLadder, before: dict | None, after: dict) -> None:
    audit.record(action, "escalation_ladder", row.scope, before, {"version": row.id, **after})


def save_default(rungs: Rungs, *, by) -> EscalationLadder | None:
    """A new version of the default ladder, for dispatches notified from now on (agencies
    with an override keep theirs); None when nothing changed."""
    _check(by, rungs)
    current, version = default_rungs()
    if version is not None and current == rungs:
        return None
    row = _add(None, rungs, by)
    before = {"source": "configuration"} if version is None else {"version": version.id}
    _audited("escalation_ladder.save", row, before | current.to_dict(), rungs.to_dict())
    return row


def save_override(agency: Agency, rungs: Rungs, *, by) -> EscalationLadder | None:
    """A new version of an agency's own ladder, for its dispatches notified from now on; None
    when nothing changed."""
    _check(by, rungs)
    current = override_for(agency.id)
    if current is not None and current.rungs == rungs:
        return None
    row = _add(agency, rungs, by)
    before = None if current is None else {"version": current.id} | current.rungs.to_dict()
    _audited("escalation_ladder.save", row, before, rungs.to_dict())
    return row


def remove_override(agency: Agency, *, by) -> EscalationLadder:
    """End an agency's override: its dispatches notified from now on follow the default
    (a new version that says so; the old ones stay for the dispatches that recorded them)."""
    _require_editor(by)
    current = override_for(agency.id)
    if current is None:
        raise Conflict(_("%(agency)s already follows the default ladder.", agency=agency.name_zh))
    row = _add(agency, None, by)
    before = {"version": current.id} | current.rungs.to_dict()
    _audited("escalation_ladder.remove_override", row, before, {"inherit": True})
    return row


def seed_default(connection: Connection, rungs: Rungs) -> int:
    """Make the first default version from `rungs` unless a default exists (migration 0017,
    with the configured values); the default version's id."""
    names = ("id", "agency_id", "inherit", "reminder_before_seconds", "repeat_every_seconds")
    names += ("breach_to_supervisors", "chief_after_seconds", "created_by_id")
    table = sa.table(
        "escalation_ladder",
        *(sa.column(name) for name in names),
        sa.column("created_at", UTCDateTime()),
    )
    found = connection.scalar(select(func.max(table.c.id)).where(table.c.agency_id.is_(None)))
    if found is not None:
        return found
    connection.execute(
        table.insert().values(
            agency_id=None,
            inherit=False,
            reminder_before_seconds=rungs.reminder_before,
            repeat_every_seconds=rungs.repeat_every,
            breach_to_supervisors=rungs.breach_to_supervisors,
            chief_after_seconds=rungs.chief_after,
            created_at=clock.now(),
            created_by_id=None,
        )
    )
    return connection.scalar(select(func.max(table.c.id)).where(table.c.agency_id.is_(None)))
