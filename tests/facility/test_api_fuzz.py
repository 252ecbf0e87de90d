"""Schemathesis over the facility operations with tickets in every state to act on: no 500,
every response as documented, schema-valid requests never refused as invalid."""

import contextvars
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from models.core import db
from models.users import create_token
from tests.facility.support import (
    dispose_engines_at_the_end,
    fast_passwords,
    fresh_user_per_request,
    move,
    new_ticket,
    upload,
)

assert fast_passwords and fresh_user_per_request and dispose_engines_at_the_end  # autouse

# Fewer by default than the whole-API fuzz test, which covers these operations too.
MAX_EXAMPLES = int(os.environ.get("CITYDESK_FUZZ_EXAMPLES", "10"))
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def seeded(create_user):
    """Tickets 1-5 in every state, and a bearer token for each role."""
    clerk = create_user(role="clerk")
    tech = create_user(role="facility")
    boss = create_user(role="supervisor")
    agency = create_user(role="agency")
    tickets = [new_ticket(clerk, category=c) for c in ("corridor", "facility", "cleanliness")]
    tickets += [new_ticket(agency, category="ceiling_floor"), new_ticket(clerk, floor="5F")]
    move(tickets[1], tech, "assign", assignee=tech)
    move(tickets[2], tech, "assign", assignee=tech)
    move(tickets[2], tech, "start")
    move(tickets[3], tech, "assign", assignee=tech)
    move(tickets[3], tech, "start")
    move(tickets[3], tech, "fix", note="ok", uploads=[upload()])
    move(tickets[4], tech, "assign", assignee=tech)
    move(tickets[4], tech, "start")
    move(tickets[4], tech, "fix", note="ok", uploads=[upload()])
    move(tickets[4], boss, "verify")
    headers = []
    for user in (clerk, agency, tech, boss):
        _row, token = create_token(user, "fuzz")
        headers.append({"Authorization": f"Bearer {token}"})
    db.session.commit()
    return headers


def test_facility_operations_conform_to_the_document(app, seeded):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith(("/api/v1/defects", "/api/v1/rounds"))
    ]
    assert len(operations) == 13
    for operation in operations:

        @SETTINGS
        @given(case=operation.as_strategy())
        def exercise(case):
            for headers in seeded:
                contextvars.Context().run(case.call_and_validate, headers=headers)

        try:
            exercise()
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
