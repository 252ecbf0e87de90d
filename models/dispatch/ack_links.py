"""Acknowledgement links (issue 13): a personal link in the agency's notice e-mail that
acknowledges the dispatch without signing in.

Each e-mail recipient of a dispatch's `notified` notice gets its own link, made in the same
transaction that writes the notice to the outbox (so a mail never goes out without a valid
link). The clear token travels only in that notice's payload (the relay drops it once the mail
is sent); this table keeps its SHA-256, bound to the dispatch, the agency and the recipient.

Opening a link changes nothing (mail scanners open links). Using it acknowledges through the
inbox's own operation (`operations.acknowledge_by_link`), once, while the dispatch is open and
the recipient is still one of its agency's; the checks are made at use time, not by a timer.
"""

import enum
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.core import audit, clock, db
from models.core.errors import DomainError
from models.core.notices import ack_path
from models.dispatch.tables import Dispatch
from models.reference import Agency
from models.users import Role, User

# The notice payload's key for the link's path (it holds the clear token).
PAYLOAD_KEY = "ack_path"
MAX_TOKEN = 200  # longer is not one of ours: refused without a lookup
ACTOR_PREFIX = "ack-link:"


class AckLink(db.Model):
    """One recipient's single-use link to acknowledge one dispatch."""

    __tablename__ = "ack_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatch.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    recipient: Mapped[str] = mapped_column(String(500))  # the e-mail address
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    dispatch: Mapped[Dispatch] = relationship(lazy="joined")
    agency: Mapped[Agency] = relationship()
    user: Mapped[User | None] = relationship()


class Refusal(enum.StrEnum):
    """Why a link cannot acknowledge (the page says which)."""

    UNKNOWN = "unknown"  # no such link
    USED = "used"  # it acknowledged already
    ENDED = "ended"  # the dispatch arrived, was cancelled or transferred
    FOREIGN = "foreign"  # the recipient is no longer one of the dispatch's agency's


# The answer to each refusal: an unknown link is not found; a used one, or one whose dispatch
# ended, is gone; one whose recipient left the agency may no longer act.
REFUSAL_STATUS = {Refusal.UNKNOWN: 404, Refusal.USED: 410, Refusal.ENDED: 410, Refusal.FOREIGN: 403}


class LinkRefused(DomainError):
    """An acknowledgement link that cannot acknowledge; `reason` says why."""

    code = "link_refused"

    def __init__(self, reason: Refusal, link: "AckLink | None" = None):
        super().__init__(str(reason))
        self.reason = reason
        self.link = link
        self.status = REFUSAL_STATUS[reason]


def hash_token(clear: str) -> str:
    """The stored form of a token (SHA-256, hex)."""
    return hashlib.sha256(clear.encode()).hexdigest()


def new_token() -> str:
    """A fresh clear token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def payload_for(token: str) -> dict:
    """What a notice's payload gains to carry the link."""
    return {PAYLOAD_KEY: ack_path(token)}


def without_token(payload: dict) -> dict:
    """A notice's payload with the link (and so the clear token) taken out."""
    return {k: v for k, v in payload.items() if k != PAYLOAD_KEY}


def record_ack_link(
    dispatch: Dispatch,
    token: str,
    recipient: str,
    *,
    user_id: int | None = None,
    notification_id: int | None = None,
) -> AckLink:
    """Store a link's hash, bound to the dispatch, its agency and the recipient (flushes)."""
    link = AckLink(
        token_hash=hash_token(token),
        dispatch_id=dispatch.id,
        agency_id=dispatch.agency_id,
        recipient=recipient,
        user_id=user_id,
        notification_id=notification_id,
        created_at=clock.now(),
    )
    db.session.add(link)
    db.session.flush()
    return link


def ack_link_for(token: str) -> AckLink | None:
    """The link for a clear token, or None; reads only (opening a link changes nothing)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    return db.session.scalar(select(AckLink).where(AckLink.token_hash == hash_token(token)))


def _still_recipient(link: AckLink, dispatch: Dispatch) -> bool:
    """Whether the link's recipient still belongs to the dispatch's agency."""
    if link.agency_id != dispatch.agency_id:
        return False
    if link.user_id is not None:
        user = link.user
        return bool(user and user.active and user.agency_id == dispatch.agency_id)
    address = link.recipient.strip().lower()
    return address in {a.lower() for a in dispatch.agency.email_list}


def refusal(link: AckLink | None) -> Refusal | None:
    """Why `link` cannot acknowledge now (None: it can, or its dispatch is acknowledged)."""
    if link is None:
        return Refusal.UNKNOWN
    if link.used_at is not None:
        return Refusal.USED
    if not link.dispatch.is_open:
        return Refusal.ENDED
    if not _still_recipient(link, link.dispatch):
        return Refusal.FOREIGN
    return None


def link_actor(link: AckLink, ip: str | None = None) -> audit.Actor:
    """Who acts when a link is used: its recipient (`ack-link:<address>`)."""
    return audit.Actor(link.user_id, (ACTOR_PREFIX + link.recipient)[:120], ip)


def acting_user(link: AckLink) -> User | None:
    """The `by=` of an acknowledgement by link: the bound user when it is one of the agency's
    active staff, else None (the link itself is the authority)."""
    user = link.user
    if (
        user is not None
        and user.active
        and user.role == Role.AGENCY
        and user.agency_id == link.dispatch.agency_id
    ):
        return user
    return None


def used_link(dispatch: Dispatch) -> AckLink | None:
    """The link that acknowledged `dispatch`, if one did."""
    if dispatch.acknowledged_at is None:
        return None
    return db.session.scalar(
        select(AckLink).where(AckLink.dispatch_id == dispatch.id, AckLink.used_at.is_not(None))
    )
