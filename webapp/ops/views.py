"""Operations views: what the jobs did, read from the database (any worker shows the same)."""

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from jobs.records import JobStatus, current_lease
from models.core import clock, db
from models.core.errors import DomainError
from models.core.notices import dead_notices, oldest_pending, outbox_counts, retry
from models.core.outbox import Channel, DeliveryState, Notification
from models.users import Role
from webapp.admin.forms import ConfirmForm
from webapp.ops import bp
from webapp.paging import paginate
from webapp.security import role_required

PAGE_SIZE = 50


def schedule_text(schedule: str) -> str:
    """A stored schedule (`every:5`, `daily:03:30`) in the reader's language."""
    kind, _sep, value = (schedule or "").partition(":")
    if kind == "every":
        return _("every %(seconds)s s", seconds=value)
    if kind == "daily":
        return _("daily at %(time)s (Taipei time)", time=value)
    return schedule or "—"


LOCK_MODES = {"lease": _l("lease row"), "advisory-lock": _l("PostgreSQL advisory lock")}


@bp.route("/")
@role_required(Role.ADMIN)
def index():
    """The scheduler (who holds it, each job's last and next run) and the outbox."""
    now = clock.now()
    lease = current_lease()
    counts = outbox_counts()
    dead = paginate(dead_notices(), PAGE_SIZE)
    jobs = list(db.session.scalars(select(JobStatus).order_by(JobStatus.name)))
    mail_configured = bool(str(current_app.config.get("MAIL_SERVER") or "").strip())
    return render_template(
        "ops/index.html",
        now=now,
        lease=lease,
        lease_alive=lease is not None and lease.expires_at > now,
        jobs=jobs,
        counts=counts,
        channels=[c.value for c in Channel],
        states=[s.value for s in DeliveryState],
        oldest=oldest_pending(),
        dead=dead,
        mail_configured=mail_configured,
        mail_waiting=counts.get(Channel.EMAIL.value, {}).get(DeliveryState.PENDING.value, 0),
        form=ConfirmForm(),
        schedule_text=schedule_text,
        lock_mode=lambda mode: LOCK_MODES.get(mode, mode),
    )


@bp.route("/outbox/<int:notification_id>/retry", methods=["POST"])
@role_required(Role.ADMIN)
def outbox_retry(notification_id: int):
    """Send a dead notice again."""
    if ConfirmForm().validate_on_submit():
        try:
            retry(notification_id)
            db.session.commit()
            flash(_("Notice %(id)s will be sent again.", id=notification_id), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
    return redirect(url_for("ops.index"))


@bp.route("/outbox/retry-dead", methods=["POST"])
@role_required(Role.ADMIN)
def outbox_retry_all():
    """Send every dead notice again."""
    if ConfirmForm().validate_on_submit():
        ids = list(
            db.session.scalars(
                select(Notification.id).where(Notification.state == DeliveryState.DEAD.value)
            )
        )
        for notification_id in ids:
            retry(notification_id)
        db.session.commit()
        flash(_("%(count)s notices will be sent again.", count=len(ids)), "success")
    return redirect(url_for("ops.index"))
