"""The monthly digest (早期預警): on the first working day of each month, at the configured
time (08:30 Taipei), last month's and the year's figures go through the outbox to each agency
that had dispatches this year (its notice addresses by e-mail, its staff in-app) and to the
chief (the users who receive escalations), with the month's late dispatches and their reasons,
and a warning when the year to the end of last month is below the target (with the on-time
arrivals in a row it needs).

What is due and what it says is here; running it on time is the job's (jobs.digest).

- Due: from the first working day of the month (models.workdays: 國定假日 and 補班) at the
  configured time, until the month ends. A scheduler that was down at that moment sends at its
  next run that month.
- Once: the `monthly_digest` row of the reported month (its primary key) is inserted before
  any notice is written, in the same transaction; a second run, a restart or a second leader
  finds it and sends nothing. The outbox's own key (event, channel, recipient) backs it up.
- The figures count the dispatches notified up to the end of the reported month, each as it
  counts at the moment the digest is written (`Dispatch.outcome_expr`).
"""

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from models import workdays
from models.core import audit, clock, db
from models.core.notices import report_path, scorecard_path
from models.core.outbox import Channel, enqueue
from models.core.sql import insert_ignore
from models.core.text import N_, in_each_language
from models.reference import Agency
from models.reports.narrative import format_rate, format_target
from models.reports.scorecard import late_dispatches, month_standing
from models.users import Role, User

KIND = "report.monthly_digest"
SEND_AT = (8, 30)  # the default time of day, Asia/Taipei (config JOBS_DIGEST_AT)


class MonthlyDigest(db.Model):
    """A month whose digest went to the outbox (one row per reported month)."""

    __tablename__ = "monthly_digest"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2024-02", reported
    sent_at: Mapped[datetime]  # when the notices were written to the outbox
    notices: Mapped[int] = mapped_column(default=0)


def previous_month(year: int, month: int) -> tuple[int, int]:
    """The month before (year, month)."""
    return (year - 1, 12) if month == 1 else (year, month - 1)


def first_working_day(year: int, month: int) -> date:
    """The first working day of a month on the Taiwan calendar (models.workdays)."""
    return workdays.next_working_day(date(year, month, 1))


def due_at(year: int, month: int, send_at: tuple[int, int] = SEND_AT) -> datetime:
    """The instant the digest of the month before (year, month) is due: the first working day
    of (year, month) at `send_at` Taipei time."""
    hour, minute = send_at
    moment = datetime.combine(first_working_day(year, month), time(hour, minute), clock.TAIPEI)
    return moment.astimezone(UTC)


def digest_due(at: datetime, send_at: tuple[int, int] = SEND_AT) -> tuple[int, int] | None:
    """The (year, month) whose digest is due at `at` (sent or not), or None before this
    month's first working day at `send_at`."""
    local = clock.local(at)
    if at < due_at(local.year, local.month, send_at):
        return None
    return previous_month(local.year, local.month)


def month_key(year: int, month: int) -> str:
    """The digest's key: the reported month as YYYY-MM."""
    return f"{year:04d}-{month:02d}"


def sent_digest(year: int, month: int) -> MonthlyDigest | None:
    """The record of a month's digest, if it was sent."""
    return db.session.get(MonthlyDigest, month_key(year, month))


# --- What the digest says --------------------------------------------------------------


def _rate_text(value) -> str:
    return "—" if value is None else f"{format_rate(value)}%"


def _figures(figures: dict[str, Any]) -> dict[str, Any]:
    """A figures block with its rate (and target) written out for the e-mail."""
    found = dict(figures)
    found["rate_text"] = _rate_text(figures.get("rate"))
    if "target" in figures:
        target = figures["target"]
        text = "—" if target is None else f"{format_target(target)}%"
        found["target_text"] = found["target_text_en"] = text
        if target is not None and figures.get("target_carried"):  # an earlier year's target
            set_for = figures["target_year"]
            found["target_text"], found["target_text_en"] = in_each_language(
                N_("%(target)s (carried over from the %(year)s target)"),
                target=text,
                year=set_for,
                roc_year=clock.roc_year(set_for),
            )
    return found


def _late_row(row: dict[str, Any]) -> dict[str, Any]:
    notified = datetime.fromisoformat(row["notified_at"])
    local = clock.local(notified)
    reason = row["reason"]
    no_reason = None if reason else in_each_language(N_("No reason recorded"))
    return {
        "id": row["id"],
        "reference": row["reference"] or f"#{row['id']}",
        "agency": row["agency"],
        "agency_name": row["agency_name"],
        "agency_name_en": row["agency_name_en"],
        "notified_roc": clock.roc_datetime(notified),
        "notified_en": f"{local:%Y-%m-%d %H:%M}",
        "minutes_to_arrival": row["minutes_to_arrival"],
        "reason": reason["code"] if reason else None,
        "reason_label": reason["label"] if reason else no_reason[0],
        "reason_label_en": reason["label_en"] if reason else no_reason[1],
        "note": reason["note"] if reason else "",
    }


def _warning(year_figures: dict[str, Any]) -> bool:
    return year_figures["target_met"] is False


def _common(year: int, month: int, at: datetime) -> dict[str, Any]:
    return {
        "period": month_key(year, month),
        "year": year,
        "roc_year": clock.roc_year(year),
        "month": month,
        "as_of": at.isoformat(),
        "year_over": year != clock.taipei_year(at),
    }


def agency_payload(
    agency: Agency, figures: dict[str, Any], late: list[dict], year: int, month: int, at
) -> dict[str, Any]:
    """What one agency's digest carries: its month and year, its late dispatches of the month
    with their reasons, and whether the year so far is below the target."""
    title, title_en = in_each_language(
        N_("Monthly dispatch digest, %(year)s-%(month)02d: %(agency)s"),
        year=year,
        roc_year=clock.roc_year(year),
        month=month,
        agency=agency,
    )
    return {
        **_common(year, month, at),
        "title": title,
        "title_en": title_en,
        **_agency_figures(agency, figures),
        "late": [_late_row(row) for row in late],
        "path": scorecard_path(year),
    }


def _agency_figures(agency: Agency, figures: dict[str, Any]) -> dict[str, Any]:
    """An agency's names with its month and year figures and whether the year is below target."""
    return {
        "agency": agency.code,
        "agency_name": agency.name_zh,
        "agency_name_en": agency.name_en,
        "month_figures": _figures(figures["month"]),
        "year_figures": _figures(figures["year"]),
        "warning": _warning(figures["year"]),
    }


def chief_payload(
    centre: dict[str, Any],
    agencies: list[tuple[Agency, dict[str, Any]]],
    late: list[dict],
    year: int,
    month: int,
    at,
) -> dict[str, Any]:
    """What the chief's digest carries: the centre's month and year, each agency's, the
    agencies below the target, and the month's late dispatches with their reasons."""
    title, title_en = in_each_language(
        N_("Monthly dispatch digest, %(year)s-%(month)02d: all agencies"),
        year=year,
        roc_year=clock.roc_year(year),
        month=month,
    )
    rows = [_agency_figures(agency, figures) for agency, figures in agencies]
    return {
        **_common(year, month, at),
        "title": title,
        "title_en": title_en,
        "month_figures": _figures(centre["month"]),
        "year_figures": _figures(centre["year"]),
        "warning": _warning(centre["year"]),
        "agencies": rows,
        "below_target": [row["agency"] for row in rows if row["warning"]],
        "late": [_late_row(row) for row in late],
        "path": report_path(year),
    }


def _active_users(*conditions) -> list[User]:
    return list(db.session.scalars(select(User).where(User.active, *conditions).order_by(User.id)))


def chiefs() -> list[User]:
    """The chief: the active users who receive escalations (as the escalation ladder's)."""
    return _active_users(User.receives_escalations)


def _send(key: str, payload: dict, *, emails: list[str], users: list[User]) -> int:
    written = 0
    for address in emails:
        written += enqueue(key, KIND, Channel.EMAIL, address, payload) is not None
    for user in users:
        notice = enqueue(key, KIND, Channel.IN_APP, f"user:{user.id}", payload, user_id=user.id)
        written += notice is not None
    return written


def send_monthly_digest(
    at: datetime | None = None, send_at: tuple[int, int] = SEND_AT
) -> MonthlyDigest | None:
    """Write the monthly digest to the outbox if it is due and not sent yet (flushes; the
    caller commits); the month's record, or None when nothing was due or it was sent."""
    at = at or clock.now()
    period = digest_due(at, send_at)
    if period is None:
        return None
    year, month = period
    key = month_key(year, month)
    inserted = insert_ignore(
        MonthlyDigest, {"month": key, "sent_at": at, "notices": 0}, ["month"], MonthlyDigest.month
    )
    if inserted is None:
        return None  # sent already (or another leader is sending it now)
    centre, by_agency = month_standing(year, month, at)
    late = late_dispatches(year, at, month=month)
    agencies = sorted(
        (db.session.get(Agency, agency_id) for agency_id in by_agency),
        key=lambda a: (not a.has_desk, a.sort_order, a.code),
    )
    event = f"digest:{key}"
    written = 0
    for agency in agencies:
        if not agency.active:
            continue
        own_late = [row for row in late if row["agency"] == agency.code]
        payload = agency_payload(agency, by_agency[agency.id], own_late, year, month, at)
        staff = _active_users(User.agency_id == agency.id, User.role == Role.AGENCY)
        written += _send(f"{event}:{agency.code}", payload, emails=agency.email_list, users=staff)
    overview = chief_payload(
        centre, [(a, by_agency[a.id]) for a in agencies], late, year, month, at
    )
    chief_emails = [u.email.strip() for u in chiefs() if u.email and u.email.strip()]
    written += _send(f"{event}:chief", overview, emails=chief_emails, users=chiefs())
    db.session.execute(
        update(MonthlyDigest).where(MonthlyDigest.month == key).values(notices=written)
    )
    audit.record(
        "report.monthly_digest",
        "monthly_digest",
        key,
        None,
        {
            "notices": written,
            "agencies": [a.code for a in agencies if a.active],
            "below_target": overview["below_target"],
        },
    )
    db.session.flush()
    return db.session.get(MonthlyDigest, key)
