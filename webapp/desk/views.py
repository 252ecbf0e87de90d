"""Desk views: thin wrappers around the operations in models.dispatch."""

from collections import Counter

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.core import clock, db
from models.core.errors import DomainError, InvalidInput
from models.dispatch import (
    EARLIER_COUNT_CAP,
    DispatchFilter,
    acknowledge,
    add_note,
    arrive,
    cancel,
    correct_time,
    dispatch_for,
    earlier_count,
    earlier_open,
    find_agency,
    log_visit,
    notify,
    open_inboxes,
    outcome_counts,
    record_personal_data_view,
    search_dispatches,
    settle_earlier,
    settle_visit,
    today_for,
    transfer,
    visible_condition,
    visible_open_dispatches,
    visit_for,
    visit_of,
    visits_on,
)
from models.dispatch.display import dispatches_on_display, display_link_for
from models.dispatch.queries import DETAILS
from models.reference import agencies_for_picker
from models.users import Role
from webapp.desk import bp
from webapp.desk.forms import (
    AcknowledgeForm,
    CancelForm,
    CareNoteForm,
    ConfirmForm,
    CorrectTimeForm,
    EndOfDayForm,
    HistoryFilterForm,
    NoteForm,
    NotifyForm,
    TransferForm,
    VisitForm,
)
from webapp.desk.labels import correction_rows, timeline
from webapp.filters import labelled
from webapp.forms import choices, field_error
from webapp.paging import paginate
from webapp.security import STAFF, acting_user, role_required

PAGE_SIZE = 50
# Forms that are one button and no typed field: a refusal is a message at the top of the page.
BUTTON_FORMS = (ConfirmForm, CareNoteForm)


def flash_form_errors(form) -> None:
    """Flash each field error of a form that failed validation."""
    for field in form:
        for error in field.errors:
            flash(labelled(field.label.text, error), "error")


# --- Visits ------------------------------------------------------------------------------


@bp.route("/visits/new", methods=["GET", "POST"])
@role_required(Role.CLERK)
def new_visit():
    """Log a walk-in visitor, then notify the agency, settle at the counter, or keep open."""
    form = VisitForm()
    errors: list[str] = []
    if form.validate_on_submit():
        notify_now, settle_now = bool(form.notify.data), bool(form.settle.data)
        try:
            # The agency as typed: notify() says when none was chosen or it is unknown.
            visit = log_visit(
                kind=form.kind.data,
                subject=form.subject.data,
                summary=form.summary.data or "",
                agency=form.agency.data or None,
                petitioner_name=form.petitioner_name.data,
                petitioner_phone=form.petitioner_phone.data,
                is_senior=form.is_senior.data,
                needs_accessibility=form.needs_accessibility.data,
                notes=form.notes.data or "",
                notify_now=notify_now,
                settle_now=settle_now,
                by=acting_user(),
            )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            field = getattr(exc, "field", None)
            if field in form:  # said at its field (an unknown agency, a bad phone number)
                field_error(form, exc.message, field)
            else:
                errors.append(exc.message)
        else:
            if notify_now:
                dispatch = visit.open_dispatch
                flash(
                    _(
                        "%(agency)s notified: phone extension %(ext)s now.",
                        agency=dispatch.agency.name_zh,
                        ext=dispatch.agency.extension or "—",
                    ),
                    "success",
                )
                return redirect(url_for("desk.dispatch", dispatch_id=dispatch.id))
            if settle_now:
                flash(_("Visit #%(id)d settled at the counter.", id=visit.id), "success")
                return redirect(url_for("desk.new_visit"))
            flash(_("Visit #%(id)d logged.", id=visit.id), "success")
            return redirect(url_for("desk.visit", visit_id=visit.id))
    return render_template(
        "desk/visit_form.html", form=form, errors=errors, agencies=agencies_for_picker()
    ), (422 if form.is_submitted() else 200)


@bp.route("/visits/<int:visit_id>")
@role_required(*STAFF)
def visit(visit_id: int):
    """A visit in full (the petitioner's data is shown whole and the viewing audited)."""
    visit = visit_for(acting_user(), visit_id)
    record_personal_data_view(visit)
    db.session.commit()
    return _visit_page(visit)


def _visit_page(visit, failed=None):
    """The visit page; `failed` is a form with its errors, shown in place."""
    notify_form = failed if isinstance(failed, NotifyForm) else NotifyForm(formdata=None)
    if failed is not notify_form and visit.agency is not None:
        notify_form.agency.data = visit.agency.name_zh
    return render_template(
        "desk/visit.html",
        visit=visit,
        notify_form=notify_form,
        note_form=failed if isinstance(failed, NoteForm) else NoteForm(formdata=None),
        settle_form=ConfirmForm(formdata=None),
        agencies=agencies_for_picker(),
    )


def _act(load, page, url, form, run, done):
    """Validate `form`, run one operation on the record `load()` reads, commit, flash and go
    where `done(result)` says (message, address). Bad input comes back on the record's page
    with the message at its field (its panel open); a one-button form's, and a move another
    user made first, as a message at the top of the record's page."""
    record = load()
    target = url(record)
    if not form.validate_on_submit():
        if isinstance(form, BUTTON_FORMS):
            flash_form_errors(form)
            return redirect(target)
        return page(record, form), 422
    try:
        result = run(record, form)
        db.session.commit()
    except InvalidInput as exc:
        db.session.rollback()
        if isinstance(form, BUTTON_FORMS):
            flash(exc.message, "error")
            return redirect(target)
        field_error(form, exc.message, getattr(exc, "field", None))
        return page(load(), form), 422
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(target)
    message, target = done(result)
    flash(message, "success")
    return redirect(target)


def _visit_action(visit_id: int, form, run, done):
    """`_act` on a visit; `done(result)` gives the message and where to go."""
    return _act(
        lambda: visit_for(acting_user(), visit_id),
        _visit_page,
        lambda visit: url_for("desk.visit", visit_id=visit.id),
        form,
        run,
        done,
    )


@bp.route("/visits/<int:visit_id>/notify", methods=["POST"])
@role_required(Role.CLERK)
def visit_notify(visit_id: int):
    """Notify an agency for an open visit."""
    return _visit_action(
        visit_id,
        NotifyForm(),
        lambda visit, form: notify(visit, form.agency.data, by=acting_user()),
        lambda d: (
            _(
                "%(agency)s notified: phone extension %(ext)s now.",
                agency=d.agency.name_zh,
                ext=d.agency.extension or "—",
            ),
            url_for("desk.dispatch", dispatch_id=d.id),
        ),
    )


@bp.route("/visits/<int:visit_id>/settle", methods=["POST"])
@role_required(Role.CLERK)
def visit_settle(visit_id: int):
    """Close an open visit at the counter with no dispatch."""
    return _visit_action(
        visit_id,
        ConfirmForm(),
        lambda visit, _form: settle_visit(visit, by=acting_user()),
        lambda v: (
            _("Visit #%(id)d settled at the counter.", id=v.id),
            url_for("desk.visit", visit_id=v.id),
        ),
    )


@bp.route("/visits/<int:visit_id>/notes", methods=["POST"])
@role_required(Role.CLERK)
def visit_note(visit_id: int):
    """Add a note to a visit."""
    return _visit_action(
        visit_id,
        NoteForm(),
        lambda visit, form: add_note(visit, form.text.data, by=acting_user()),
        lambda note: (_("Note added."), url_for("desk.visit", visit_id=note.visit_id)),
    )


# --- Dispatches --------------------------------------------------------------------------


@bp.route("/dispatches/<int:dispatch_id>")
@role_required(*STAFF)
def dispatch(dispatch_id: int):
    """One dispatch: the agency's extension and the countdown while open, the full timeline
    with durations, and the moves the clerk (or the supervisor) can make."""
    dispatch = dispatch_for(acting_user(), dispatch_id)
    if dispatch.visit is not None:
        record_personal_data_view(dispatch.visit)
        db.session.commit()
    return dispatch_page(dispatch)


# The dispatch page's forms by name; a form sent back with errors replaces its blank one.
DISPATCH_FORMS = {
    "ack_form": AcknowledgeForm,
    "cancel_form": CancelForm,
    "transfer_form": TransferForm,
    "note_form": NoteForm,
    "arrive_form": ConfirmForm,
    "correct_form": CorrectTimeForm,
}


def dispatch_page(dispatch, failed=None):
    """The dispatch page; `failed` is a form with its errors, shown in place (its panel open)."""
    forms = {
        name: failed if isinstance(failed, cls) and cls is not ConfirmForm else cls(formdata=None)
        for name, cls in DISPATCH_FORMS.items()
    }
    return render_template(
        "desk/dispatch.html",
        dispatch=dispatch,
        events=timeline(dispatch),
        corrections=correction_rows(dispatch),
        agencies=agencies_for_picker(),
        **forms,
    )


def _dispatch_action(dispatch_id: int, form, run, done):
    """`_act` on a dispatch; `done(result)` gives the message, and the page is the resulting
    dispatch's (a transfer's is the new one)."""
    return _act(
        lambda: dispatch_for(acting_user(), dispatch_id),
        dispatch_page,
        lambda dispatch: url_for("desk.dispatch", dispatch_id=dispatch.id),
        form,
        run,
        lambda result: (done(result), url_for("desk.dispatch", dispatch_id=result.id)),
    )


@bp.route("/dispatches/<int:dispatch_id>/arrive", methods=["POST"])
@role_required(Role.CLERK)
def dispatch_arrive(dispatch_id: int):
    """The responder reached the counter."""
    return _dispatch_action(
        dispatch_id,
        ConfirmForm(),
        lambda d, _form: arrive(d, by=acting_user()),
        lambda d: (
            _("Arrival recorded: on time.")
            if d.on_time
            else _("Arrival recorded: late (after the deadline).")
        ),
    )


@bp.route("/dispatches/<int:dispatch_id>/acknowledge", methods=["POST"])
@role_required(Role.CLERK)
def dispatch_acknowledge(dispatch_id: int):
    """Record the agency's acknowledgement taken by phone."""
    return _dispatch_action(
        dispatch_id,
        AcknowledgeForm(),
        lambda d, form: acknowledge(
            d, form.responder.data, form.eta_minutes.data, by=acting_user()
        ),
        lambda d: _("Acknowledged: %(name)s is coming.", name=d.responder),
    )


@bp.route("/dispatches/<int:dispatch_id>/cancel", methods=["POST"])
@role_required(Role.CLERK)
def dispatch_cancel(dispatch_id: int):
    """End the dispatch with nobody arrived."""
    return _dispatch_action(
        dispatch_id,
        CancelForm(),
        lambda d, form: cancel(d, form.reason.data, by=acting_user()),
        lambda _d: _("Dispatch cancelled."),
    )


@bp.route("/dispatches/<int:dispatch_id>/transfer", methods=["POST"])
@role_required(Role.CLERK)
def dispatch_transfer(dispatch_id: int):
    """Send the matter to another agency; a new dispatch starts its own clock."""
    return _dispatch_action(
        dispatch_id,
        TransferForm(),
        lambda d, form: transfer(d, form.agency.data, form.reason.data or "", by=acting_user()),
        lambda new: _(
            "Transferred: %(agency)s notified, phone extension %(ext)s now.",
            agency=new.agency.name_zh,
            ext=new.agency.extension or "—",
        ),
    )


@bp.route("/dispatches/<int:dispatch_id>/notes", methods=["POST"])
@role_required(Role.CLERK)
def dispatch_note(dispatch_id: int):
    """A note while looking after the visitor."""

    def run(dispatch, form):
        add_note(visit_of(dispatch), form.text.data, by=acting_user(), dispatch=dispatch)
        return dispatch

    return _dispatch_action(dispatch_id, NoteForm(), run, lambda _d: _("Note added."))


@bp.route("/dispatches/<int:dispatch_id>/correct", methods=["POST"])
@role_required(Role.SUPERVISOR)
def dispatch_correct(dispatch_id: int):
    """A supervisor corrects a recorded time, with a reason."""

    def run(dispatch, form):
        value = form.value.data.replace(tzinfo=clock.TAIPEI)
        return correct_time(dispatch, form.field.data, value, form.reason.data, by=acting_user())

    return _dispatch_action(
        dispatch_id,
        CorrectTimeForm(),
        run,
        lambda _d: _("Time corrected; the audit trail keeps both."),
    )


# --- Board, today, history ---------------------------------------------------------------


def _board(wall: bool):
    at = clock.now()
    rows = visible_open_dispatches(acting_user(), at)
    overdue = sum(1 for d in rows if d.is_overdue(at))
    return render_template(
        "desk/board.html",
        dispatches=rows,
        overdue=overdue,
        now=at,
        wall=wall,
        open_inboxes=open_inboxes(at),
        earlier=db.session.scalar(earlier_count(acting_user(), at)),
        earlier_cap=EARLIER_COUNT_CAP,
    )


@bp.route("/board")
@role_required(*STAFF)
def board():
    """The live board: every open dispatch, overdue first, updated without reloading."""
    return _board(wall=False)


@bp.route("/board/wall")
@role_required(*STAFF)
def wall():
    """The live board in large type for a wall display (full screen)."""
    return _board(wall=True)


@bp.route("/board/wall/<string:secret>")
def wall_display(secret: str):
    """The live board on a wall screen with no one signed in, by a display link (no personal
    data); a revoked or unknown link says so."""
    if display_link_for(secret) is None:
        message = _(
            "This display link no longer works. Ask the system administrator for a new one."
        )
        return render_template(
            "errors/error.html", status=404, title=_("Page not found"), message=message
        ), 404
    db.session.commit()  # when the link was last used
    at = clock.now()
    rows = dispatches_on_display(at)
    overdue = sum(1 for d in rows if d.is_overdue(at))
    response = make_response(
        render_template(
            "desk/display.html", dispatches=rows, overdue=overdue, now=at, secret=secret
        )
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the secret
    return response


@bp.route("/end-of-day")
@role_required(*STAFF)
def end_of_day():
    """End of day (日結): every dispatch still open from an earlier day, to settle."""
    at = clock.now()
    return render_template(
        "desk/end_of_day.html", rows=earlier_open(acting_user(), at), now=at, form=EndOfDayForm()
    )


@bp.route("/end-of-day", methods=["POST"])
@role_required(Role.CLERK)
def end_of_day_settle():
    """End the checked dispatches from earlier days with nobody arrived recorded, one reason."""
    form = EndOfDayForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("desk.end_of_day"))
    try:
        settled = settle_earlier(form.dispatch.data or [], form.reason.data, by=acting_user())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("desk.end_of_day"))
    flash(_("%(n)d dispatches from earlier days settled.", n=len(settled)), "success")
    return redirect(url_for("desk.end_of_day"))


@bp.route("/today")
@role_required(*STAFF)
def today():
    """Today at the counter: visits, open and closed dispatches, the on-time rate so far."""
    at = clock.now()
    day = today_for(acting_user(), at)
    visits = visits_on(day.day)
    return render_template(
        "desk/today.html",
        now=at,
        day=day.day,
        visits=visits,
        status_counts=Counter(v.status for v in visits),
        open_dispatches=day.open,
        closed_dispatches=day.finished,
        counts=day.counts,
    )


def render_history(endpoint: str, *, choose_agency: bool):
    """The dispatch history with filters, for the desk (all) or an agency (its own)."""
    user = acting_user()
    form = HistoryFilterForm(formdata=request.args or None)
    agencies = agencies_for_picker()
    form.agency.choices = choices(
        [("", _("Any"))] + [(a.code, f"{a.name_zh} {a.name_en}") for a in agencies]
    )
    at = clock.now()
    filters = DispatchFilter()
    if request.args and form.validate():
        filters.state = form.state.data or None
        filters.outcome = form.outcome.data or None
        if form.start.data:
            filters.start = clock.day_bounds(form.start.data)[0]
        if form.end.data:
            filters.end = clock.day_bounds(form.end.data)[1]
        if filters.start and filters.end and filters.start >= filters.end:
            form.end.errors.append(_("The end date is before the start date."))
            filters = DispatchFilter()
        elif choose_agency and form.agency.data:
            try:
                filters.agency = find_agency(form.agency.data, active_only=False)
            except InvalidInput:
                filters.agency = None
    rows = paginate(search_dispatches(user, filters, at).options(*DETAILS), PAGE_SIZE)
    counts = outcome_counts(visible_condition(user), *filters.conditions(at), at=at)
    params = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "desk/history.html",
        form=form,
        rows=rows,
        counts=counts,
        params=params,
        endpoint=endpoint,
        choose_agency=choose_agency,
        detail_endpoint="desk.dispatch" if user.role in STAFF else "agency.dispatch",
        now=at,
    )


@bp.route("/dispatches")
@role_required(*STAFF)
def history():
    """Every dispatch, filtered by dates, agency, state and on time or late."""
    return render_history("desk.history", choose_agency=True)
