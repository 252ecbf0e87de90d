"""Counter visits and agency dispatches: the 10-minute clock.

- `tables` — Visit, Dispatch, VisitNote, their states, and the outcome rule on the dispatch
- `rules` — the deadline (`deadline_after`) and the on-time rate (`on_time_rate`)
- `access` — who sees which dispatches (`visible_condition`), fetching one for a user
- `operations` — log a visit, notify, acknowledge, arrive, cancel, transfer, notes, corrections
- `queries` — the open dispatches, today's, the history filters, outcome counts
- `notices` — who gets which notice about a dispatch, and what it carries
- `display` — revocable display links that show the live board on a wall screen
- `ack_links` — the personal links in the agency's notice e-mail that acknowledge a dispatch
- `presence` — whether an agency's inbox is open right now (`open_inboxes`)
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
    settle_visit,
    transfer,
)
from models.dispatch.presence import INBOX_OPEN_SECONDS, open_inboxes, record_inbox_seen
from models.dispatch.queries import (
    DispatchFilter,
    OutcomeCounts,
    Today,
    corrections,
    open_dispatches,
    outcome_counts,
    search_dispatches,
    today_for,
    transferred_from,
    visible_open_dispatches,
    visits_on,
)
from models.dispatch.rules import deadline_after, on_time_rate
from models.dispatch.tables import (
    OPEN_STATES,
    OPEN_VALUES,
    Dispatch,
    DispatchState,
    InboxPresence,
    Outcome,
    Visit,
    VisitKind,
    VisitNote,
    VisitStatus,
)

__all__ = [
    "AckLink",
    "LinkRefused",
    "Refusal",
    "ack_link_for",
    "acknowledge_by_link",
    "link_actor",
    "used_link",
    "DisplayLink",
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
