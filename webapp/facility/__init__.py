"""Facility: repair reports and tickets, the building grid, inspection rounds, settings."""

from flask import Blueprint

bp = Blueprint("facility", __name__)

from webapp.facility import views  # noqa: E402, F401
