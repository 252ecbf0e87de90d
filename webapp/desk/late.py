"""Why a dispatch was late, on the dispatch pages: the form the agency (its own dispatch page)
and the clerk (the desk's) use, shown only while the dispatch counts as late, and its POST.

Both pages include templates/desk/_late_reason.html, which asks `late_reason_panel(dispatch)`
what to show; the operation is `models.dispatch.late.set_late_reason` (409 when not late).
"""

from flask import flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from models.core import clock, db
from models.core.errors import DomainError, InvalidInput
from models.dispatch import dispatch_for
from models.dispatch.late import (
    MAX_NOTE,
    late_reason_of,
    late_reasons,
    may_record_late_reason,
    set_late_reason,
)
from models.users import Role
from webapp.desk import bp
from webapp.desk.views import dispatch_page
from webapp.forms import Form, choices, field_error
from webapp.i18n import current_locale
from webapp.security import acting_user, role_required


class LateReasonForm(Form):
    """Why the dispatch was late: one reason from the list and a note."""

    reason = SelectField(_l("Why late"), validators=[DataRequired()])
    note = TextAreaField(
        _l("Explanation"),
        validators=[Optional(), Length(max=MAX_NOTE)],
        render_kw={"rows": 2, "maxlength": MAX_NOTE},
    )
    submit = SubmitField(_l("Save the reason"))


def late_reason_form(current=None) -> LateReasonForm:
    """The form with the reasons in use, preset to the current reason (if any)."""
    form = LateReasonForm()
    locale = current_locale()
    reasons = [(r.code, r.label(locale)) for r in late_reasons(active_only=True)]
    form.reason.choices = choices([("", _("Choose a reason")), *reasons])
    if current is not None and not form.is_submitted():
        form.reason.data = current.reason.code
        form.note.data = current.note
    return form


def late_reason_panel(dispatch) -> dict:
    """What the dispatch pages show about why it was late: whether it is late, the current
    reason, and the form when the signed-in user may record one."""
    late = dispatch.on_time_at(clock.now()) is False
    current = late_reason_of(dispatch.id)
    user = acting_user()
    form = None
    if late and may_record_late_reason(user, dispatch):
        form = g.get("late_reason_form") or late_reason_form(current)
    side = "agency" if user.role == Role.AGENCY else "desk"
    return {
        "late": late,
        "current": current,
        "form": form,
        "action": url_for(f"{side}.late_reason", dispatch_id=dispatch.id),
    }


def record_late_reason(dispatch_id: int, page: str, render):
    """Validate the form, record the reason, commit, flash, back to the dispatch's `page`. A
    form with bad input comes back on the page (`render(dispatch)`) with the message at its
    field and the panel open."""
    dispatch = dispatch_for(acting_user(), dispatch_id)
    target = url_for(page, dispatch_id=dispatch.id)
    form = late_reason_form()
    if not form.validate_on_submit():
        return _with_errors(dispatch, form, render)
    try:
        set_late_reason(dispatch, form.reason.data, form.note.data or "", by=acting_user())
        db.session.commit()
    except InvalidInput as exc:
        db.session.rollback()
        field_error(form, exc.message, getattr(exc, "field", None))
        return _with_errors(dispatch_for(acting_user(), dispatch_id), form, render)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(target)
    flash(_("The reason for the late dispatch is saved."), "success")
    return redirect(target)


def _with_errors(dispatch, form, render):
    g.late_reason_form = form  # what late_reason_panel shows instead of a fresh form
    return render(dispatch), 422


@bp.app_context_processor
def late_reason_helpers():
    """`late_reason_panel` for the dispatch pages of the desk and the agency."""
    return {"late_reason_panel": late_reason_panel}


@bp.route("/dispatches/<int:dispatch_id>/late-reason", methods=["POST"])
@role_required(Role.CLERK)
def late_reason(dispatch_id: int):
    """A clerk records why the dispatch was late (for the agency, e.g. told by phone)."""
    return record_late_reason(dispatch_id, "desk.dispatch", dispatch_page)
