"""Facility pages: thin wrappers around the operations in `models.facility`."""

import io
from datetime import date

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from models import facility as fac
from models import workdays
from models.core import clock, db
from models.core.errors import DomainError, NotFound
from models.facility import (
    SOURCE_LABELS,
    STATE_LABELS,
    TICKET_MANAGERS,
    Defect,
    DefectPhoto,
    InspectionRound,
    PhotoKind,
    TicketFilter,
)
from models.photos import PhotoTooLarge, Upload, accepted_types, max_bytes
from models.users import User
from webapp.facility import bp
from webapp.facility.forms import (
    AssignForm,
    ButtonForm,
    CalendarDayForm,
    CheckForm,
    DueDaysForm,
    FindingForm,
    FixForm,
    PhotoForm,
    PlanForm,
    ReopenForm,
    ReportForm,
    StartRoundForm,
    TicketFilterForm,
)
from webapp.facility.posters import poster_svg
from webapp.forms import choices
from webapp.security import OVERSIGHT_ROLES, role_required

PAGE_SIZE = 30
MAX_PAGE = 10_000


def _me():
    return current_user._get_current_object()


def _locale() -> str:
    from webapp.i18n import select_locale

    return select_locale()


def _uploads(files) -> list[Upload]:
    return [Upload(f.filename, f.stream) for f in files or [] if f and f.filename]


def _photo_hint() -> str:
    return _(
        "%(types)s, up to %(size)s MB each.",
        types=accepted_types(),
        size=f"{max_bytes() / (1024 * 1024):g}",
    )


def _place_choices(form) -> None:
    """Fill the category, zone and floor choices of a report form."""
    locale = _locale()
    if hasattr(form, "category"):
        form.category.choices = choices((c.code, c.display_name(locale)) for c in fac.categories())
    form.zone.choices = choices(
        [("", _("Choose the zone"))] + [(z.code, z.display_name(locale)) for z in fac.zones()]
    )
    form.floor.choices = choices(
        [("", _("Choose the floor"))] + [(f.code, f.code) for f in reversed(fac.floors())]
    )


def _field_error(form, exc: DomainError, default: str, **aliases) -> int:
    """Show an operation's error next to the form field it names (else `default`)."""
    db.session.rollback()
    name = getattr(exc, "field", None) or default
    field = getattr(form, aliases.get(name, name), None) or getattr(form, default)
    field.errors = list(field.errors or []) + [exc.message]
    return 413 if isinstance(exc, PhotoTooLarge) else 422  # a form's own input was wrong


# --- repair reports -----------------------------------------------------------------------


@bp.route("/report", methods=["GET", "POST"])
def report():
    """File a repair report (any signed-in user); a QR poster fills in zone and floor."""
    form = ReportForm()
    _place_choices(form)
    if request.method == "GET":
        form.zone.data = request.args.get("zone", "")
        form.floor.data = request.args.get("floor", "")
    similar, status, error = [], 200, None
    if form.validate_on_submit():
        try:
            category = fac.category_by_code(form.category.data)
            zone, floor = fac.zone_by_code(form.zone.data), fac.floor_by_code(form.floor.data)
            add_to = request.form.get("add_to", type=int)
            if add_to:
                defect = fac.by_id(Defect, add_to)
                if defect is None:
                    raise NotFound(_("No such ticket."))
                fac.add_report(
                    defect,
                    user=_me(),
                    description=form.description.data,
                    uploads=_uploads(form.photos.data),
                )
                db.session.commit()
                flash(
                    _("Thank you: your report was added to ticket #%(id)s.", id=defect.id),
                    "success",
                )
                return redirect(url_for("facility.ticket", defect_id=defect.id))
            similar = fac.similar_open(zone, floor, category)
            if similar and form.duplicate_checked.data != "1":
                form.duplicate_checked.data = "1"
                error = _(
                    "There is already an open ticket here. Add your report to it, or send "
                    "yours as a new report (choose your photos again)."
                )
            else:
                defect = fac.report_defect(
                    user=_me(),
                    category=category,
                    zone=zone,
                    floor=floor,
                    location=form.location.data,
                    description=form.description.data,
                    uploads=_uploads(form.photos.data),
                )
                db.session.commit()
                flash(
                    _(
                        "Thank you: repair ticket #%(id)s was filed. Facility staff will take it "
                        "from here.",
                        id=defect.id,
                    ),
                    "success",
                )
                return redirect(url_for("facility.ticket", defect_id=defect.id))
        except DomainError as exc:
            if getattr(exc, "field", None):
                status = _field_error(form, exc, "description")
            else:
                db.session.rollback()
                status, error = exc.status, exc.message
    elif form.is_submitted():
        status = 422
    return (
        render_template(
            "facility/report.html",
            form=form,
            similar=similar,
            error=error,
            photo_hint=_photo_hint(),
        ),
        status,
    )


@bp.route("/mine")
def mine():
    """The tickets I reported (or added a report to), newest first."""
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    stmt = fac.ticket_query(_me(), TicketFilter(mine=True), newest_first=True)
    rows = db.paginate(stmt, page=page, per_page=PAGE_SIZE, error_out=False)
    return render_template("facility/mine.html", rows=rows, today=clock.today())


# --- tickets ------------------------------------------------------------------------------


def _filter_form() -> tuple[TicketFilterForm, TicketFilter]:
    form = TicketFilterForm(formdata=request.args)
    _place_choices(form)
    locale = _locale()
    form.state.choices = choices(
        [("open", _("Open")), ("closed", _("Fixed or verified")), ("", _("All"))]
        + [(s.value, label) for s, label in STATE_LABELS.items()]
    )
    form.category.choices = choices(
        [("", _("All"))] + [(c.code, c.display_name(locale)) for c in fac.categories()]
    )
    form.zone.choices = choices(
        [("", _("All"))] + [(z.code, z.display_name(locale)) for z in fac.zones()]
    )
    form.floor.choices = choices([("", _("All"))] + [(f.code, f.code) for f in fac.floors()])
    form.assignee.choices = choices(
        [("", _("Anyone")), ("me", _("Me")), ("none", _("Nobody yet"))]
        + [(u.username, u.name) for u in fac.managers()]
    )
    form.source.choices = choices(
        [("", _("All"))] + [(s.value, label) for s, label in SOURCE_LABELS.items()]
    )
    if not request.args:
        form.state.data = "open"
    form.validate()
    ok = lambda field: None if field.errors else (field.data or None)  # noqa: E731
    flt = TicketFilter(
        state=ok(form.state),
        category=ok(form.category),
        zone=ok(form.zone),
        floor=ok(form.floor),
        assignee=ok(form.assignee),
        overdue=bool(form.overdue.data),
        source=ok(form.source),
        found_from=ok(form.found_from),
        found_to=ok(form.found_to),
    )
    return form, flt


@bp.route("/tickets")
@role_required(*TICKET_MANAGERS)
def tickets():
    """Every ticket, filtered: state, category, zone, floor, assignee, overdue, source, dates."""
    form, flt = _filter_form()
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    try:
        stmt = fac.ticket_query(_me(), flt)
    except DomainError as exc:
        flash(exc.message, "error")
        stmt = fac.ticket_query(_me(), TicketFilter(state="open"))
    rows = db.paginate(stmt, page=page, per_page=PAGE_SIZE, error_out=False)
    params = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "facility/tickets.html", form=form, rows=rows, params=params, today=clock.today()
    )


def _ticket_page(defect: Defect, status: int = 200, error: str | None = None, **forms):
    me = _me()
    moves = fac.allowed_moves(me, defect)
    assign = forms.get("assign") or AssignForm(prefix="assign")
    assign.assignee.choices = choices((str(u.id), u.name) for u in fac.managers())
    if not assign.is_submitted():
        assign.assignee.data = str(defect.assignee_id or me.id)
    photo = forms.get("photo") or PhotoForm(prefix="photo")
    kinds = [(PhotoKind.BEFORE.value, _("the problem (before)"))]
    if fac.can_manage(me) and defect.state in ("assigned", "in_progress"):
        kinds.append((PhotoKind.AFTER.value, _("the repair (after)")))
    photo.kind.choices = choices(kinds)
    return (
        render_template(
            "facility/ticket.html",
            defect=defect,
            moves=moves,
            events=fac.events_of(defect),
            before=[p for p in defect.photos if p.kind == PhotoKind.BEFORE],
            after=[p for p in defect.photos if p.kind == PhotoKind.AFTER],
            assign=assign,
            fix=forms.get("fix") or FixForm(prefix="fix"),
            reopen=forms.get("reopen") or ReopenForm(prefix="reopen"),
            photo=photo,
            button=ButtonForm(),
            error=error,
            today=clock.today(),
            photo_hint=_photo_hint(),
        ),
        status,
    )


@bp.route("/tickets/<int:defect_id>")
def ticket(defect_id: int):
    """One ticket: details, photos, timeline and the moves the user may make."""
    return _ticket_page(fac.get_defect(defect_id, _me()))


def _after_move(defect: Defect, message: str):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("facility.ticket", defect_id=defect.id))


@bp.route("/tickets/<int:defect_id>/assign", methods=["POST"])
@role_required(*TICKET_MANAGERS)
def ticket_assign(defect_id: int):
    """Assign the ticket (the "to me" button sends the user's own id)."""
    defect = fac.get_defect(defect_id, _me())
    form = AssignForm(prefix="assign")
    form.assignee.choices = choices((str(u.id), u.name) for u in fac.managers())
    if request.form.get("to_me"):
        form.assignee.data = str(_me().id)
        form.assignee.raw_data = [form.assignee.data]
    if not form.validate_on_submit():
        return _ticket_page(defect, 422, assign=form)
    try:
        person = db.session.get(User, int(form.assignee.data))
        fac.assign(defect, person, by=_me())
    except DomainError as exc:
        return _ticket_page(defect, _field_error(form, exc, "assignee"), assign=form)
    return _after_move(
        defect, _("Ticket #%(id)s assigned to %(name)s.", id=defect.id, name=person.name)
    )


@bp.route("/tickets/<int:defect_id>/start", methods=["POST"])
@role_required(*TICKET_MANAGERS)
def ticket_start(defect_id: int):
    """Start work."""
    defect = fac.get_defect(defect_id, _me())
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        fac.start(defect, by=_me())
    except DomainError as exc:
        db.session.rollback()
        return _ticket_page(defect, exc.status, exc.message)
    return _after_move(defect, _("Work on ticket #%(id)s started.", id=defect.id))


@bp.route("/tickets/<int:defect_id>/fix", methods=["POST"])
@role_required(*TICKET_MANAGERS)
def ticket_fix(defect_id: int):
    """Close as fixed: note and after photo."""
    defect = fac.get_defect(defect_id, _me())
    form = FixForm(prefix="fix")
    if not form.validate_on_submit():
        return _ticket_page(defect, 422, fix=form)
    try:
        fac.fix(defect, by=_me(), note=form.note.data, uploads=_uploads(form.photos.data))
    except DomainError as exc:
        if not getattr(exc, "field", None):
            db.session.rollback()
            return _ticket_page(defect, exc.status, exc.message)
        status = _field_error(form, exc, "note", after_photos="photos")
        return _ticket_page(defect, status, fix=form)
    return _after_move(defect, _("Ticket #%(id)s closed as fixed.", id=defect.id))


@bp.route("/tickets/<int:defect_id>/verify", methods=["POST"])
def ticket_verify(defect_id: int):
    """Confirm the repair (a supervisor or the reporter)."""
    defect = fac.get_defect(defect_id, _me())
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        fac.verify(defect, by=_me())
    except DomainError as exc:
        db.session.rollback()
        return _ticket_page(defect, exc.status, exc.message)
    return _after_move(defect, _("Ticket #%(id)s verified and closed.", id=defect.id))


@bp.route("/tickets/<int:defect_id>/reopen", methods=["POST"])
def ticket_reopen(defect_id: int):
    """Send a fixed or verified ticket back to work, with the reason."""
    defect = fac.get_defect(defect_id, _me())
    form = ReopenForm(prefix="reopen")
    if not form.validate_on_submit():
        return _ticket_page(defect, 422, reopen=form)
    try:
        fac.reopen(defect, by=_me(), reason=form.reason.data)
    except DomainError as exc:
        if not getattr(exc, "field", None):
            db.session.rollback()
            return _ticket_page(defect, exc.status, exc.message)
        return _ticket_page(defect, _field_error(form, exc, "reason"), reopen=form)
    return _after_move(defect, _("Ticket #%(id)s reopened.", id=defect.id))


@bp.route("/tickets/<int:defect_id>/photos", methods=["POST"])
def ticket_photos(defect_id: int):
    """Add photos to a ticket."""
    defect = fac.get_defect(defect_id, _me())
    form = PhotoForm(prefix="photo")
    form.kind.choices = choices([(k.value, k.value) for k in PhotoKind])
    if not form.validate_on_submit():
        return _ticket_page(defect, 422, photo=form)
    try:
        fac.add_photos(
            defect, by=_me(), kind=PhotoKind(form.kind.data), uploads=_uploads(form.photos.data)
        )
    except DomainError as exc:
        if not getattr(exc, "field", None):
            db.session.rollback()
            return _ticket_page(defect, exc.status, exc.message)
        status = _field_error(form, exc, "photos", after_photos="photos")
        return _ticket_page(defect, status, photo=form)
    return _after_move(defect, _("Photos added."))


@bp.route("/photos/<int:photo_id>")
@bp.route("/photos/<int:photo_id>/<variant>")
def photo(photo_id: int, variant: str | None = None):
    """A photo (signed-in users who may see its ticket): the original or a resized copy."""
    row = fac.by_id(DefectPhoto, photo_id)
    if row is None or variant not in (None, "display", "thumb"):
        abort(404)
    fac.get_defect(row.defect_id, _me())
    path = row.path(variant)
    if not path.is_file():
        abort(404)
    if variant:
        return send_file(path, mimetype="image/jpeg", max_age=0)
    inline = row.format != "HEIF"  # browsers cannot show HEIC: download it
    return send_file(
        path,
        mimetype=row.content_type,
        as_attachment=not inline,
        download_name=f"defect-{row.defect_id}-{row.id}.{path.suffix.lstrip('.')}",
        max_age=0,
    )


# --- the building grid --------------------------------------------------------------------


@bp.route("/grid")
@role_required(*TICKET_MANAGERS)
def grid():
    """Floors × zones: open tickets per cell, coloured by the oldest one's age."""
    cells = fac.building_grid()
    return render_template(
        "facility/grid.html",
        zones=fac.zones(),
        floors=list(reversed(fac.floors())),
        cells=cells,
        bands=fac.AGE_BANDS,
        total=sum(c.count for c in cells.values()),
    )


# --- inspection rounds --------------------------------------------------------------------


@bp.route("/rounds")
@role_required(*TICKET_MANAGERS)
def rounds():
    """Rounds due and overdue per zone, rounds under way and the latest rounds."""
    recent = list(
        db.session.scalars(
            select(InspectionRound)
            .where(InspectionRound.finished_at.is_not(None))
            .order_by(InspectionRound.finished_at.desc())
            .limit(20)
        )
    )
    findings = dict(
        db.session.execute(
            select(Defect.round_id, func.count(Defect.id))
            .where(Defect.round_id.in_([r.id for r in recent]))
            .group_by(Defect.round_id)
        ).all()
    )
    return render_template(
        "facility/rounds.html",
        schedule=fac.round_schedule(),
        recent=recent,
        findings=findings,
        labels=fac.ROUND_STATUS_LABELS,
    )


@bp.route("/rounds/new", methods=["GET", "POST"])
@role_required(*TICKET_MANAGERS)
def round_new():
    """Start a round: pick the zone and the floors."""
    form = StartRoundForm()
    locale = _locale()
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
            inspection = fac.start_round(zone, chosen, by=_me())
            db.session.commit()
            return redirect(url_for("facility.round_page", round_id=inspection.id))
        except DomainError as exc:
            status = _field_error(form, exc, "floors")
    elif form.is_submitted():
        status = 422
    return render_template("facility/round_new.html", form=form), status


def _open_round(round_id: int) -> InspectionRound:
    inspection = fac.by_id(InspectionRound, round_id)
    if inspection is None:
        abort(404)
    return inspection


@bp.route("/rounds/<int:round_id>")
@role_required(*TICKET_MANAGERS)
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
    index = floors.index(current) if current in floors else 0
    return render_template(
        "facility/round.html",
        inspection=inspection,
        floors=floors,
        current=current,
        previous_floor=floors[index - 1] if index > 0 else None,
        next_floor=floors[index + 1] if index + 1 < len(floors) else None,
        categories=cats,
        checks=checks,
        done=done,
        findings=findings,
        missing=len(fac.missing_checks(inspection)),
        check_form=CheckForm(),
        button=ButtonForm(),
    )


@bp.route("/rounds/<int:round_id>/check", methods=["POST"])
@role_required(*TICKET_MANAGERS)
def round_check(round_id: int):
    """Record "no defect" for one category on one floor."""
    inspection = _open_round(round_id)
    form = CheckForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        floor = fac.floor_by_code(form.floor.data)
        fac.mark_no_defect(inspection, floor, fac.category_by_code(form.category.data), by=_me())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("facility.round_page", round_id=round_id, floor=form.floor.data))


@bp.route("/rounds/<int:round_id>/finding", methods=["GET", "POST"])
@role_required(*TICKET_MANAGERS)
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
                by=_me(),
                location=form.location.data,
                description=form.description.data,
                uploads=_uploads(form.photos.data),
                fixed_on_spot=form.fixed_on_spot.data,
                fix_note=form.fix_note.data,
                after_uploads=_uploads(form.after_photos.data),
            )
            db.session.commit()
            flash(_("Finding saved as ticket #%(id)s.", id=defect.id), "success")
            return redirect(url_for("facility.round_page", round_id=round_id, floor=floor.code))
        except DomainError as exc:
            if getattr(exc, "field", None):
                status = _field_error(form, exc, "description", note="fix_note")
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
            photo_hint=_photo_hint(),
        ),
        status,
    )


@bp.route("/rounds/<int:round_id>/finish", methods=["POST"])
@role_required(*TICKET_MANAGERS)
def round_finish(round_id: int):
    """Finish the round (every check recorded)."""
    inspection = _open_round(round_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        fac.finish_round(inspection, by=_me())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("facility.round_page", round_id=round_id))
    count = len(fac.round_findings(inspection))
    flash(
        _(
            "Round finished: %(zone)s, %(count)s findings.",
            zone=inspection.zone.display_name(_locale()),
            count=count,
        ),
        "success",
    )
    return redirect(url_for("facility.rounds"))


# --- settings, calendar, posters ----------------------------------------------------------


@bp.route("/settings")
@role_required(*OVERSIGHT_ROLES)
def settings():
    """Inspection plans per zone and due days per category."""
    plans = {p.zone_id: p for p in db.session.scalars(select(fac.InspectionPlan))}
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
        flash(_("Plan for %(zone)s saved.", zone=zone.display_name(_locale())), "success")
    else:
        flash(_("A round every 1 to 366 days."), "error")
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
                category=category.display_name(_locale()),
                days=form.days.data,
            ),
            "success",
        )
    else:
        flash(_("Between 0 and 60 working days."), "error")
    return redirect(url_for("facility.settings"))


def _calendar_form() -> CalendarDayForm:
    form = CalendarDayForm()
    form.working.choices = choices(
        [("0", _("Day off (holiday)")), ("1", _("Make-up working day (補班)"))]
    )
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
            status = _field_error(form, exc, "day")
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


WEEKDAYS = [_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun")]


@bp.context_processor
def labels():
    """Names of states, sources, timeline steps and weekdays for the facility templates."""
    return {
        "state_labels": STATE_LABELS,
        "source_labels": SOURCE_LABELS,
        "event_labels": fac.EVENT_LABELS,
        "weekdays": WEEKDAYS,
    }
