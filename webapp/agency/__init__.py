"""The agency inbox: an agency's own dispatches, acknowledged within minutes."""

from flask import Blueprint

bp = Blueprint("agency", __name__)

from webapp.agency import scorecard, views  # noqa: E402, F401
