"""The navigation: each area's entry point and the roles it is for (header and home page)."""

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from models.user import Role


@dataclass(frozen=True)
class NavItem:
    """One entry: the endpoint, its label, a one-line description and who sees it."""

    endpoint: str
    label: object
    description: object
    roles: tuple[str, ...]


NAV: list[NavItem] = [
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
        "admin.settings",
        _l("Targets & settings"),
        _l("Yearly on-time targets and the dispatch time limit"),
        (Role.SUPERVISOR, Role.ADMIN),
    ),
    NavItem(
        "admin.audit",
        _l("Audit trail"),
        _l("Every change and sign-in, filterable"),
        (Role.SUPERVISOR, Role.ADMIN),
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
