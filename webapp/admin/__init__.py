"""Administration: users, agencies, the building, API tokens, targets and settings, audit."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from webapp.admin import escalation, late_reasons, views  # noqa: E402, F401
