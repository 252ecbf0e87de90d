"""What every area stands on: the database (`db`), the movable UTC clock, the UTC column type,
domain errors, text and id helpers, the audit trail and the notification outbox."""

from models.core.database import db

__all__ = ["db"]
