"""The audit sealer as a job: chains the audit entries that no sealing after a commit took
(a process that died between its commit and its sealing, or a busy moment); normally there are
none, as each commit seals its own entries right after (`models.core.audit.seal`)."""

from flask import Flask

from jobs import kv, log
from models.core import audit

NAME = "audit_seal"
EVERY_SECONDS = 10


def seal_pending(app: Flask) -> dict:
    """Seal every committed unsealed audit entry, in order; returns the count."""
    with app.app_context():
        sealed = audit.seal() or 0
    if sealed:
        log.info(kv(job=NAME, sealed=sealed))
    return {"sealed": sealed}
