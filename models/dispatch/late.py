"""Why a dispatch was late (DESIGN "Late reasons"; 內部控制): the list of reason codes a
supervisor keeps, and the one current reason (with a note) an agency or a clerk records on a
late dispatch. The history of every change is in the audit trail.

- A reason belongs to a late dispatch only: late is `Dispatch.on_time_at(now) is False` (arrived
  after the deadline, still open past it, or cancelled after it), the outcome rule itself.
- `other` always exists and stays active; codes never change (rows are never deleted, only
  deactivated), so the reports keep counting under the same code.
- `none` is no reason's code: the reports count a late dispatch without a reason under it.
"""

import re
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import ForeignKey, String, Text, case, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.core import audit, clock, db
from models.core.errors import Conflict, InvalidInput
from models.core.text import clean_text, reads_english
from models.dispatch.access import may_act_for_agency, require_own_agency_or_clerk, require_role
from models.dispatch.tables import Dispatch, Outcome
from models.users import Role, User

OTHER = "other"  # always there, never deactivated
NO_REASON = "none"  # the reports' entry for late dispatches with no reason recorded
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_NOTE = 500
MAX_LABEL = 50

# The list a new database starts with is models.reference.seed.LATE_REASONS.


class LateReason(db.Model):
    """A reason an agency can give for a late dispatch (a supervisor keeps the list)."""

    __tablename__ = "late_reason"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label_zh: Mapped[str] = mapped_column(String(MAX_LABEL))
    label_en: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=100)

    def label(self, locale: str = "zh") -> str:
        """The reason's label in the given language."""
        return self.label_en if reads_english(locale) else self.label_zh

    def to_dict(self) -> dict:
        """Audit/API view of the reason."""
        return {
            "code": self.code,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "active": self.active,
        }


class DispatchLateReason(db.Model):
    """The current reason recorded for one late dispatch (earlier ones: the audit trail)."""

    __tablename__ = "dispatch_late_reason"

    dispatch_id: Mapped[int] = mapped_column(
        ForeignKey("dispatch.id"), primary_key=True, autoincrement=False
    )
    reason_id: Mapped[int] = mapped_column(ForeignKey("late_reason.id"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    reason: Mapped[LateReason] = relationship(lazy="joined")
    recorded_by: Mapped[User | None] = relationship(lazy="joined")


# --- The list ----------------------------------------------------------------------------


def _order():
    return (case((LateReason.code == OTHER, 1), else_=0), LateReason.sort_order, LateReason.id)


def late_reasons(*, active_only: bool = False) -> list[LateReason]:
    """The reasons in the one order (`other` last), active ones only if asked."""
    stmt = select(LateReason).order_by(*_order())
    if active_only:
        stmt = stmt.where(LateReason.active)
    return list(db.session.scalars(stmt))


def late_reason_by_code(code: str, *, active_only: bool = True) -> LateReason:
    """The reason with this code; InvalidInput when there is none (or it is not in use)."""
    reason = db.session.scalar(select(LateReason).where(LateReason.code == (code or "").strip()))
    if reason is None or (active_only and not reason.active):
        raise InvalidInput(_("Unknown late reason: %(code)s", code=code))
    return reason


def _labels(label_zh: str, label_en: str) -> tuple[str, str]:
    return (
        clean_text(label_zh, _("Chinese label"), limit=MAX_LABEL, required=True),
        clean_text(label_en, _("English label"), limit=100, required=True),
    )


def add_late_reason(code: str, label_zh: str, label_en: str, *, by) -> LateReason:
    """Add a reason to the list (supervisors); the code is new, lower case, and not `none`."""
    require_role(by, Role.SUPERVISOR)
    code = (code or "").strip()
    if not CODE_RE.match(code) or code == NO_REASON:
        raise InvalidInput(
            _(
                "A code is 2 to 40 lower-case letters, digits or _ and starts with a letter "
                "(not “none”)."
            )
        )
    if db.session.scalar(select(LateReason.id).where(LateReason.code == code)):
        raise InvalidInput(_("The code %(code)s is taken.", code=code))
    label_zh, label_en = _labels(label_zh, label_en)
    reason = LateReason(code=code, label_zh=label_zh, label_en=label_en, active=True)
    db.session.add(reason)
    db.session.flush()
    audit.record("late_reason.create", "late_reason", code, None, reason.to_dict())
    return reason


def update_late_reason(
    reason: LateReason, *, label_zh: str, label_en: str, active: bool, by
) -> LateReason:
    """Rename a reason or take it out of (or back into) use (supervisors); `other` stays."""
    require_role(by, Role.SUPERVISOR)
    if reason.code == OTHER and not active:
        raise Conflict(_("“Other” is always on the list; it cannot be removed."))
    label_zh, label_en = _labels(label_zh, label_en)
    before = reason.to_dict()
    reason.label_zh, reason.label_en, reason.active = label_zh, label_en, bool(active)
    db.session.flush()
    if reason.to_dict() != before:
        audit.record("late_reason.update", "late_reason", reason.code, before, reason.to_dict())
    return reason


# --- A dispatch's reason -----------------------------------------------------------------


def late_reason_of(dispatch_id: int) -> DispatchLateReason | None:
    """The reason recorded for a dispatch, if any."""
    return db.session.get(DispatchLateReason, dispatch_id)


def late_reasons_of(dispatch_ids: list[int]) -> dict[int, DispatchLateReason]:
    """{dispatch id: its reason} for those of `dispatch_ids` with one (one query)."""
    if not dispatch_ids:
        return {}
    stmt = select(DispatchLateReason).where(DispatchLateReason.dispatch_id.in_(dispatch_ids))
    return {row.dispatch_id: row for row in db.session.scalars(stmt)}


def may_record_late_reason(user, dispatch: Dispatch) -> bool:
    """True when `user` may record why `dispatch` was late (its own agency's staff, a clerk)."""
    # A person, by the access rule `set_late_reason` checks (which also lets a process act).
    return user is not None and may_act_for_agency(user, dispatch)


def _snapshot(row: DispatchLateReason | None) -> dict | None:
    if row is None:
        return None
    return {"reason": row.reason.code, "note": row.note}


def set_late_reason(
    dispatch: Dispatch, code: str, note: str = "", *, by, at: datetime | None = None
) -> DispatchLateReason:
    """Record why a late dispatch was late: the dispatch's own agency or a clerk; Conflict when
    it is not late (on time, still within its deadline, cancelled in time, transferred). A
    later call replaces the earlier reason; both are in the audit trail."""
    require_own_agency_or_clerk(by, dispatch)
    # Lock the dispatch until commit: two reasons sent at once are recorded one after the other.
    db.session.execute(select(Dispatch.id).where(Dispatch.id == dispatch.id).with_for_update())
    db.session.refresh(dispatch)
    at = at or clock.now()
    if dispatch.on_time_at(at) is not False:
        raise Conflict(
            _(
                "Dispatch #%(id)d is not late: a reason is recorded for late dispatches only.",
                id=dispatch.id,
            )
        )
    reason = late_reason_by_code(code)
    note = clean_text(note, _("Explanation"), limit=MAX_NOTE)
    if reason.code == OTHER and not note:
        raise InvalidInput(
            _("With the reason “Other”, say in the note what happened."), field="note"
        )
    row = db.session.get(DispatchLateReason, dispatch.id, populate_existing=True)
    before = _snapshot(row)
    if row is None:
        row = DispatchLateReason(dispatch_id=dispatch.id)
        db.session.add(row)
    row.reason_id, row.reason = reason.id, reason
    row.note = note
    row.recorded_at = at
    row.recorded_by_id = None if by is None else by.id
    db.session.flush()
    audit.record("dispatch.late_reason", "dispatch", dispatch.id, before, _snapshot(row))
    return row


def unexplained_late_dispatches(
    agency_id: int, at: datetime | None = None, *, limit: int = 20
) -> list[Dispatch]:
    """An agency's late dispatches of this Taipei year with no reason recorded yet, newest
    first (the inbox asks for the reasons still owed)."""
    at = at or clock.now()
    explained = select(DispatchLateReason.dispatch_id).where(
        DispatchLateReason.dispatch_id == Dispatch.id
    )
    stmt = (
        select(Dispatch)
        .where(
            Dispatch.agency_id == agency_id,
            clock.in_year(Dispatch.notified_at, clock.taipei_year(at)),
            Dispatch.outcome_expr(at) == Outcome.LATE.value,
            ~explained.exists(),
        )
        .order_by(Dispatch.notified_at.desc(), Dispatch.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
