"""Home page per role, language switch and the user's own preferences."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from webapp.main import views  # noqa: E402, F401
