"""Counter visits and agency dispatches: the 10-minute clock.

- `tables` — Visit, Dispatch, VisitNote, their states, and the outcome rule on the dispatch
- `rules` — the deadline (`deadline_after`), the on-time rate (`on_time_rate`) and the
  satisfaction share (`satisfaction_share`); the visitor's wait is `Visit.visitor_wait()`
- `access` — who sees which dispatches (`visible_condition`), fetching one for a user
- `operations` — log a visit, notify, acknowledge, arrive, cancel, transfer, notes, corrections
- `queries` — the open dispatches, today's, the history filters, outcome counts
- `notices` — who gets which notice about a dispatch, and what it carries
- `display` — revocable display links that show the live board on a wall screen
- `ack_links` — the personal links in the agency's notice e-mail that acknowledge a dispatch
- `presence` — whether an agency's inbox is open right now (`open_inboxes`)
- `ladder` — the escalation ladder a supervisor keeps: versions, the one in effect per agency
- `visitors` — the visitor at the counter: one-tap care notes, the rating after arrival
- `late` — why a late dispatch was late: the reasons a supervisor keeps, the one current reason
- `escalation`, `retention`, `privacy` — what the jobs ask of the area, and masking
"""

from models.dispatch.access import (
    can_see_dispatches,
    dispatch_for,
    record_personal_data_view,
    visible_condition,
    visible_dispatches,
    visit_for,
)
from models.dispatch.ack_links import (
    AckLink,
    LinkRefused,
    Refusal,
    ack_link_for,
    link_actor,
    used_link,
)
from models.dispatch.display import (
    DisplayLink,
    create_display_link,
    dispatches_on_display,
    display_link_for,
    display_links,
    revoke_display_link,
)
from models.dispatch.ladder import EscalationLadder, Rungs
from models.dispatch.live import LiveRows, live_rows
from models.dispatch.notices import enqueue_notified
from models.dispatch.operations import (
    MAX_ETA_MINUTES,
    MAX_TEXT,
    PHONE_RE,
    TIME_FIELDS,
    acknowledge,
    acknowledge_by_link,
    add_note,
    agency_to_notify,
    arrive,
    cancel,
    correct_time,
    find_agency,
    log_visit,
    notify,
    settle_earlier,
    settle_visit,
    transfer,
)
from models.dispatch.presence import (
    INBOX_OPEN_SECONDS,
    inbox_seen_due,
    open_inboxes,
    record_inbox_seen,
)
from models.dispatch.queries import (
    EARLIER_COUNT_CAP,
    DispatchFilter,
    OutcomeCounts,
    Today,
    corrections,
    day_start,
    earlier_count,
    earlier_open,
    from_earlier_day,
    on_board,
    open_dispatches,
    outcome_counts,
    search_dispatches,
    today_for,
    transferred_from,
    visible_open_dispatches,
    visits_on,
)
from models.dispatch.rules import deadline_after, on_time_rate, satisfaction_share
from models.dispatch.tables import (
    OPEN_STATES,
    OPEN_VALUES,
    SCORE_VALUES,
    Dispatch,
    DispatchState,
    InboxPresence,
    Outcome,
    RatingScore,
    Visit,
    VisitKind,
    VisitNote,
    VisitRating,
    VisitStatus,
)
from models.dispatch.visitors import (
    DEFAULT_CARE_NOTES,
    CareNote,
    add_care_note,
    care_note,
    care_notes,
    note_label,
    rate_visit,
    rating_for,
    visit_of,
    wait_minutes,
)

__all__ = [
    "EARLIER_COUNT_CAP",
    "LiveRows",
    "day_start",
    "earlier_count",
    "earlier_open",
    "from_earlier_day",
    "inbox_seen_due",
    "live_rows",
    "on_board",
    "settle_earlier",
    "DEFAULT_CARE_NOTES",
    "SCORE_VALUES",
    "CareNote",
    "RatingScore",
    "VisitRating",
    "add_care_note",
    "visit_of",
    "care_note",
    "care_notes",
    "note_label",
    "rate_visit",
    "rating_for",
    "satisfaction_share",
    "wait_minutes",
    "AckLink",
    "LinkRefused",
    "Refusal",
    "ack_link_for",
    "acknowledge_by_link",
    "link_actor",
    "used_link",
    "DisplayLink",
    "EscalationLadder",
    "Rungs",
    "create_display_link",
    "dispatches_on_display",
    "display_link_for",
    "display_links",
    "revoke_display_link",
    "INBOX_OPEN_SECONDS",
    "MAX_ETA_MINUTES",
    "MAX_TEXT",
    "OPEN_STATES",
    "OPEN_VALUES",
    "PHONE_RE",
    "TIME_FIELDS",
    "Dispatch",
    "DispatchFilter",
    "DispatchState",
    "InboxPresence",
    "Outcome",
    "OutcomeCounts",
    "Today",
    "Visit",
    "VisitKind",
    "VisitNote",
    "VisitStatus",
    "acknowledge",
    "add_note",
    "agency_to_notify",
    "arrive",
    "can_see_dispatches",
    "cancel",
    "correct_time",
    "corrections",
    "deadline_after",
    "dispatch_for",
    "enqueue_notified",
    "find_agency",
    "log_visit",
    "notify",
    "on_time_rate",
    "open_dispatches",
    "open_inboxes",
    "outcome_counts",
    "record_inbox_seen",
    "record_personal_data_view",
    "search_dispatches",
    "settle_visit",
    "today_for",
    "transfer",
    "transferred_from",
    "visible_condition",
    "visible_dispatches",
    "visible_open_dispatches",
    "visit_for",
    "visits_on",
]
