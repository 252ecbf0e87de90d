"""What happens because time passes: the overdue sweep and its escalation ladder, the outbox
relay, retention. Each job is a plain function `job(app) -> dict` that opens its own app
context and commits; `jobs.scheduler` runs them (APScheduler 3) in exactly one process.
"""

import logging

log = logging.getLogger("citydesk.jobs")


def kv(**fields) -> str:
    """A structured log line: `key=value` pairs, values with spaces quoted."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        if not text or any(c in text for c in ' "='):
            text = '"' + text.replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def summary(counts: dict) -> str:
    """A job's result as `key=value` pairs (for the admin page and the log)."""
    return kv(**counts) or "nothing to do"
