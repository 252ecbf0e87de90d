"""Look-ups by code (categories, zones, floors, people) and the lists the pages and API offer."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from models import reference
from models.core import db
from models.core.errors import NotFound
from models.core.text import is_storable
from models.facility.access import TICKET_MANAGER_ROLES
from models.reference import DefectCategory, Floor, Zone
from models.users import User

CODE_LIMIT = 64


def as_code(value) -> str | None:
    """A code as typed (trimmed), or None when it cannot be one (empty, too long, not storable)."""
    value = (value or "").strip()
    if not value or len(value) > CODE_LIMIT or not is_storable(value):
        return None
    return value


def find_by_code(model, code, *, active_only: bool = True):
    """A category, zone or floor by its code, or None."""
    key = as_code(code)
    if key is None:
        return None
    stmt = select(model).where(model.code == key)
    if active_only and hasattr(model, "active"):
        stmt = stmt.where(model.active)
    return db.session.scalar(stmt)


def category_by_code(code: str) -> DefectCategory:
    """A defect category by its stable code, else NotFound."""
    row = find_by_code(DefectCategory, code)
    if row is None:
        raise NotFound(_l("Unknown category: %(code)s", code=code))
    return row


def zone_by_code(code: str) -> Zone:
    """An active zone by code, else NotFound."""
    row = find_by_code(Zone, code)
    if row is None:
        raise NotFound(_l("Unknown zone: %(code)s", code=code))
    return row


def floor_by_code(code: str) -> Floor:
    """An active floor by code, else NotFound."""
    row = find_by_code(Floor, code)
    if row is None:
        raise NotFound(_l("Unknown floor: %(code)s", code=code))
    return row


def user_by_username(username: str) -> User | None:
    """A user by exact username, or None."""
    key = as_code(username)
    return key and db.session.scalar(select(User).where(User.username == key))


def zones(active_only: bool = True) -> list[Zone]:
    """Zones in their order."""
    stmt = select(Zone).order_by(Zone.sort_order, Zone.code)
    if active_only:
        stmt = stmt.where(Zone.active)
    return list(db.session.scalars(stmt))


def floors(active_only: bool = True) -> list[Floor]:
    """Floors in the one order (models.reference.floors: from the lowest up)."""
    return reference.floors(active_only)


def active_users(*roles: str) -> list[User]:
    """Active users of these roles, oldest account first."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.active, User.role.in_([str(r) for r in roles]))
            .order_by(User.id)
        )
    )


def ticket_managers() -> list[User]:
    """People a ticket can be assigned to: active facility staff and supervisors."""
    return active_users(*TICKET_MANAGER_ROLES)
