"""Repair-ticket pages: report, my reports, the ticket list, one ticket and its moves, photos,
and the building grid."""

from functools import partial

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from models import facility as fac
from models.core import clock, db
from models.core.errors import DomainError, NotFound
from models.facility import TICKET_MANAGER_ROLES, Defect, PhotoKind, TicketFilter
from models.users import User
from webapp.facility import bp
from webapp.facility.forms import (
    AssignForm,
    ButtonForm,
    FixForm,
    PhotoForm,
    ReopenForm,
    ReportForm,
    TicketFilterForm,
)
from webapp.facility.labels import AGE_BANDS, SOURCE_LABELS, STATE_LABELS
from webapp.facility.views.page_forms import (
    field_error,
    photo_hint,
    place_choices,
    uploads_of,
)
from webapp.forms import choices
from webapp.i18n import current_locale
from webapp.paging import paginate
from webapp.security import acting_user, role_required

PAGE_SIZE = 30


# --- repair reports -----------------------------------------------------------------------


@bp.route("/report", methods=["GET", "POST"])
def report():
    """File a repair report (any signed-in user); a QR poster fills in zone and floor."""
    form = ReportForm()
    place_choices(form)
    if request.method == "GET":
        form.zone.data = request.args.get("zone", "")
        form.floor.data = request.args.get("floor", "")
    similar, status, error = [], 200, None
    if form.validate_on_submit():
        try:
            category, zone, floor = _reported_place(form)
            add_to = request.form.get("add_to", type=int)
            if add_to:
                return _add_to_ticket(form, add_to, category, zone, floor)
            similar = fac.similar_open(zone, floor, category)
            if similar and form.duplicate_checked.data != "1":
                form.duplicate_checked.data = "1"
                error = _duplicate_hint()
            else:
                return _file_ticket(form, category, zone, floor)
        except DomainError as exc:
            status, error = _report_refused(form, exc, error)
    elif form.is_submitted():
        status = 422
    return (
        render_template(
            "facility/report.html",
            form=form,
            similar=similar,
            error=error,
            photo_hint=photo_hint(),
        ),
        status,
    )


def _reported_place(form: ReportForm) -> tuple:
    """The report's category, zone and floor (each refused when unknown)."""
    category = fac.category_by_code(form.category.data)
    zone, floor = fac.zone_by_code(form.zone.data), fac.floor_by_code(form.floor.data)
    return category, zone, floor


def _add_to_ticket(form: ReportForm, defect_id: int, category, zone, floor):
    """Add the report to an open ticket (the reporter chose it among the similar ones)."""
    defect = fac.by_id(Defect, defect_id)
    if defect is None:
        raise NotFound(_("No such ticket."))
    fac.add_report(
        defect,
        by=acting_user(),
        category=category,
        zone=zone,
        floor=floor,
        description=form.description.data,
        uploads=uploads_of(form.photos.data),
    )
    db.session.commit()
    flash(_("Thank you: your report was added to ticket #%(id)s.", id=defect.id), "success")
    return redirect(url_for("facility.ticket", defect_id=defect.id))


def _file_ticket(form: ReportForm, category, zone, floor):
    """File the report as a new ticket."""
    defect = fac.report_defect(
        by=acting_user(),
        category=category,
        zone=zone,
        floor=floor,
        location=form.location.data,
        description=form.description.data,
        uploads=uploads_of(form.photos.data),
    )
    db.session.commit()
    flash(
        _(
            "Thank you: repair ticket #%(id)s was filed. Facility staff will take it from here.",
            id=defect.id,
        ),
        "success",
    )
    return redirect(url_for("facility.ticket", defect_id=defect.id))


def _duplicate_hint() -> str:
    """Why the form came back: an open ticket is already there."""
    return _(
        "There is already an open ticket here. Add your report to it, or send "
        "yours as a new report (choose your photos again)."
    )


def _report_refused(form: ReportForm, exc: DomainError, error: str | None):
    """The status and message of a refused report: at its field when it has one (the
    message stays `error`), else above the form (the transaction rolled back)."""
    if getattr(exc, "field", None):
        return field_error(form, exc, "description"), error
    db.session.rollback()
    return exc.status, exc.message


@bp.route("/mine")
def mine():
    """The tickets I reported (or added a report to), newest first."""
    stmt = fac.ticket_query(acting_user(), TicketFilter(mine=True), newest_first=True)
    rows = paginate(stmt, PAGE_SIZE)
    return render_template("facility/mine.html", rows=rows, today=clock.today())


# --- tickets ------------------------------------------------------------------------------


def _filter_form() -> tuple[TicketFilterForm, TicketFilter]:
    form = TicketFilterForm(formdata=request.args)
    place_choices(form)
    locale = current_locale()
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
        + [(u.username, u.name) for u in fac.ticket_managers()]
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
@role_required(*TICKET_MANAGER_ROLES)
def tickets():
    """Every ticket, filtered: state, category, zone, floor, assignee, overdue, source, dates."""
    form, flt = _filter_form()
    try:
        stmt = fac.ticket_query(acting_user(), flt)
    except DomainError as exc:
        flash(exc.message, "error")
        stmt = fac.ticket_query(acting_user(), TicketFilter(state="open"))
    rows = paginate(stmt, PAGE_SIZE)
    params = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "facility/tickets.html", form=form, rows=rows, params=params, today=clock.today()
    )


def _ticket_page(defect: Defect, status: int = 200, error: str | None = None, **forms):
    me = acting_user()
    moves = fac.allowed_moves(me, defect)
    assign = forms.get("assign") or AssignForm(prefix="assign")
    assign.assignee.choices = choices((str(u.id), u.name) for u in fac.ticket_managers())
    if not assign.is_submitted():
        assign.assignee.data = str(defect.assignee_id or me.id)
    photo = forms.get("photo") or PhotoForm(prefix="photo")
    kinds = [(PhotoKind.BEFORE.value, _("the problem (before)"))]
    if fac.can_add_after_photos(me, defect):
        kinds.append((PhotoKind.AFTER.value, _("the repair (after)")))
    photo.kind.choices = choices(kinds)
    shown = fac.visible_photos(me, defect.photos)
    return (
        render_template(
            "facility/ticket.html",
            defect=defect,
            moves=moves,
            events=fac.events_of(defect),
            before=[p for p in shown if p.kind == PhotoKind.BEFORE],
            after=[p for p in shown if p.kind == PhotoKind.AFTER],
            reveals=partial(fac.reveals, me),
            visible_photos=partial(fac.visible_photos, me),
            assign=assign,
            fix=forms.get("fix") or FixForm(prefix="fix"),
            reopen=forms.get("reopen") or ReopenForm(prefix="reopen"),
            photo=photo,
            button=ButtonForm(),
            error=error,
            today=clock.today(),
            photo_hint=photo_hint(),
        ),
        status,
    )


@bp.route("/tickets/<int:defect_id>")
def ticket(defect_id: int):
    """One ticket: details, photos, timeline and the moves the user may make."""
    return _ticket_page(fac.get_defect(defect_id, acting_user()))


def _after_move(defect: Defect, message: str):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("facility.ticket", defect_id=defect.id))


@bp.route("/tickets/<int:defect_id>/assign", methods=["POST"])
@role_required(*TICKET_MANAGER_ROLES)
def ticket_assign(defect_id: int):
    """Assign the ticket (the "to me" button sends the user's own id)."""
    defect = fac.get_defect(defect_id, acting_user())
    form = AssignForm(prefix="assign")
    form.assignee.choices = choices((str(u.id), u.name) for u in fac.ticket_managers())
    if request.form.get("to_me"):
        form.assignee.data = str(acting_user().id)
        form.assignee.raw_data = [form.assignee.data]
    if not form.validate_on_submit():
        return _ticket_page(defect, 422, assign=form)
    try:
        person = db.session.get(User, int(form.assignee.data))
        fac.assign(defect, person, by=acting_user())
    except DomainError as exc:
        return _ticket_page(defect, field_error(form, exc, "assignee"), assign=form)
    return _after_move(
        defect, _("Ticket #%(id)s assigned to %(name)s.", id=defect.id, name=person.name)
    )


@bp.route("/tickets/<int:defect_id>/start", methods=["POST"])
@role_required(*TICKET_MANAGER_ROLES)
def ticket_start(defect_id: int):
    """Start work."""
    defect = fac.get_defect(defect_id, acting_user())
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        fac.start(defect, by=acting_user())
    except DomainError as exc:
        db.session.rollback()
        return _ticket_page(defect, exc.status, exc.message)
    return _after_move(defect, _("Work on ticket #%(id)s started.", id=defect.id))


@bp.route("/tickets/<int:defect_id>/fix", methods=["POST"])
@role_required(*TICKET_MANAGER_ROLES)
def ticket_fix(defect_id: int):
    """Close as fixed: note and after photo."""
    defect = fac.get_defect(defect_id, acting_user())
    form = FixForm(prefix="fix")
    if not form.validate_on_submit():
        return _ticket_page(defect, 422, fix=form)
    try:
        fac.fix(defect, by=acting_user(), note=form.note.data, uploads=uploads_of(form.photos.data))
    except DomainError as exc:
        if not getattr(exc, "field", None):
            db.session.rollback()
            return _ticket_page(defect, exc.status, exc.message)
        status = field_error(form, exc, "note", after_photos="photos")
        return _ticket_page(defect, status, fix=form)
    return _after_move(defect, _("Ticket #%(id)s closed as fixed.", id=defect.id))


@bp.route("/tickets/<int:defect_id>/verify", methods=["POST"])
def ticket_verify(defect_id: int):
    """Confirm the repair (a supervisor or the reporter)."""
    defect = fac.get_defect(defect_id, acting_user())
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        fac.verify(defect, by=acting_user())
    except DomainError as exc:
        db.session.rollback()
        return _ticket_page(defect, exc.status, exc.message)
    return _after_move(defect, _("Ticket #%(id)s verified and closed.", id=defect.id))


@bp.route("/tickets/<int:defect_id>/reopen", methods=["POST"])
def ticket_reopen(defect_id: int):
    """Send a fixed or verified ticket back to work, with the reason."""
    defect = fac.get_defect(defect_id, acting_user())
    form = ReopenForm(prefix="reopen")
    if not form.validate_on_submit():
        return _ticket_page(defect, 422, reopen=form)
    try:
        fac.reopen(defect, by=acting_user(), reason=form.reason.data)
    except DomainError as exc:
        if not getattr(exc, "field", None):
            db.session.rollback()
            return _ticket_page(defect, exc.status, exc.message)
        return _ticket_page(defect, field_error(form, exc, "reason"), reopen=form)
    return _after_move(defect, _("Ticket #%(id)s reopened.", id=defect.id))


@bp.route("/tickets/<int:defect_id>/photos", methods=["POST"])
def ticket_photos(defect_id: int):
    """Add photos to a ticket."""
    defect = fac.get_defect(defect_id, acting_user())
    form = PhotoForm(prefix="photo")
    form.kind.choices = choices([(k.value, k.value) for k in PhotoKind])
    if not form.validate_on_submit():
        return _ticket_page(defect, 422, photo=form)
    try:
        fac.add_photos(
            defect,
            by=acting_user(),
            kind=PhotoKind(form.kind.data),
            uploads=uploads_of(form.photos.data),
        )
    except DomainError as exc:
        if not getattr(exc, "field", None):
            db.session.rollback()
            return _ticket_page(defect, exc.status, exc.message)
        status = field_error(form, exc, "photos", after_photos="photos")
        return _ticket_page(defect, status, photo=form)
    return _after_move(defect, _("Photos added."))


@bp.route("/photos/<int:photo_id>")
@bp.route("/photos/<int:photo_id>/<variant>")
def photo(photo_id: int, variant: str | None = None):
    """A photo (signed-in users who may see its ticket): the original or a resized copy."""
    if variant not in (None, "display", "thumb"):
        abort(404)
    row = fac.get_photo(photo_id, acting_user())
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
@role_required(*TICKET_MANAGER_ROLES)
def grid():
    """Floors × zones: open tickets per cell, coloured by the oldest one's age."""
    cells = fac.building_grid()
    return render_template(
        "facility/grid.html",
        zones=fac.zones(),
        floors=fac.floors(),
        cells=cells,
        bands=AGE_BANDS,
        total=sum(c.count for c in cells.values()),
    )
