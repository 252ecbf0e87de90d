"""Reports: the yearly compliance report, its evidence lists, period close and record import."""

from flask import Blueprint

bp = Blueprint("reports", __name__)
imports_bp = Blueprint("imports", __name__)

from webapp.reports import imports, views  # noqa: E402, F401
