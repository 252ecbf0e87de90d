"""Retention of personal data (個人資料保護法): a petitioner's name and phone are kept no longer
than their purpose needs. Times, agencies and outcomes stay, so every report still adds up."""

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from models.core import audit, db
from models.core.errors import InvalidInput
from models.core.outbox import Notification
from models.dispatch.tables import Dispatch, Visit

PERSONAL_FIELDS = ("petitioner_name", "petitioner_phone")


def retention_cutoff(at: datetime, days) -> datetime:
    """Visits created before this instant have outlived their retention period."""
    try:
        number = int(days)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"CITYDESK_RETENTION_DAYS must be a whole number (got {days!r})"
        ) from None
    if number < 1 or isinstance(days, bool):
        raise InvalidInput(f"CITYDESK_RETENTION_DAYS must be at least 1 (got {days!r})")
    return at - timedelta(days=number)


def expired_visits(cutoff: datetime, limit: int = 500) -> list[int]:
    """Ids of visits created before `cutoff` that still hold a name or a phone."""
    stmt = (
        select(Visit.id)
        .where(
            Visit.created_at < cutoff,
            Visit.personal_data_erased_at.is_(None),
            or_(Visit.petitioner_name.is_not(None), Visit.petitioner_phone.is_not(None)),
        )
        .order_by(Visit.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def erase_personal_data(visit_id: int, at: datetime) -> bool:
    """Erase one visit's name and phone (and any copy in its notices), audited; False when it
    was erased already. Flushes; the caller commits."""
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        return False
    erased = [f for f in PERSONAL_FIELDS if getattr(visit, f) is not None]
    result = db.session.execute(
        update(Visit)
        .where(Visit.id == visit_id, Visit.personal_data_erased_at.is_(None))
        .values(petitioner_name=None, petitioner_phone=None, personal_data_erased_at=at)
    )
    if result.rowcount != 1:
        return False
    notices = db.session.scalars(
        select(Notification).where(
            Notification.dispatch_id.in_(select(Dispatch.id).where(Dispatch.visit_id == visit_id))
        )
    )
    for notice in notices:
        if any(key in (notice.payload or {}) for key in PERSONAL_FIELDS):
            notice.payload = {k: v for k, v in notice.payload.items() if k not in PERSONAL_FIELDS}
    # The audit row names the fields, never their values: that would keep what is erased.
    audit.record(
        "visit.personal_data_erased",
        "visit",
        visit_id,
        {"fields": erased, "created_at": visit.created_at.isoformat()},
        {"personal_data_erased_at": at.isoformat()},
    )
    db.session.flush()
    db.session.expire(visit)
    return True
