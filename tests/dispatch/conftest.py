"""Fixtures for the dispatch tests: a clerk, and a visit notified to an agency."""

import pytest

from models.core import audit, db
from models.dispatch import log_visit, notify


@pytest.fixture(autouse=True)
def _system_actor():
    """Start each test acting as the system: a test-client request leaves its user as the
    audit actor of this thread (webapp.security sets it and never resets it)."""
    token = audit.set_actor(audit.SYSTEM)
    yield
    audit.set_actor(audit.SYSTEM)
    del token


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


class Api:
    """A test client calling /api/v1 with a bearer token."""

    def __init__(self, client, token: str, user):
        self.client, self.token, self.user = client, token, user

    def _headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path, **kwargs):
        return self.client.get("/api/v1" + path, headers=self._headers(), **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(), **kwargs)


@pytest.fixture
def api_as(app, create_user):
    """api_as(role, agency=None) → an Api client with a token of a new user of that role."""
    from models.users import create_token

    def factory(role="clerk", **kwargs):
        user = create_user(role=role, **kwargs)
        _row, token = create_token(user, "test")
        db.session.commit()
        return Api(app.test_client(), token, user)

    return factory
