"""Each user's in-app notifications: the list, the unread count in the header, mark read."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

from webapp.notifications import views  # noqa: E402, F401
