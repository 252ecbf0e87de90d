"""The dispatch rules the numbers depend on (DESIGN "The rules"), each written once: the
deadline, the on-time rate and the satisfaction share. Whether one dispatch is on time, late or
not counted is `Dispatch.outcome()` (models.dispatch.tables), with its SQL twin
`Dispatch.outcome_expr()`; the visitor's wait is `Visit.visitor_wait()` there too."""

from datetime import datetime, timedelta
from decimal import Decimal


def deadline_after(notified_at: datetime, sla_seconds: int) -> datetime:
    """The deadline rule: a dispatch must be met `sla_seconds` after it was notified."""
    return notified_at + timedelta(seconds=sla_seconds)


def on_time_rate(on_time: int, counted: int) -> Decimal | None:
    """On time ÷ counted × 100 in Decimal, rounded half up to 2 places; None when nothing
    is counted (never 100%)."""
    if counted <= 0:
        return None
    # Exact integer arithmetic: hundredths of a percent, then half up on the remainder.
    hundredths, remainder = divmod(on_time * 10_000, counted)
    if 2 * remainder >= counted:
        hundredths += 1
    return Decimal(hundredths).scaleb(-2)


def satisfaction_share(satisfied: int, responses: int) -> Decimal | None:
    """Satisfied ÷ responses × 100 in Decimal, half up to 2 places (DESIGN "Satisfaction
    share"); None when nobody answered. The same arithmetic as the on-time rate."""
    return on_time_rate(satisfied, responses)
