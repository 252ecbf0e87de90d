"""What a notice says: the e-mail (Traditional Chinese, English below, a link to the dispatch)
and the webhook's JSON event. Built from the notice and the dispatch as it stands now."""

import json
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from flask import current_app
from jinja2 import TemplateNotFound
from sqlalchemy import select

from jobs.config import MailSettings
from models.core import clock, db
from models.core.notices import absolute_url, notice_link
from models.core.outbox import Channel, Notification
from models.core.text import N_, in_each_language
from models.dispatch import Dispatch
from models.dispatch.ack_links import PAYLOAD_KEY as ACK_KEY
from models.dispatch.ack_links import without_token
from models.reference import Agency


@dataclass
class Prepared:
    """A claimed notice, ready to travel without touching the database."""

    id: int
    attempts: int
    channel: str
    recipient: str
    event_key: str
    kind: str
    dispatch_id: int | None
    email: EmailMessage | None = None
    body: bytes | None = None  # the webhook's JSON
    secret: str = ""
    problem: str | None = None  # why it can never be delivered as it is
    # The payload to keep once sent: without the clear token of an acknowledgement link.
    payload_after: dict | None = None

    @classmethod
    def of(cls, notice: Notification, attempts: int, **rendered) -> "Prepared":
        """The claimed notice's own fields, with what was rendered (or the problem)."""
        return cls(
            id=notice.id,
            attempts=attempts,
            channel=notice.channel,
            recipient=notice.recipient,
            event_key=notice.event_key,
            kind=notice.kind,
            dispatch_id=notice.dispatch_id,
            **rendered,
        )


def _local(value: datetime | None, roc: bool) -> str:
    if value is None:
        return "—"
    if roc:
        return clock.roc_datetime(value)
    return f"{clock.local(value):%Y-%m-%d %H:%M}"


def _instant(text) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def _context(notice: Notification, dispatch: Dispatch | None) -> dict:
    payload = notice.payload or {}
    agency = dispatch.agency if dispatch else None
    notified = dispatch.notified_at if dispatch else _instant(payload.get("notified_at"))
    deadline = dispatch.deadline_at if dispatch else _instant(payload.get("deadline_at"))
    link = notice_link(notice)
    ack = payload.get(ACK_KEY)
    open_now = dispatch is None or dispatch.is_open
    return {
        "notice": notice,
        "payload": payload,
        "dispatch": dispatch,
        "agency_zh": agency.name_zh if agency else payload.get("agency_name", ""),
        "agency_en": agency.name_en if agency else payload.get("agency_name_en", ""),
        "number": dispatch.id if dispatch else payload.get("dispatch_id", "—"),
        "matter": (dispatch.subject if dispatch else payload.get("subject")) or "—",
        "notified_roc": _local(notified, True),
        "notified_en": _local(notified, False),
        "deadline_roc": _local(deadline, True),
        "deadline_en": _local(deadline, False),
        "deadline_hm": clock.local(deadline).strftime("%H:%M") if deadline else "—",
        "minutes_late": payload.get("minutes_late"),
        "ended": _ended(dispatch),
        "url": absolute_url(link) if link else absolute_url("/"),
        # The recipient's own acknowledgement link, while the dispatch can still be acknowledged.
        "ack_url": absolute_url(ack) if isinstance(ack, str) and open_now else None,
    }


# How a dispatch ended, as a delayed e-mail says it (the catalogue's words, in both languages).
ENDED = {
    "arrived": N_("someone arrived"),
    "cancelled": N_("cancelled"),
    "transferred": N_("transferred to another agency"),
}


def _ended(dispatch: Dispatch | None) -> dict | None:
    """How a dispatch ended, when a delayed notice goes out after it did."""
    if dispatch is None or dispatch.is_open:
        return None
    message = ENDED.get(dispatch.state)
    zh, en = in_each_language(message) if message else (dispatch.state, dispatch.state)
    at = dispatch.arrived_at or dispatch.ended_at
    return {"zh": zh, "en": en, "roc": _local(at, True), "en_at": _local(at, False)}


def render_email(notice: Notification, dispatch: Dispatch | None, mail: MailSettings):
    """The e-mail for a notice: templates/mail/<kind>.txt (else generic.txt)."""
    env = current_app.jinja_env
    try:
        template = env.get_template(f"mail/{notice.kind}.txt")
    except TemplateNotFound:
        template = env.get_template("mail/generic.txt")
    module = template.make_module(_context(notice, dispatch))
    subject = " ".join(str(getattr(module, "subject", notice.kind)).split())
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = mail.sender
    message["To"] = notice.recipient
    message["Date"] = format_datetime(clock.now())
    domain = parseaddr(mail.sender)[1].rpartition("@")[2] or "citydesk.local"
    # The same notice always has the same Message-ID: a resend after a crash can be recognised.
    stamp = int(notice.created_at.timestamp())
    message["Message-ID"] = f"<citydesk.{notice.id}.{stamp}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-CityDesk-Event"] = notice.event_key
    message["X-CityDesk-Notification"] = str(notice.id)
    message.set_content(str(module).strip() + "\n")
    return message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def webhook_event(notice: Notification, dispatch: Dispatch | None) -> bytes:
    """The JSON event POSTed to an agency (the exact bytes that are signed)."""
    event = {
        "id": notice.id,
        "event": notice.kind,
        "event_key": notice.event_key,
        "created_at": _iso(notice.created_at),
        "data": notice.payload or {},
    }
    link = notice_link(notice)
    if link:
        event["url"] = absolute_url(link)
    if dispatch is not None:
        event["dispatch"] = {
            "id": dispatch.id,
            "agency": dispatch.agency.code,
            "agency_name": dispatch.agency.name_zh,
            "agency_name_en": dispatch.agency.name_en,
            "subject": dispatch.subject,
            "state": dispatch.state,
            "notified_at": _iso(dispatch.notified_at),
            "sla_seconds": dispatch.sla_seconds,
            "deadline_at": _iso(dispatch.deadline_at),
            "acknowledged_at": _iso(dispatch.acknowledged_at),
            "arrived_at": _iso(dispatch.arrived_at),
            "overdue": dispatch.is_overdue(),
        }
    return json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _webhook_agency(notice: Notification, dispatch: Dispatch | None) -> Agency | None:
    agency = db.session.scalar(
        select(Agency).where(Agency.webhook_url == notice.recipient).order_by(Agency.id)
    )
    return agency or (dispatch.agency if dispatch else None)


def prepare(
    notice: Notification, dispatch: Dispatch | None, attempts: int, mail: MailSettings
) -> Prepared:
    """Render a claimed notice (`dispatch`: its dispatch as loaded, None when it has none) for
    its channel, or name the problem that stops it for good."""
    ready = Prepared.of(notice, attempts)
    if notice.channel == Channel.IN_APP:
        if notice.user_id is None:
            ready.problem = "an in-app notice needs a user"
    elif notice.channel == Channel.EMAIL:
        if "@" not in parseaddr(notice.recipient)[1]:
            ready.problem = f"not an e-mail address: {notice.recipient!r}"
        else:
            ready.email = render_email(notice, dispatch, mail)
            if ACK_KEY in (notice.payload or {}):
                ready.payload_after = without_token(notice.payload)
    elif notice.channel == Channel.WEBHOOK:
        agency = _webhook_agency(notice, dispatch)
        if urlsplit(notice.recipient).scheme not in {"http", "https"}:
            ready.problem = f"not an http(s) URL: {notice.recipient!r}"
        elif agency is None or not agency.webhook_secret:
            name = agency.code if agency else "?"
            ready.problem = (
                f"agency {name} has no webhook secret: set one on the agency page, then retry"
            )
        else:
            ready.secret = agency.webhook_secret
            ready.body = webhook_event(notice, dispatch)
    else:
        ready.problem = f"unknown channel {notice.channel!r}"
    return ready
