"""The list of late reasons a supervisor keeps (/admin/late-reasons): add a reason, rename it,
take it out of use or back; `other` always stays (models.dispatch.late)."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from models.core import db
from models.core.errors import DomainError
from models.dispatch.late import (
    MAX_LABEL,
    OTHER,
    LateReason,
    add_late_reason,
    late_reasons,
    update_late_reason,
)
from models.users import Role
from webapp.admin import bp
from webapp.forms import Form
from webapp.security import acting_user, role_required


class LateReasonLabelsForm(Form):
    """A reason's labels in both languages."""

    label_zh = StringField(_l("Chinese label"), validators=[DataRequired(), Length(max=MAX_LABEL)])
    label_en = StringField(_l("English label"), validators=[DataRequired(), Length(max=100)])


class NewLateReasonForm(LateReasonLabelsForm):
    """A new reason: its code (kept for good) and labels."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=40)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Add the reason"))


class EditLateReasonForm(LateReasonLabelsForm):
    """Rename a reason, or take it out of use."""

    active = BooleanField(_l("In use (agencies can choose it)"))
    submit = SubmitField(_l("Save"))


@bp.route("/late-reasons", methods=["GET", "POST"])
@role_required(Role.SUPERVISOR)
def late_reasons_page():
    """The reasons agencies choose from when a dispatch was late; add one."""
    form = NewLateReasonForm()
    if form.validate_on_submit():
        try:
            reason = add_late_reason(
                form.code.data, form.label_zh.data, form.label_en.data, by=acting_user()
            )
            db.session.commit()
            flash(_("Reason %(label)s added.", label=reason.label_zh), "success")
            return redirect(url_for("admin.late_reasons_page"))
        except DomainError as exc:
            db.session.rollback()
            form.code.errors.append(exc.message)
    return render_template(
        "admin/late_reasons.html", reasons=late_reasons(), form=form, other=OTHER
    ), (422 if form.errors else 200)


@bp.route("/late-reasons/<code>", methods=["GET", "POST"])
@role_required(Role.SUPERVISOR)
def late_reason_edit(code: str):
    """Rename a reason or take it out of use (its code and its counts stay)."""
    reason = db.session.scalar(select(LateReason).where(LateReason.code == code)) or abort(404)
    form = EditLateReasonForm(obj=reason)
    if form.validate_on_submit():
        try:
            update_late_reason(
                reason,
                label_zh=form.label_zh.data,
                label_en=form.label_en.data,
                active=form.active.data,
                by=acting_user(),
            )
            db.session.commit()
            flash(_("Reason %(label)s saved.", label=reason.label_zh), "success")
            return redirect(url_for("admin.late_reasons_page"))
        except DomainError as exc:
            db.session.rollback()
            form.active.errors.append(exc.message)
    return render_template("admin/late_reason_form.html", form=form, reason=reason, other=OTHER), (
        422 if form.errors else 200
    )
