"""Display links: read-only access to the live board for a wall screen with no one signed in.

A link is a secret made by an administrator; only its SHA-256 is stored, so the clear link is
shown once. A revoked link stops working at the screen's next poll. What a display may show is
decided where it is served (no visitor, subject, names or care flags); this module only says
which link is good.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from models.core import audit, clock, db
from models.core.text import clean_text
from models.dispatch.queries import open_dispatches
from models.dispatch.tables import Dispatch
from models.users import User

# Writing last_used_at on every 2-second poll would be a write per screen per poll.
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_NAME = 100


class DisplayLink(db.Model):
    """A revocable link that shows the live board on a wall screen."""

    __tablename__ = "display_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    created_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


def _hash(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def create_display_link(name: str, *, by: User) -> tuple[DisplayLink, str]:
    """Make a display link; returns the row and the clear secret (shown once, never stored)."""
    name = clean_text(name, _("Screen"), limit=MAX_NAME, required=True)
    clear = "wall_" + secrets.token_urlsafe(32)
    link = DisplayLink(name=name, token_hash=_hash(clear), created_by_id=by.id)
    db.session.add(link)
    db.session.flush()
    audit.record("display_link.create", "display_link", link.id, None, {"name": name})
    return link, clear


def revoke_display_link(link: DisplayLink, *, by: User) -> None:
    """Revoke a display link for good: the screen shows that the link no longer works."""
    if link.revoked_at is None:
        link.revoked_at = clock.now()
        audit.record("display_link.revoke", "display_link", link.id, None, {"name": link.name})
        db.session.flush()


def display_link_for(clear: str) -> DisplayLink | None:
    """The active display link for a clear secret, else None; notes when it was last used."""
    if not clear or len(clear) > 200:
        return None
    link = db.session.scalar(select(DisplayLink).where(DisplayLink.token_hash == _hash(clear)))
    if link is None or not link.is_active:
        return None
    now = clock.now()
    if link.last_used_at is None or now - link.last_used_at >= LAST_USED_PRECISION:
        link.last_used_at = now
        db.session.flush()
    return link


def display_links() -> list[DisplayLink]:
    """Every display link, newest first (revoked ones stay listed)."""
    return list(db.session.scalars(select(DisplayLink).order_by(DisplayLink.id.desc())))


def dispatches_on_display(at: datetime | None = None):
    """Every open dispatch, overdue first (not seniors first, as the clerks' board does: the
    order would tell passers-by what the display does not show)."""
    stmt = open_dispatches(at).options(selectinload(Dispatch.visit), selectinload(Dispatch.agency))
    return list(db.session.scalars(stmt))
