"""Facility pages: thin wrappers around the operations in `models.facility`.

`tickets` (reports, the ticket list and moves, photos, the building grid), `rounds`
(schedule and walking a round), `settings` (plans, due days, the calendar, QR posters).
"""

from webapp.facility import bp
from webapp.facility.labels import template_labels
from webapp.facility.views import rounds, settings, tickets  # noqa: F401 (registers routes)

bp.context_processor(template_labels)
