"""Facility walk-through inspections (走動式巡檢) and repair tickets (線上報修, 列管追蹤).

`tables` (states and rows), `access` (who may see, work, verify, reopen), `lookups` (codes and
lists), `tickets` (report, assign, start, fix, verify, reopen, photos, the ticket list),
`rounds` (plans against the schedule, walking a round, findings), `settings` (due days, round
frequency), `grid` (the building grid) and `reminders` (what the jobs ask). Operations take
the acting user (`by=`), audit and flush; the caller commits.
"""

# ruff: noqa: F401 (re-exports: `from models.facility import assign` keeps working)
from models.facility.access import (
    TICKET_MANAGER_ROLES,
    accepts_after_photos,
    allowed_moves,
    by_id,
    can_add_after_photos,
    can_manage,
    can_reopen,
    can_see,
    can_verify,
    get_defect,
    get_photo,
    is_reporter,
    require_manager,
    reveals,
    visible_photos,
    visible_to,
)
from models.facility.errors import FieldError, MissingAfterPhoto
from models.facility.grid import GridCell, building_grid
from models.facility.lookups import (
    category_by_code,
    find_by_code,
    floor_by_code,
    floors,
    ticket_managers,
    user_by_username,
    zone_by_code,
    zones,
)
from models.facility.reminders import (
    enqueue_overdue_reminders,
    enqueue_round_reminders,
    overdue_tickets,
    rounds_due,
)
from models.facility.rounds import (
    ZoneSchedule,
    checks_by_place,
    findings_by_round,
    finish_round,
    mark_no_defect,
    missing_checks,
    recent_rounds,
    record_finding,
    round_findings,
    round_floors,
    round_schedule,
    start_round,
)
from models.facility.settings import (
    DUE_WORKING_DAYS,
    ROUND_FREQUENCY_DAYS,
    SettingRange,
    plans_by_zone,
    set_due_days,
    set_plan,
)
from models.facility.tables import (
    AFTER_PHOTO_STATES,
    FIXED_STATES,
    OPEN_STATES,
    STATE_NAMES,
    CheckResult,
    Defect,
    DefectEvent,
    DefectPhoto,
    DefectSource,
    EventAction,
    InspectionPlan,
    InspectionRound,
    PhotoKind,
    RoundCheck,
    RoundStatus,
    TicketState,
)
from models.facility.tickets import (
    TicketFilter,
    add_photos,
    add_report,
    assign,
    due_date,
    fix,
    reopen,
    report_defect,
    similar_open,
    start,
    ticket_query,
    verify,
)
from models.facility.timeline import events_of, pending_after_photos
from models.reference import DefectCategory, Floor, Zone, categories  # what tickets are about
