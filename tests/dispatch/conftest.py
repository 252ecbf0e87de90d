"""Fixtures for the dispatch tests: a clerk, and a visit notified to an agency."""

import pytest

from models import audit, db
from models.dispatch import log_visit, notify


@pytest.fixture
def clerk(create_user):
    """A service-centre clerk."""
    return create_user(role="clerk", username="counter", name="陳櫃台")


@pytest.fixture
def make_dispatch(clerk):
    """make_dispatch(agency="social-welfare", **visit) → a dispatch notified now by the clerk."""

    def factory(agency="social-welfare", subject="低收入戶補助申請", **visit_fields):
        with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
            visit = log_visit(kind="petition", subject=subject, by=clerk, **visit_fields)
            dispatch = notify(visit, agency, by=clerk)
        db.session.commit()
        return dispatch

    return factory
