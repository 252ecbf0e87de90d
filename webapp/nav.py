"""The navigation: each area's entry point and the roles it is for (header and home page)."""

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from models.users import Role


@dataclass(frozen=True)
class NavItem:
    """One entry: the endpoint, its label, a one-line description and who sees it."""

    endpoint: str
    label: object
    description: object
    roles: tuple[str, ...]


NAV: list[NavItem] = [
    NavItem(
        "desk.new_visit",
        _l("New visit"),
        _l("Log a walk-in visitor and notify the agency"),
        (Role.CLERK,),
    ),
    NavItem(
        "desk.board",
        _l("Live board"),
        _l("Every open dispatch and its countdown"),
        (Role.CLERK, Role.SUPERVISOR),
    ),
    NavItem(
        "desk.today",
        _l("Today"),
        _l("Today's visits and dispatches, the on-time rate so far"),
        (Role.CLERK, Role.SUPERVISOR),
    ),
    NavItem(
        "desk.history",
        _l("Dispatches"),
        _l("All dispatches by date, agency, state and on time or late"),
        (Role.CLERK, Role.SUPERVISOR),
    ),
    NavItem(
        "agency.inbox",
        _l("Inbox"),
        _l("Your agency's dispatches: acknowledge and send someone in time"),
        (Role.AGENCY,),
    ),
    NavItem(
        "agency.history",
        _l("Our dispatches"),
        _l("Your agency's past dispatches, on time or late"),
        (Role.AGENCY,),
    ),
    NavItem(
        "notifications.index",
        _l("Notifications"),
        _l("Notices sent to you: dispatches, reminders, overdue alerts"),
        tuple(Role),
    ),
    NavItem("admin.users", _l("Users"), _l("Add, edit and deactivate accounts"), (Role.ADMIN,)),
    NavItem(
        "admin.agencies",
        _l("Agencies"),
        _l("Agencies, extensions and notice addresses"),
        (Role.ADMIN,),
    ),
    NavItem("admin.building", _l("Building"), _l("Zones and floors"), (Role.ADMIN,)),
    NavItem("admin.tokens", _l("API tokens"), _l("Issue and revoke API tokens"), (Role.ADMIN,)),
    NavItem(
        "admin.display_links_page",
        _l("Display links"),
        _l("Show the live board on a wall screen with no one signed in"),
        (Role.ADMIN,),
    ),
    NavItem(
        "agency.scorecard_page",
        _l("Scorecard"),
        _l("An agency's on-time rate against the year's target, month by month, and why late"),
        (Role.AGENCY, Role.SUPERVISOR),
    ),
    NavItem(
        "admin.late_reasons_page",
        _l("Late reasons"),
        _l("The reasons agencies give when a dispatch is late"),
        (Role.SUPERVISOR,),
    ),
    NavItem(
        "admin.settings",
        _l("Targets & settings"),
        _l("Yearly on-time targets and the dispatch time limit"),
        (Role.SUPERVISOR, Role.ADMIN),
    ),
    NavItem(
        "admin.escalation",
        _l("Escalation ladder"),
        _l("Reminders, overdue notices and the chief's notice, per agency if need be"),
        (Role.SUPERVISOR, Role.ADMIN),
    ),
    NavItem(
        "admin.audit",
        _l("Audit trail"),
        _l("Every change and sign-in, filterable"),
        (Role.SUPERVISOR, Role.ADMIN),
    ),
    NavItem(
        "facility.report",
        _l("Report a problem"),
        _l("File a repair report for the building, from your phone or desk"),
        tuple(Role),
    ),
    NavItem(
        "facility.mine",
        _l("My repair reports"),
        _l("Follow the repairs you reported and confirm them"),
        (Role.CLERK, Role.AGENCY, Role.ADMIN),
    ),
    NavItem(
        "facility.tickets",
        _l("Repair tickets"),
        _l("Take, work and close repair tickets; filter and find the overdue ones"),
        (Role.FACILITY, Role.SUPERVISOR),
    ),
    NavItem(
        "facility.grid",
        _l("Building grid"),
        _l("Open tickets per floor and zone, coloured by how long they have waited"),
        (Role.FACILITY, Role.SUPERVISOR),
    ),
    NavItem(
        "facility.rounds",
        _l("Inspection rounds"),
        _l("Rounds due and overdue per zone; walk a round on your phone"),
        (Role.FACILITY, Role.SUPERVISOR),
    ),
    NavItem(
        "facility.settings",
        _l("Facility settings"),
        _l("Round plans, repair due days, the working-day calendar, QR posters"),
        (Role.SUPERVISOR, Role.ADMIN),
    ),
    NavItem(
        "ops.index",
        _l("Jobs & notices"),
        _l("The scheduler, each job's last run and the notification outbox"),
        (Role.ADMIN,),
    ),
    NavItem(
        "reports.index",
        _l("Yearly report"),
        _l("On-time rate, defects fixed and the published sentences, with the records behind"),
        (Role.SUPERVISOR, Role.CLERK, Role.ADMIN),
    ),
    NavItem(
        "imports.upload",
        _l("Import records"),
        _l("Load past dispatches and defects from CSV"),
        (Role.SUPERVISOR, Role.ADMIN),
    ),
]


def items_for(user) -> list[NavItem]:
    """The entries this user may open, in order (only endpoints that exist)."""
    if not user or not user.is_authenticated:
        return []
    endpoints = current_app.view_functions
    return [i for i in NAV if user.role in i.roles and i.endpoint in endpoints]


ROLE_LABELS = {
    Role.CLERK: _l("Service-centre clerk"),
    Role.AGENCY: _l("Agency staff"),
    Role.FACILITY: _l("Facility staff"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.ADMIN: _l("Administrator"),
}

ROLE_INTROS = {
    Role.CLERK: _l("Log walk-in visitors, notify agencies and confirm their arrival."),
    Role.AGENCY: _l("See your agency's dispatches and send someone to the counter in time."),
    Role.FACILITY: _l("Walk the building zone by zone and work repair tickets to closure."),
    Role.SUPERVISOR: _l("Follow the figures, verify repairs and keep targets and settings."),
    Role.ADMIN: _l("Manage users, agencies, the building and API tokens."),
}


def init_app(app) -> None:
    """Make the navigation and role names available to every template."""

    @app.context_processor
    def navigation():
        from flask_login import current_user

        return {
            "nav_items": items_for(current_user),
            "role_label": lambda role: ROLE_LABELS.get(role, role),
            "role_intro": lambda role: ROLE_INTROS.get(role, ""),
        }
