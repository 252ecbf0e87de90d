"""The yearly report page, its downloads, the evidence lists behind each figure, period close."""

from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from models.core import clock, db
from models.core.errors import DomainError
from models.dispatch.late import NO_REASON, LateReason, late_reasons_of
from models.facility import Defect
from models.reference import Agency, DefectCategory, Zone
from models.reports import (
    DEFECT_STATUSES,
    OUTCOME_FILTERS,
    REPORT_READER_ROLES,
    YEAR_CLOSER_ROLES,
    check_year,
    close_year,
    defect_evidence_ids,
    dispatch_evidence,
    format_rate,
    format_target,
    has_records,
    minutes,
    report_years,
    round_evidence,
    yearly_report,
)
from webapp.i18n import reads_chinese
from webapp.labels import outcome_label
from webapp.paging import paginate
from webapp.reports import bp, charts
from webapp.reports.export import (
    MIME,
    RATE_KEYS,
    label,
    to_csv,
    to_json,
    to_xlsx,
    visitor_rows,
    year_label,
    yes_no,
)
from webapp.reports.forms import CloseYearForm, YearPickForm
from webapp.security import acting_user, role_required

PAGE_SIZE = 100
OUTCOME_FILTER_LABELS = {  # the evidence list's filters: an outcome, or one of these groups
    "counted": _l("Counted (on time or late)"),
    "excluded": _l("Excluded (cancelled in time or transferred)"),
}
STATUS_LABELS = {
    "found": _l("Defects found"),
    "fixed": _l("Defects fixed"),
    "open": _l("Still open"),
    "within_due": _l("Fixed within the due date"),
    "past_due": _l("Past the due date"),
    "not_yet_due": _l("Open, not yet due"),
}


def _year(year: int) -> int:
    """A year the report exists for, else 404 (a future year, 1999...)."""
    try:
        return check_year(year)
    except DomainError:
        abort(404)


@bp.route("/")
@role_required(*REPORT_READER_ROLES)
def index():
    """The report of the year picked in the form (ROC or Gregorian), else this year's; a bad
    year is said at the field, over this year's report."""
    picker = YearPickForm(formdata=request.args)
    if picker.validate():
        try:
            year = check_year(picker.year.data or clock.today().year)
        except DomainError as exc:
            picker.year.errors.append(exc.message)
        else:
            return redirect(url_for("reports.yearly", year=year))
    return _yearly_page(clock.today().year, picker), 422


@bp.route("/<int:year>")
@role_required(*REPORT_READER_ROLES)
def yearly(year: int):
    """The yearly report page: figures, narrative, tables, charts and links to the records."""
    checked = _year(year)
    if checked != year:  # /reports/112 is 2023's report: one address per year
        return redirect(url_for("reports.yearly", year=checked))
    return _yearly_page(year, YearPickForm(year=year))


def _yearly_page(year: int, picker: YearPickForm) -> str:
    """The yearly report page of a checked year, with the year picker as given."""
    report = yearly_report(year)
    can_close = (
        current_user.has_role(*YEAR_CLOSER_ROLES)
        and not report["period"]["closed"]
        and year < clock.taipei_year(clock.now())
        and has_records(report)
    )
    return render_template(
        "reports/yearly.html",
        report=report,
        years=report_years(),
        month_chart=charts.monthly_rate(report["dispatch"]),
        defect_chart=charts.defects_by_category(report["defects"]),
        close_form=CloseYearForm() if can_close else None,
        picker=picker,
    )


@bp.route("/<int:year>/report.<fmt>")
@role_required(*REPORT_READER_ROLES)
def download(year: int, fmt: str):
    """The report as CSV, XLSX or JSON (the same figures as the page)."""
    year = _year(year)
    if fmt not in ("csv", "xlsx", "json"):
        abort(404)
    at = clock.now()
    report = yearly_report(year, at)
    if fmt == "csv":
        body: str | bytes = "\ufeff" + to_csv(report)  # Excel needs the BOM to read UTF-8
    elif fmt == "json":
        body = to_json(report)
    else:
        body = to_xlsx(report, at)
    name = f"citydesk-report-{year}.{fmt}"
    return Response(
        body,
        mimetype=MIME[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/<int:year>/close", methods=["POST"])
@role_required(*YEAR_CLOSER_ROLES)
def close(year: int):
    """Close a finished year: freeze its figures (audited)."""
    year = _year(year)
    form = CloseYearForm()
    if form.validate_on_submit():
        try:
            close_year(year, by=acting_user())
            db.session.commit()
            flash(_("%(year)s is closed; its figures are frozen.", year=year), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
    return redirect(url_for("reports.yearly", year=year))


def _filters(*names: str) -> dict[str, str]:
    return {n: request.args[n] for n in names if request.args.get(n)}


@bp.route("/<int:year>/dispatches")
@role_required(*REPORT_READER_ROLES)
def dispatches(year: int):
    """The dispatches behind a figure: by outcome, agency, month or timing."""
    year = _year(year)
    filters = _filters("outcome", "agency", "month", "timed", "reason")
    if filters.get("outcome") and filters["outcome"] not in OUTCOME_FILTERS:
        abort(404)
    month = request.args.get("month", type=int)
    if "month" in filters and not (month and 1 <= month <= 12):
        abort(404)
    agency = None
    if "agency" in filters:
        agency = db.session.scalar(select(Agency).where(Agency.code == filters["agency"]))
        if agency is None:
            abort(404)
    reason = None
    if filters.get("reason", NO_REASON) != NO_REASON:
        reason = db.session.scalar(select(LateReason).where(LateReason.code == filters["reason"]))
        if reason is None:
            abort(404)
    try:
        stmt = dispatch_evidence(
            year,
            outcome=filters.get("outcome"),
            agency=filters.get("agency"),
            month=month,
            timed=filters.get("timed"),
            reason=filters.get("reason"),
        )
    except DomainError:
        abort(404)
    at = clock.now()
    page = paginate(stmt, PAGE_SIZE, rows=True)
    return render_template(
        "reports/dispatches.html",
        year=year,
        rows=[(d, minutes(seconds), d.outcome(at)) for d, seconds in page.items],
        reasons=late_reasons_of([d.id for d, _seconds in page.items]),
        page=page,
        filters=filters,
        agency=agency,
        month=month,
        reason=reason,
    )


@bp.route("/<int:year>/defects")
@role_required(*REPORT_READER_ROLES)
def defects(year: int):
    """The defects behind a figure: by status, category or zone."""
    year = _year(year)
    filters = _filters("status", "category", "zone")
    if filters.get("status", "found") not in DEFECT_STATUSES:
        abort(404)
    category = zone = None
    if "category" in filters:
        category = db.session.scalar(
            select(DefectCategory).where(DefectCategory.code == filters["category"])
        )
        if category is None:
            abort(404)
    if "zone" in filters:
        zone = db.session.scalar(select(Zone).where(Zone.code == filters["zone"]))
        if zone is None:
            abort(404)
    ids = defect_evidence_ids(
        year,
        status=filters.get("status"),
        category=filters.get("category"),
        zone=filters.get("zone"),
    )
    page = paginate(ids, PAGE_SIZE)
    chosen = page.items
    by_id = {d.id: d for d in db.session.scalars(select(Defect).where(Defect.id.in_(chosen)))}
    return render_template(
        "reports/defects.html",
        year=year,
        rows=[by_id[i] for i in chosen],
        page=page,
        filters=filters,
        category=category,
        zone=zone,
    )


@bp.route("/<int:year>/rounds")
@role_required(*REPORT_READER_ROLES)
def rounds(year: int):
    """The finished inspection rounds behind the rounds-done figures."""
    year = _year(year)
    filters = _filters("zone")
    zone = None
    if "zone" in filters:
        zone = db.session.scalar(select(Zone).where(Zone.code == filters["zone"]))
        if zone is None:
            abort(404)
    stmt = round_evidence(year, zone=filters.get("zone"))
    page = paginate(stmt, PAGE_SIZE)
    return render_template(
        "reports/rounds.html", year=year, rows=page.items, page=page, filters=filters, zone=zone
    )


def _name_of(row) -> str:
    """A row's name in the reader's language (agency, category or zone)."""
    if not isinstance(row, dict):
        return ""
    return row.get("name_zh" if reads_chinese() else "name_en") or row.get("name_zh") or ""


def _figure_label(path: str, report: dict) -> str:
    """A restatement path (dispatch.by_month.3.late) in words."""
    names = {}
    for table, key in (
        (report["dispatch"]["by_agency"], "agency"),
        (report["defects"]["by_category"], "category"),
        (report["defects"]["by_zone"], "zone"),
        (report["defects"]["inspection_rounds"], "zone"),
    ):
        names.update({row[key]: _name_of(row) for row in table})
    words = []
    parts = path.split(".")
    for index, part in enumerate(parts):
        previous = parts[index - 1] if index else ""
        if part == "dispatch":
            words.append(_("Dispatches"))
        elif part == "defects":
            words.append(_("Defects"))
        elif part in ("by_agency", "by_month", "by_category", "by_zone", "excluded"):
            continue
        elif part == "inspection_rounds":
            words.append(_("Inspection rounds"))
        elif previous == "by_month":
            words.append(_("Month %(m)s", m=part))
        elif previous in ("by_agency", "by_category", "by_zone", "inspection_rounds"):
            words.append(names.get(part, part))
        elif part == "minutes_to_arrival":
            words.append(_("Minutes from notice to arrival"))
        elif part == "minutes_to_acknowledgement":
            words.append(_("Minutes from notice to acknowledgement"))
        elif part == "median":
            words.append(_("median"))
        elif part == "p90":
            words.append(_("90th percentile"))
        elif part == "count" and previous.startswith("minutes_to_"):
            words.append(_("Dispatches"))
        else:
            words.append(label(part))
    return " · ".join(words)


def _show(value) -> str:
    return "—" if value is None else str(value)


def _change_value(value, figure: str) -> str:
    """A frozen or current figure of a restatement, written as on the page."""
    if isinstance(value, bool):
        return yes_no(value)
    if figure.rsplit(".", 1)[-1] in RATE_KEYS:
        return format_rate(value)
    if figure.endswith(".target"):
        return format_target(value)
    return _show(value)


def _instant(text: str | None):
    return datetime.fromisoformat(text) if text else None


@bp.context_processor
def _helpers():
    return {
        "label": label,
        "name_of": _name_of,
        "year_label": year_label,
        "fmt_rate": format_rate,
        "fmt_target": format_target,
        "yes_no": yes_no,
        "show": _show,
        "change_value": _change_value,
        "figure_label": _figure_label,
        "instant": _instant,
        "outcome_filter_label": lambda value: (
            OUTCOME_FILTER_LABELS.get(value) or outcome_label(value)
        ),
        "status_label": lambda value: STATUS_LABELS.get(value, value),
        "visitor_rows": visitor_rows,
    }
