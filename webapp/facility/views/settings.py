"""Facility settings pages: inspection plans, due days, the working-day calendar, QR posters."""

import io
from datetime import date

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from models import facility as fac
from models import workdays
from models.core import clock, db
from models.core.errors import DomainError
from webapp.facility import bp
from webapp.facility.forms import ButtonForm, CalendarDayForm, DueDaysForm, PlanForm
from webapp.facility.posters import poster_svg
from webapp.facility.views.page_forms import field_error
from webapp.forms import choices
from webapp.i18n import current_locale
from webapp.security import OVERSIGHT_ROLES, role_required

# --- settings, calendar, posters ----------------------------------------------------------


@bp.route("/settings")
@role_required(*OVERSIGHT_ROLES)
def settings():
    """Inspection plans per zone and due days per category."""
    plans = fac.plans_by_zone()
    plan_forms = []
    for zone in fac.zones():
        form = PlanForm(prefix=f"plan-{zone.code}")
        plan = plans.get(zone.id)
        form.zone.data = zone.code
        form.frequency_days.data = plan.frequency_days if plan else 7
        form.active.data = plan.active if plan else False
        plan_forms.append((zone, form))
    due_forms = []
    for category in fac.categories():
        form = DueDaysForm(prefix=f"due-{category.code}")
        form.category.data, form.days.data = category.code, category.due_working_days
        due_forms.append((category, form))
    return render_template("facility/settings.html", plan_forms=plan_forms, due_forms=due_forms)


@bp.route("/settings/plans/<zone_code>", methods=["POST"])
@role_required(*OVERSIGHT_ROLES)
def settings_plan(zone_code: str):
    """Save one zone's plan."""
    zone = fac.zone_by_code(zone_code)
    form = PlanForm(prefix=f"plan-{zone.code}")
    if form.validate_on_submit():
        fac.set_plan(zone, form.frequency_days.data, active=form.active.data)
        db.session.commit()
        flash(_("Plan for %(zone)s saved.", zone=zone.display_name(current_locale())), "success")
    else:
        flash(str(fac.ROUND_FREQUENCY_DAYS.message), "error")
    return redirect(url_for("facility.settings"))


@bp.route("/settings/due-days/<category_code>", methods=["POST"])
@role_required(*OVERSIGHT_ROLES)
def settings_due_days(category_code: str):
    """Save one category's due time."""
    category = fac.category_by_code(category_code)
    form = DueDaysForm(prefix=f"due-{category.code}")
    if form.validate_on_submit():
        fac.set_due_days(category, form.days.data)
        db.session.commit()
        flash(
            _(
                "%(category)s: due in %(days)s working days (new tickets).",
                category=category.display_name(current_locale()),
                days=form.days.data,
            ),
            "success",
        )
    else:
        flash(str(fac.DUE_WORKING_DAYS.message), "error")
    return redirect(url_for("facility.settings"))


def _calendar_form() -> CalendarDayForm:
    form = CalendarDayForm()
    form.working.choices = choices([("0", _("Day off (holiday)")), ("1", _("Make-up working day"))])
    return form


@bp.route("/calendar", methods=["GET", "POST"])
@role_required(*OVERSIGHT_ROLES)
def calendar():
    """The working-day calendar of a year: days off and make-up working days, editable."""
    year = request.args.get("year", clock.today().year, type=int)
    if not workdays.MIN_YEAR <= year <= workdays.MAX_YEAR:
        year = clock.today().year
    form = _calendar_form()
    status = 200
    if form.validate_on_submit():
        try:
            workdays.set_day(form.day.data, working=form.working.data == "1", name=form.name.data)
            db.session.commit()
            flash(_("%(day)s saved.", day=form.day.data.isoformat()), "success")
            return redirect(url_for("facility.calendar", year=form.day.data.year))
        except DomainError as exc:
            status = field_error(form, exc, "day")
    elif form.is_submitted():
        status = 422
    return (
        render_template(
            "facility/calendar.html",
            year=year,
            days=workdays.days_of_year(year),
            in_database=workdays.year_in_database(year),
            form=form,
            button=ButtonForm(),
        ),
        status,
    )


@bp.route("/calendar/<day>/remove", methods=["POST"])
@role_required(*OVERSIGHT_ROLES)
def calendar_remove(day: str):
    """Remove a day from the list (it becomes an ordinary weekday or weekend day)."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    if ButtonForm().validate_on_submit():
        try:
            workdays.remove_day(when)
            db.session.commit()
            flash(_("%(day)s removed from the list.", day=when.isoformat()), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
    return redirect(url_for("facility.calendar", year=when.year))


@bp.route("/calendar/<int:year>/reload", methods=["POST"])
@role_required(*OVERSIGHT_ROLES)
def calendar_reload(year: int):
    """Replace a year's list with the `holidays` package's (drops edits)."""
    if ButtonForm().validate_on_submit():
        try:
            workdays.load_year(year, replace=True)
            db.session.commit()
            flash(_("%(year)s reloaded from the holidays package.", year=year), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
    return redirect(url_for("facility.calendar", year=year))


@bp.route("/posters")
@role_required(*OVERSIGHT_ROLES)
def posters():
    """QR posters per zone and floor that open the report form with both filled in."""
    return render_template("facility/posters.html", zones=fac.zones(), floors=fac.floors())


@bp.route("/posters/<zone_code>")
@role_required(*OVERSIGHT_ROLES)
def posters_print(zone_code: str):
    """Every floor's poster of one zone, one per printed page."""
    try:
        zone = fac.zone_by_code(zone_code)
    except DomainError:
        abort(404)
    return render_template("facility/posters_print.html", zone=zone, floors=fac.floors())


@bp.route("/posters/<zone_code>/<floor_code>.svg")
@role_required(*OVERSIGHT_ROLES)
def poster(zone_code: str, floor_code: str):
    """One poster as SVG (prints on A4)."""
    try:
        zone, floor = fac.zone_by_code(zone_code), fac.floor_by_code(floor_code)
    except DomainError:
        abort(404)
    svg = poster_svg(zone, floor)
    download = request.args.get("download") == "1"
    response = send_file(
        io.BytesIO(svg.encode()),
        mimetype="image/svg+xml",
        as_attachment=download,
        download_name=f"citydesk-report-{zone.code}-{floor.code}.svg",
        max_age=0,
    )
    return response
