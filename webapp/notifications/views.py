"""Notifications views: thin wrappers around models.core.notices."""

import logging

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from models.core import db
from models.core.notices import (
    mark_all_read,
    mark_read,
    notice_link,
    notifications_for,
    unread_count,
)
from models.dispatch import Dispatch
from webapp.admin.forms import ConfirmForm
from webapp.filters import roc_datetime
from webapp.i18n import current_locale, reads_chinese
from webapp.notifications import bp
from webapp.paging import paginate
from webapp.security import acting_user

PAGE_SIZE = 50
log = logging.getLogger("citydesk.web")

TITLES = {
    "dispatch.notified": _l(
        "Dispatch #%(id)s “%(subject)s”: %(agency)s is asked to send someone by %(deadline)s"
    ),
    "dispatch.reminder": _l(
        "Reminder, dispatch #%(id)s “%(subject)s”: %(agency)s has not acknowledged; "
        "deadline %(deadline)s"
    ),
    "dispatch.breach": _l(
        "Overdue, dispatch #%(id)s “%(subject)s”: nobody from %(agency)s arrived by %(deadline)s"
    ),
    "dispatch.escalated": _l(
        "Escalation, dispatch #%(id)s “%(subject)s”: still nobody from %(agency)s "
        "since %(deadline)s"
    ),
    "visit.dissatisfied": _l(
        "Dissatisfied visitor: visit #%(visit)s, served by %(agency)s after %(wait)s minutes"
    ),
}


def describe(notice, dispatch: Dispatch | None) -> str:
    """One line saying what a notice is about, in the reader's language."""
    payload = notice.payload or {}
    template = TITLES.get(notice.kind)
    english = not reads_chinese()
    if template is None:
        title = (payload.get("title_en") if english else None) or payload.get("title")
        return str(title or payload.get("subject") or notice.kind)
    if dispatch is not None:
        agency = dispatch.agency.display_name(current_locale())
        deadline = roc_datetime(dispatch.deadline_at)
    else:
        agency = payload.get("agency_name_en" if english else "agency_name") or payload.get(
            "agency", ""
        )
        deadline = payload.get("deadline_at", "")
    wait = payload.get("wait_minutes")
    return str(template) % {
        "id": dispatch.id if dispatch is not None else payload.get("dispatch_id", "—"),
        "subject": (dispatch.subject if dispatch is not None else payload.get("subject")) or "—",
        "agency": agency,
        "deadline": deadline,
        "visit": payload.get("visit_id", "—"),
        "wait": "—" if wait is None else wait,
    }


@bp.route("/notifications")
def index():
    """The signed-in user's notifications, newest first."""
    rows = paginate(notifications_for(acting_user()), PAGE_SIZE)
    ids = {n.dispatch_id for n in rows.items if n.dispatch_id}
    dispatches = (
        {d.id: d for d in db.session.scalars(db.select(Dispatch).where(Dispatch.id.in_(ids)))}
        if ids
        else {}
    )
    items = [
        {
            "notice": n,
            "title": describe(n, dispatches.get(n.dispatch_id)),
            "link": notice_link(n),
        }
        for n in rows.items
    ]
    return render_template(
        "notifications/index.html",
        rows=rows,
        items=items,
        form=ConfirmForm(),
        unread=unread_count(acting_user()),
    )


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
def read(notification_id: int):
    """Mark one notification read (then open what it points to, when asked)."""
    notice = mark_read(acting_user(), notification_id)
    db.session.commit()
    link = notice_link(notice)
    if request.form.get("open") and link:
        return redirect(link)
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/read-all", methods=["POST"])
def read_all():
    """Mark every notification of the user read."""
    count = mark_all_read(acting_user())
    db.session.commit()
    if count:
        from flask import flash

        flash(_("%(count)s notifications marked read.", count=count), "success")
    return redirect(url_for("notifications.index"))


@bp.app_context_processor
def unread_notifications():
    """`unread_notifications()` in every template: the header's unread count."""

    def count() -> int:
        if not current_user or not current_user.is_authenticated:
            return 0
        try:
            return unread_count(acting_user())
        except SQLAlchemyError:  # an error page must still render when the database fails
            log.warning("unread count unavailable", exc_info=True)
            return 0

    return {"unread_notifications": count}
