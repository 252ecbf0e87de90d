"""CityDesk's domain: SQLAlchemy models and the operations on them, one package per area.

- `models.core` — database, clock, UTC type, errors, text/id helpers, audit trail, outbox
- `models.reference` — agencies, zones, floors, defect categories, targets, settings (and seed data)
- `models.users` — users, sign-in, API tokens
- `models.workdays` — Taiwan's working-day calendar
- `models.photos` — checking and storing uploaded photos
- `models.dispatch` — counter visits and dispatches, their clock, access and notices
- `models.facility` — repair tickets, inspection rounds, the building grid
- `models.reports` — the yearly figures, evidence, period close and import

Nothing here reads a Flask request or imports `webapp` or `jobs`. Operations change state and
flush; the caller (a view, a job, a CLI command or a test) commits.
"""

from models.core import db


def load_all() -> None:
    """Import every module that defines tables, so that the metadata is complete."""
    from models import dispatch, facility, reference, reports, users  # noqa: F401
    from models.core import audit, outbox  # noqa: F401
    from models.dispatch import display, escalation, late  # noqa: F401
    from models.reports import digest  # noqa: F401


load_all()

__all__ = ["db", "load_all"]
