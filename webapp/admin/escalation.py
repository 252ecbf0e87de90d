"""The escalation ladder page (issue 13): the default ladder and the agencies' own ladders,
kept by supervisors (and administrators, as targets and settings). Saving adds a version;
dispatches notified before keep the one they recorded (models.dispatch.ladder)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from models.core import db
from models.core.errors import DomainError
from models.dispatch import ladder
from models.dispatch.ladder import Rungs
from models.reference import Agency, agency_by_code
from webapp.admin import bp
from webapp.admin.forms import ConfirmForm, LadderForm, OverrideForm
from webapp.forms import choices
from webapp.i18n import current_locale
from webapp.security import OVERSIGHT_ROLES, acting_user, role_required


def describe(rungs: Rungs) -> dict[str, str]:
    """Each rung of a ladder in words, for the tables."""
    before, repeat, chief = rungs.reminder_before, rungs.repeat_every, rungs.chief_after
    return {
        "reminder": _("No reminder")
        if before is None
        else _("%(minutes)s min before", minutes=ladder.minutes(before)),
        "repeat": _("Once")
        if repeat is None
        else _("Every %(minutes)s min", minutes=ladder.minutes(repeat)),
        "supervisors": _("Yes") if rungs.breach_to_supervisors else _("No"),
        "chief": _("No notice")
        if chief is None
        else _("%(minutes)s min after", minutes=ladder.minutes(chief)),
    }


def _name(agency: Agency) -> str:
    return agency.display_name(current_locale())


def _agency_choices():
    stmt = (
        select(Agency)
        .where(Agency.active)
        .order_by(Agency.has_desk.desc(), Agency.sort_order, Agency.code)
    )
    return choices([("", "—")] + [(a.code, _name(a)) for a in db.session.scalars(stmt)])


def _saved_message(saved, scope: str) -> tuple[str, str]:
    if saved is None:
        return _("Nothing changed."), "info"
    return (
        _(
            "%(scope)s saved (version %(version)s); it applies to dispatches notified from now on.",
            scope=scope,
            version=saved.id,
        ),
        "success",
    )


@bp.route("/escalation", methods=["GET", "POST"])
@role_required(*OVERSIGHT_ROLES)
def escalation():
    """The default ladder and the agencies' own ladders: show, change, add."""
    default_form, override_form = LadderForm(prefix="default"), OverrideForm(prefix="agency")
    override_form.agency.choices = _agency_choices()
    try:
        if default_form.submit.data and default_form.validate_on_submit():
            saved = ladder.save_default(default_form.rungs(), by=acting_user())
            db.session.commit()
            flash(*_saved_message(saved, _("The default ladder")))
            return redirect(url_for("admin.escalation"))
        if override_form.submit.data and override_form.validate_on_submit():
            agency = agency_by_code(override_form.agency.data)
            saved = ladder.save_override(agency, override_form.rungs(), by=acting_user())
            db.session.commit()
            flash(*_saved_message(saved, _("The ladder of %(agency)s", agency=_name(agency))))
            return redirect(url_for("admin.escalation"))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    current, version = ladder.default_rungs()
    if not default_form.submit.data:
        default_form.fill(current)
    if not override_form.submit.data:
        chosen, own = request.args.get("agency", ""), None
        if chosen and chosen in {c.value for c in override_form.agency.choices}:
            override_form.agency.data = chosen
            own = ladder.override_for(agency_by_code(chosen).id)
        override_form.fill(own.rungs if own else current)
    return render_template(
        "admin/escalation.html",
        default_form=default_form,
        override_form=override_form,
        version=version,
        overrides=ladder.overrides(),
        history=ladder.history(),
        remove_form=ConfirmForm(),
        describe=describe,
    )


@bp.route("/escalation/agencies/<code>/remove", methods=["POST"])
@role_required(*OVERSIGHT_ROLES)
def escalation_remove(code: str):
    """An agency goes back to the default ladder (for its dispatches notified from now on)."""
    agency = db.session.scalar(select(Agency).where(Agency.code == code)) or abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            ladder.remove_override(agency, by=acting_user())
            db.session.commit()
            flash(
                _(
                    "%(agency)s follows the default ladder again, for dispatches notified from "
                    "now on.",
                    agency=_name(agency),
                ),
                "success",
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
    return redirect(url_for("admin.escalation"))
