"""Inspection-round pages: the schedule, starting a round, walking it floor by floor,
findings, and finishing it."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models import facility as fac
from models.core import db
from models.core.errors import DomainError
from models.facility import TICKET_MANAGER_ROLES, InspectionRound
from webapp.facility import bp
from webapp.facility.forms import ButtonForm, CheckForm, FindingForm, StartRoundForm
from webapp.facility.labels import ROUND_STATUS_LABELS
from webapp.facility.views.page_forms import (
    field_error,
    photo_hint,
    uploads_of,
)
from webapp.forms import choices
from webapp.i18n import current_locale
from webapp.security import acting_user, role_required

# --- inspection rounds --------------------------------------------------------------------


@bp.route("/rounds")
@role_required(*TICKET_MANAGER_ROLES)
def rounds():
    """Rounds due and overdue per zone, rounds under way and the latest rounds."""
    recent = fac.recent_rounds()
    findings = {r: len(found) for r, found in fac.findings_by_round(r.id for r in recent).items()}
    return render_template(
        "facility/rounds.html",
        schedule=fac.round_schedule(),
        recent=recent,
        findings=findings,
        labels=ROUND_STATUS_LABELS,
    )


@bp.route("/rounds/new", methods=["GET", "POST"])
@role_required(*TICKET_MANAGER_ROLES)
def round_new():
    """Start a round: pick the zone and the floors."""
    form = StartRoundForm()
    locale = current_locale()
    form.zone.choices = choices([(z.code, z.display_name(locale)) for z in fac.zones()])
    form.floors.choices = choices([(f.code, f.code) for f in fac.floors()])
    if request.method == "GET":
        form.zone.data = request.args.get("zone") or None
        form.floors.data = [f.code for f in fac.floors()]
    status = 200
    if form.validate_on_submit():
        try:
            zone = fac.zone_by_code(form.zone.data)
            chosen = [fac.floor_by_code(code) for code in form.floors.data]
            inspection = fac.start_round(zone, chosen, by=acting_user())
            db.session.commit()
            return redirect(url_for("facility.round_page", round_id=inspection.id))
        except DomainError as exc:
            status = field_error(form, exc, "floors")
    elif form.is_submitted():
        status = 422
    return render_template("facility/round_new.html", form=form), status


def _open_round(round_id: int) -> InspectionRound:
    inspection = fac.by_id(InspectionRound, round_id)
    if inspection is None:
        abort(404)
    return inspection


@bp.route("/rounds/<int:round_id>")
@role_required(*TICKET_MANAGER_ROLES)
def round_page(round_id: int):
    """A round, one floor at a time: each category is "no defect" or has findings."""
    inspection = _open_round(round_id)
    floors = fac.round_floors(inspection)
    checks = fac.checks_by_place(inspection)
    cats = fac.categories()
    done = {f.id: sum((f.id, c.id) in checks for c in cats) for f in floors}
    wanted = request.args.get("floor")
    current = next((f for f in floors if f.code == wanted), None)
    if current is None:
        current = next((f for f in floors if done[f.id] < len(cats)), floors[0] if floors else None)
    findings = {}
    for defect in fac.round_findings(inspection):
        findings.setdefault((defect.floor_id, defect.category_id), []).append(defect)
    category_done = {c.id: sum((f.id, c.id) in checks for f in floors) for c in cats}
    return render_template(
        "facility/round.html",
        inspection=inspection,
        floors=floors,
        current=current,
        categories=cats,
        checks=checks,
        done=done,
        category_done=category_done,
        findings=findings,
        missing=len(fac.missing_checks(inspection)),
        check_form=CheckForm(),
        finding_form=FindingForm(formdata=None),
        button=ButtonForm(),
    )


@bp.route("/rounds/<int:round_id>/check", methods=["POST"])
@role_required(*TICKET_MANAGER_ROLES)
def round_check(round_id: int):
    """Record "no defect" for one category on one floor."""
    inspection = _open_round(round_id)
    form = CheckForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        floor = fac.floor_by_code(form.floor.data)
        category = fac.category_by_code(form.category.data)
        fac.mark_no_defect(inspection, floor, category, by=acting_user())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("facility.round_page", round_id=round_id, floor=form.floor.data))


@bp.route("/rounds/<int:round_id>/finding", methods=["GET", "POST"])
@role_required(*TICKET_MANAGER_ROLES)
def round_finding(round_id: int):
    """Record a finding: a defect ticket, optionally fixed on the spot."""
    inspection = _open_round(round_id)
    try:
        floor = fac.floor_by_code(request.args.get("floor", ""))
        category = fac.category_by_code(request.args.get("category", ""))
    except DomainError:
        abort(404)
    form = FindingForm()
    status = 200
    if form.validate_on_submit():
        try:
            defect = fac.record_finding(
                inspection,
                floor,
                category,
                by=acting_user(),
                location=form.location.data,
                description=form.description.data,
                uploads=uploads_of(form.photos.data),
                fixed_on_spot=form.fixed_on_spot.data,
                fix_note=form.fix_note.data,
                after_uploads=uploads_of(form.after_photos.data),
            )
            db.session.commit()
            flash(_("Finding saved as ticket #%(id)s.", id=defect.id), "success")
            return redirect(url_for("facility.round_page", round_id=round_id, floor=floor.code))
        except DomainError as exc:
            if getattr(exc, "field", None):
                status = field_error(form, exc, "description", note="fix_note")
            else:
                db.session.rollback()
                flash(exc.message, "error")
                return redirect(url_for("facility.round_page", round_id=round_id))
    elif form.is_submitted():
        status = 422
    return (
        render_template(
            "facility/finding.html",
            form=form,
            inspection=inspection,
            floor=floor,
            category=category,
            photo_hint=photo_hint(),
        ),
        status,
    )


@bp.route("/rounds/<int:round_id>/finish", methods=["POST"])
@role_required(*TICKET_MANAGER_ROLES)
def round_finish(round_id: int):
    """Finish the round (every check recorded)."""
    inspection = _open_round(round_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        fac.finish_round(inspection, by=acting_user())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("facility.round_page", round_id=round_id))
    count = len(fac.round_findings(inspection))
    flash(
        _(
            "Round finished: %(zone)s, %(count)s findings.",
            zone=inspection.zone.display_name(current_locale()),
            count=count,
        ),
        "success",
    )
    return redirect(url_for("facility.rounds"))
