"""Agency views: the inbox, a dispatch's page and the acknowledgement (own agency only), and
the user's alert sound setting."""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.core import clock, db
from models.core.errors import DomainError
from models.dispatch import (
    EARLIER_COUNT_CAP,
    acknowledge,
    dispatch_for,
    earlier_count,
    today_for,
    visible_open_dispatches,
)
from models.users import Role, set_sound_alerts
from webapp.agency import bp
from webapp.agency.forms import SoundForm
from webapp.desk.forms import AcknowledgeForm
from webapp.desk.labels import timeline
from webapp.desk.views import flash_form_errors, render_history
from webapp.security import acting_user, role_required


@bp.route("/")
@role_required(Role.AGENCY)
def inbox():
    """The agency's open dispatches with their countdowns (new ones appear by themselves),
    and today's finished ones."""
    user = acting_user()
    at = clock.now()
    day = today_for(user, at)
    finished = sorted(day.finished, key=lambda d: d.ended_at or d.notified_at, reverse=True)
    form = AcknowledgeForm()
    form.responder.data = user.name
    return render_template(
        "agency/inbox.html",
        dispatches=visible_open_dispatches(user, at),
        finished=finished,
        counts=day.counts,
        form=form,
        now=at,
        earlier=db.session.scalar(earlier_count(user, at)),
        earlier_cap=EARLIER_COUNT_CAP,
    )


@bp.route("/dispatches/<int:dispatch_id>")
@role_required(Role.AGENCY)
def dispatch(dispatch_id: int):
    """One of the agency's dispatches with its timeline (another agency's is a 404)."""
    return dispatch_page(dispatch_for(acting_user(), dispatch_id))


def dispatch_page(dispatch):
    """The agency's page of one dispatch (also shown again with a form's errors)."""
    form = AcknowledgeForm(formdata=None)
    form.responder.data = acting_user().name
    return render_template(
        "agency/dispatch.html",
        dispatch=dispatch,
        events=timeline(dispatch, with_notes=False),
        form=form,
    )


@bp.route("/dispatches/<int:dispatch_id>/acknowledge", methods=["POST"])
@role_required(Role.AGENCY)
def acknowledge_dispatch(dispatch_id: int):
    """Name who is coming (and optionally when)."""
    dispatch = dispatch_for(acting_user(), dispatch_id)
    form = AcknowledgeForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("agency.dispatch", dispatch_id=dispatch.id))
    try:
        acknowledge(dispatch, form.responder.data, form.eta_minutes.data, by=acting_user())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("agency.inbox"))
    flash(
        _(
            "Acknowledged: %(name)s is on the way to the counter (dispatch #%(id)d).",
            name=dispatch.responder,
            id=dispatch.id,
        ),
        "success",
    )
    return redirect(url_for("agency.inbox"))


@bp.route("/history")
@role_required(Role.AGENCY)
def history():
    """The agency's own dispatches, filtered by dates, state and on time or late."""
    return render_history("agency.history", choose_agency=False)


@bp.route("/sound", methods=["POST"])
@role_required(Role.AGENCY)
def sound_alerts():
    """Switch the user's alert sound on or off (answers JSON to the inbox's script)."""
    form = SoundForm()
    wants_json = request.accept_mimetypes.best == "application/json"
    if not form.validate_on_submit():
        if wants_json:
            return jsonify(message=_("Choose on or off.")), 422
        flash(_("Choose on or off."), "error")
        return redirect(url_for("agency.inbox"))
    set_sound_alerts(acting_user(), form.on.data == "1")
    db.session.commit()
    if wants_json:
        return jsonify(sound_alerts=acting_user().sound_alerts)
    flash(
        _("Sound alerts switched on.") if form.on.data == "1" else _("Sound alerts switched off.")
    )
    return redirect(url_for("agency.inbox"))
