"""The service-centre desk: visits, notifying agencies, the live board, today and history."""

from flask import Blueprint

from models.dispatch.privacy import mask_name, mask_phone

bp = Blueprint("desk", __name__)


@bp.app_context_processor
def dispatch_labels():
    """Labels and helpers for the desk and agency templates."""
    from models.dispatch import care_notes, note_label
    from webapp.desk import labels
    from webapp.i18n import current_locale

    return {
        "care_notes": care_notes,
        "note_text": lambda note: note_label(note, current_locale()),
        "kind_label": lambda k: labels.KIND_LABELS.get(k, k),
        "visit_status_label": lambda s: labels.VISIT_STATUS_LABELS.get(s, s),
        "state_label": lambda s: labels.STATE_LABELS.get(s, s),
        "time_field_label": lambda f: labels.TIME_FIELD_LABELS.get(f, f),
        "score_label": lambda s: labels.SCORE_LABELS.get(s, s),
        "urgency": labels.urgency,
        "between": labels.between,
        "clock_text": labels.clock_text,
        "warn_seconds": labels.WARN_SECONDS,
    }


bp.add_app_template_filter(mask_name, "mask_name")
bp.add_app_template_filter(mask_phone, "mask_phone")


@bp.app_template_filter("duration")
def duration_filter(seconds):
    """A duration in minutes and seconds."""
    from webapp.desk.labels import duration

    return duration(seconds)


@bp.app_template_filter("iso_local")
def iso_local_filter(text):
    """An ISO 8601 instant (as kept in the audit trail) as ROC date and Taipei time."""
    from datetime import datetime

    from webapp.filters import roc_datetime

    if not text:
        return "—"
    try:
        return roc_datetime(datetime.fromisoformat(text), seconds=True)
    except (TypeError, ValueError):
        return str(text)


from webapp.desk import late, views, visitor  # noqa: E402, F401
