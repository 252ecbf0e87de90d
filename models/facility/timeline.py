"""A ticket's timeline: its events (who did what, when) and the photos that go with them."""

from sqlalchemy import select

from models import photos
from models.core import clock, db
from models.facility.tables import Defect, DefectEvent, DefectPhoto, EventAction, PhotoKind
from models.users import User


def record_event(
    defect: Defect, action: EventAction, by: User | str, *, before: str | None, note="", **kw
) -> DefectEvent:
    """Add a step to the ticket's timeline, done by a user or by a named process ("jobs")."""
    user = None if isinstance(by, str) else by
    event = DefectEvent(
        defect_id=defect.id,
        at=clock.now(),
        action=action.value,
        from_state=before,
        to_state=defect.state,
        user_id=user.id if user else None,
        actor=user.username if user else by,
        note=note,
        **kw,
    )
    db.session.add(event)
    db.session.flush()
    return event


def store_photos(
    defect: Defect, checked, kind: PhotoKind, event: DefectEvent | None, by: User
) -> list[DefectPhoto]:
    """Write checked photos to disk and their rows, uploaded by `by`, attached to `event`."""
    rows = []
    for photo in checked:
        token = photos.new_token()
        photos.write(photo, token)
        row = DefectPhoto(
            defect_id=defect.id,
            event_id=event.id if event else None,
            kind=kind.value,
            token=token,
            format=photo.format,
            original_name=photo.filename,
            size_bytes=len(photo.data),
            width=photo.width,
            height=photo.height,
            uploaded_at=clock.now(),
            uploaded_by_id=by.id,
        )
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    return rows


def pending_after_photos(defect: Defect) -> list[DefectPhoto]:
    """After photos uploaded since the last fix, waiting to go with the next one."""
    return list(
        db.session.scalars(
            select(DefectPhoto).where(
                DefectPhoto.defect_id == defect.id,
                DefectPhoto.kind == PhotoKind.AFTER,
                DefectPhoto.event_id.is_(None),
            )
        )
    )


def events_of(defect: Defect) -> list[DefectEvent]:
    """The ticket's timeline, oldest first."""
    return list(
        db.session.scalars(
            select(DefectEvent).where(DefectEvent.defect_id == defect.id).order_by(DefectEvent.id)
        )
    )
