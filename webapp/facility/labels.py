"""What the facility pages call things: states, sources, timeline steps, round statuses, weekdays,
and the colour classes of a ticket's age on the building grid."""

from datetime import datetime

from flask_babel import lazy_gettext as _l

from models.core import clock
from models.facility import STATE_NAMES, DefectSource, EventAction, RoundStatus

# The operations name states in their messages too: one set of names for both.
STATE_LABELS = STATE_NAMES

SOURCE_LABELS = {
    DefectSource.INSPECTION: _l("Inspection round"),
    DefectSource.REPORT: _l("Repair report"),
}

EVENT_LABELS = {
    EventAction.REPORTED: _l("Reported"),
    EventAction.FOUND: _l("Found in an inspection round"),
    EventAction.REPORT_ADDED: _l("Reported again by someone else"),
    EventAction.ASSIGNED: _l("Assigned"),
    EventAction.STARTED: _l("Work started"),
    EventAction.FIXED: _l("Fixed"),
    EventAction.VERIFIED: _l("Verified"),
    EventAction.REOPENED: _l("Reopened"),
    EventAction.PHOTO_ADDED: _l("Photos added"),
    EventAction.OVERDUE: _l("Overdue: notice sent"),
}

ROUND_STATUS_LABELS = {
    RoundStatus.NO_PLAN: _l("No plan"),
    RoundStatus.NEVER: _l("Never walked"),
    RoundStatus.OVERDUE: _l("Overdue"),
    RoundStatus.DUE_TODAY: _l("Due today"),
    RoundStatus.DUE_NEXT: _l("Due next working day"),
    RoundStatus.OK: _l("On schedule"),
}

WEEKDAYS = [_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun")]

AGE_BANDS = (  # (upper bound in days, css class, label)
    (1, "age-0", _l("under a day")),
    (4, "age-1", _l("1-3 days")),
    (8, "age-2", _l("4-7 days")),
    (None, "age-3", _l("over a week")),
)


def age_band(found_at: datetime, at: datetime | None = None) -> str:
    """The CSS class for how long a ticket has waited."""
    days = ((at or clock.now()) - found_at).total_seconds() / 86400
    for bound, css, _label in AGE_BANDS:
        if bound is None or days < bound:
            return css
    return AGE_BANDS[-1][1]


def template_labels() -> dict:
    """Names of states, sources, timeline steps and weekdays for the facility templates."""
    return {
        "state_labels": STATE_LABELS,
        "source_labels": SOURCE_LABELS,
        "event_labels": EVENT_LABELS,
        "weekdays": WEEKDAYS,
        "age_band": age_band,
    }
