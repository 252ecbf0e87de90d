"""Labels more than one area shows, in one wording everywhere (desk, agency, reports)."""

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models.core import clock
from models.dispatch import Outcome
from models.reports import format_target
from webapp.i18n import reads_chinese

OUTCOME_LABELS = {
    Outcome.ON_TIME: _l("On time"),
    Outcome.LATE: _l("Late"),
    Outcome.PENDING: _l("Pending"),
    Outcome.CANCELLED: _l("Cancelled in time (not counted)"),
    Outcome.TRANSFERRED: _l("Transferred (not counted)"),
}

OUTCOME_BADGES = {  # CSS classes of the outcome badges
    Outcome.ON_TIME: "ok",
    Outcome.LATE: "bad",
    Outcome.PENDING: "warn",
    Outcome.CANCELLED: "",
    Outcome.TRANSFERRED: "",
}


def outcome_label(outcome: str) -> str:
    """A dispatch outcome in the reader's language (the code itself when unknown)."""
    return OUTCOME_LABELS.get(outcome, outcome)


def outcome_badge(outcome: str) -> str:
    """The badge's CSS class for an outcome."""
    return OUTCOME_BADGES.get(outcome, "")


def shown_year(year: int) -> int:
    """A year as the reader counts it: the ROC year in Chinese (113), else Gregorian (2024)."""
    return clock.roc_year(year) if reads_chinese() else year


def target_note(figures: dict) -> str | None:
    """Where a year's target comes from, when not from the year itself: 「沿用113年度目標87%」
    for a target carried over, 「尚未訂定目標」 when no target applies; None for its own."""
    if figures.get("target") is None:
        return _("No target set")
    set_for = figures.get("target_year")
    if not figures.get("target_carried") or set_for is None:
        return None
    return _(
        "carried over from the %(year)s target %(target)s%%",
        year=shown_year(set_for),
        target=format_target(figures["target"]),
    )


def init_app(app: Flask) -> None:
    """Offer the shared labels to every template."""
    app.add_template_global(outcome_label)
    app.add_template_global(outcome_badge)
    app.add_template_global(target_note)
