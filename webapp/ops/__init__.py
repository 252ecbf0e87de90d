"""Operations (administrators): the scheduler, each job's last run, and the notification
outbox with its dead notices and a retry button."""

from flask import Blueprint

bp = Blueprint("ops", __name__)

from webapp.ops import views  # noqa: E402, F401
