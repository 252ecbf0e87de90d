"""Labels more than one area shows, in one wording everywhere (desk, agency, reports)."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from models.dispatch import Outcome

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


def init_app(app: Flask) -> None:
    """Offer the shared labels to every template."""
    app.add_template_global(outcome_label)
    app.add_template_global(outcome_badge)
