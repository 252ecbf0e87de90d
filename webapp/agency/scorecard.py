"""The agency scorecard page (/agency/scorecard) and the agency's side of the late reasons:
recording why its own dispatch was late, and the inbox's list of late dispatches that still
need a reason.

Agency staff see their own agency's scorecard only (another agency's code is a 404); those who
read the yearly report choose any agency in a select.
"""

from datetime import datetime

from flask import render_template, request

from models.core import clock
from models.core.errors import DomainError
from models.dispatch.late import unexplained_late_dispatches
from models.reference import agencies_for_picker
from models.reports import format_rate, format_target, report_years
from models.reports.access import SCORECARD_ROLES, scorecard_agency
from models.reports.rules import check_year
from models.reports.scorecard import scorecard
from models.users import Role
from webapp.agency import bp
from webapp.agency.chart import year_line
from webapp.agency.views import dispatch_page
from webapp.desk.late import record_late_reason
from webapp.i18n import reads_chinese
from webapp.reports.export import label, year_label, yes_no
from webapp.reports.forms import YearPickForm
from webapp.security import acting_user, role_required


@bp.route("/dispatches/<int:dispatch_id>/late-reason", methods=["POST"])
@role_required(Role.AGENCY)
def late_reason(dispatch_id: int):
    """Say why one of the agency's dispatches was late (another agency's is a 404)."""
    return record_late_reason(dispatch_id, "agency.dispatch", dispatch_page)


@bp.route("/scorecard")
@role_required(*SCORECARD_ROLES)
def scorecard_page():
    """An agency's standing this year (or a chosen year): rate against the target, what it
    needs in a row, month by month, and its late dispatches with their reasons."""
    user = acting_user()
    agency = scorecard_agency(user, request.args.get("agency") or None)
    picker = None
    if user.role != Role.AGENCY:
        picker = agencies_for_picker()
        if agency is None:
            agency = picker[0]
        elif agency not in picker:
            picker = [agency, *picker]
    year_picker = YearPickForm(formdata=request.args)
    year, status = clock.today().year, 422
    if year_picker.validate():
        try:
            year, status = check_year(year_picker.year.data or year), 200
        except DomainError as exc:  # said at the field, over this year's card
            year_picker.year.errors.append(exc.message)
    if status == 200:
        year_picker = YearPickForm(formdata=None, year=year)
    card = scorecard(agency, year)
    as_of = datetime.fromisoformat(card["as_of"])
    last_month = 12 if card["complete"] else clock.local(as_of).month
    return render_template(
        "agency/scorecard.html",
        card=card,
        as_of=as_of,
        last_month=last_month,
        agency=agency,
        picker=picker,
        years=report_years(),
        year_chart=year_line(card, last_month),
        label=label,
        year_label=year_label,
        yes_no=yes_no,
        fmt_rate=format_rate,
        fmt_target=format_target,
        dispatch_page=None if user.role == Role.ADMIN else _dispatch_page(user),
        may_read_evidence=user.role != Role.AGENCY,
        english=not reads_chinese(),
        year_picker=year_picker,
    ), status


def _dispatch_page(user) -> str:
    return "agency.dispatch" if user.role == Role.AGENCY else "desk.dispatch"


@bp.app_context_processor
def late_reason_inbox():
    """`unexplained_late()` for the agency inbox: its late dispatches with no reason yet."""

    def unexplained_late():
        user = acting_user()
        if user.role != Role.AGENCY or user.agency_id is None:
            return []
        return unexplained_late_dispatches(user.agency_id)

    return {"unexplained_late": unexplained_late}
