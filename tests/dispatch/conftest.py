"""Fixtures for the dispatch tests: a clerk, dispatches made through the operations, the desk
form or the API, and signed-in page and API clients."""

import pytest
from sqlalchemy import select

from models.core import audit, db
from models.dispatch import Dispatch, log_visit, notify
from models.users import create_token

# The real SMTP server (aiosmtpd on loopback) and the job runner, for the e-mail link tests.
from tests.jobs.conftest import mail_to, run, smtp_server  # noqa: F401

# What a clerk types into the visit form (the desk pages).
VISIT_FORM = {
    "kind": "petition",
    "subject": "急難救助申請",
    "agency": "社會局",
    "summary": "民眾詢問急難救助資格",
    "petitioner_name": "王小明",
    "petitioner_phone": "0912345123",
    "notes": "",
}
# A new visit posted to the API.
NEW_VISIT = {"kind": "petition", "subject": "急難救助申請", "petitioner_name": "王小明"}


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

    def factory(role="clerk", **kwargs):
        user = create_user(role=role, **kwargs)
        _row, token = create_token(user, "test")
        db.session.commit()
        return Api(app.test_client(), token, user)

    return factory


@pytest.fixture
def clerk_client(login_as):
    """A test client signed in as a clerk (陳櫃台)."""
    client, _user = login_as("clerk", name="陳櫃台")
    return client


@pytest.fixture
def notify_from_the_form(clerk_client):
    """notify_from_the_form(client=clerk_client, **fields) → the dispatch made by posting the
    visit form with "notify" (VISIT_FORM with `fields` changed)."""

    def factory(client=None, **fields) -> Dispatch:
        data = {**VISIT_FORM, **fields, "notify": "1"}
        response = (client or clerk_client).post("/desk/visits/new", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)
        return db.session.scalars(select(Dispatch).order_by(Dispatch.id.desc())).first()

    return factory


@pytest.fixture
def clerk_api(api_as):
    """An API client with a clerk's token."""
    return api_as("clerk", name="陳櫃台")


@pytest.fixture
def notified(clerk_api):
    """A dispatch to 社會局 made through the API (its JSON)."""
    response = clerk_api.post("/visits", {**NEW_VISIT, "agency": "social-welfare"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["dispatch"]


@pytest.fixture
def bearers(create_user):
    """Bearer-token headers for a user of each role whose view of the API differs."""
    headers = []
    for role in ("clerk", "agency", "facility", "supervisor"):
        _row, token = create_token(create_user(role=role), "fuzz")
        headers.append({"Authorization": f"Bearer {token}"})
    db.session.commit()
    return headers
