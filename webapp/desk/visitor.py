"""The visitor at the counter: one-tap care notes while they wait (代為接待) and the full-screen
page on which they give their verdict after the arrival (質化指標)."""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.core import db
from models.core.errors import DomainError
from models.dispatch import (
    SCORE_VALUES,
    add_care_note,
    care_note,
    rate_visit,
    rating_for,
    visit_for,
    visit_of,
)
from models.users import Role
from webapp.desk import bp
from webapp.desk.forms import CareNoteForm, RatingForm
from webapp.desk.views import _dispatch_action
from webapp.i18n import current_locale
from webapp.security import acting_user, role_required


@bp.route("/dispatches/<int:dispatch_id>/care", methods=["POST"])
@role_required(Role.CLERK)
def dispatch_care(dispatch_id: int):
    """A one-tap care note while the visitor waits (已請入座, 已提供茶水...)."""

    def run(dispatch, form):
        add_care_note(visit_of(dispatch), form.code.data, by=acting_user(), dispatch=dispatch)
        return dispatch

    def done(_dispatch):
        chosen = care_note(request.form.get("code", ""))
        label = chosen.label(current_locale()) if chosen else ""
        return _("Recorded: %(note)s", note=label)

    return _dispatch_action(dispatch_id, CareNoteForm(), run, done)


@bp.route("/visits/<int:visit_id>/rating", methods=["GET", "POST"])
@role_required(Role.CLERK)
def rating(visit_id: int):
    """The screen turned to the visitor: three large buttons (滿意 / 普通 / 不滿意) and
    nothing else, then a thank-you. One answer per visit: a second one is a 409."""
    visit = visit_for(acting_user(), visit_id)
    form = RatingForm()
    problem, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                rate_visit(visit, form.score.data, by=acting_user())
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                problem, status = exc.message, exc.status
            else:
                return redirect(url_for("desk.rating", visit_id=visit.id))
        else:
            problem, status = _("Choose one of the three answers."), 422
    served = visit.served_dispatch
    return render_template(
        "desk/rating.html",
        visit=visit,
        served=served,
        answer=rating_for(visit),
        scores=SCORE_VALUES,
        form=form,
        problem=problem,
        back=url_for("desk.dispatch", dispatch_id=served.id) if served else None,
    ), status
