"""Retention: erase petitioners' names and phones on visits older than
`CITYDESK_RETENTION_DAYS` (default 365), each erasure in the audit trail."""

from flask import Flask

from jobs import kv, log
from models.core import audit, clock, db
from models.dispatch.retention import erase_personal_data, expired_visits, retention_cutoff

NAME = "retention"


def erase_expired(app: Flask) -> dict:
    """Erase the personal data of every visit past its retention period; returns the count."""
    erased = 0
    with app.app_context(), audit.acting_as(audit.JOBS):
        cutoff = retention_cutoff(clock.now(), app.config.get("RETENTION_DAYS"))
        while True:
            batch = expired_visits(cutoff)
            db.session.rollback()
            if not batch:
                break
            done = []
            for visit_id in batch:
                if erase_personal_data(visit_id, clock.now()):
                    done.append(visit_id)
            db.session.commit()
            erased += len(done)
            if done:
                log.info(kv(job=NAME, erased=len(done), visits=",".join(map(str, done))))
            if len(done) < len(batch):
                break  # someone else erased the rest at the same time; next run finishes
    return {"erased": erased}
