"""The monthly digest: on the first working day of each month at `CITYDESK_JOBS_DIGEST_AT`
(08:30 Taipei) last month's figures go to each agency and to the chief (models.reports.digest).

Scheduled daily at that time; on any other day, or once the month's digest went out, a run
does nothing. The month's record is inserted before its notices, in one transaction, so a
second run, a restart or a second leader never sends twice; a scheduler that was down at 08:30
catches up at its next run that month (at takeover, or with `citydesk jobs --once`).
"""

from flask import Flask

from jobs import kv, log
from jobs.config import SchedulerSettings
from models.core import audit, clock, db
from models.reports.digest import send_monthly_digest

NAME = "monthly_digest"


def monthly_digest(app: Flask) -> dict:
    """Send the monthly digest if it is due and not sent yet; how many notices it wrote."""
    settings = SchedulerSettings.from_config(app.config)
    with app.app_context(), audit.acting_as(audit.JOBS):
        try:
            row = send_monthly_digest(clock.now(), settings.digest_at)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        if row is None:
            return {"sent": 0, "notices": 0}
        log.info(kv(job=NAME, month=row.month, notices=row.notices))
        return {"sent": 1, "notices": row.notices}
