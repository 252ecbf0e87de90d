"""Fixtures of the facility tests (plain helpers are in `tests.facility.support`)."""

import pytest

from models.core import db
from models.users import create_token
from tests.facility.support import Api, image_bytes, move, new_ticket, upload


@pytest.fixture
def people(create_user):
    """A reporter (clerk), two facility staff, a supervisor and an agency user."""
    return {
        "clerk": create_user(role="clerk", username="clerk-a"),
        "tech": create_user(role="facility", username="tech-a"),
        "tech2": create_user(role="facility", username="tech-b"),
        "boss": create_user(role="supervisor", username="boss-a"),
        "agency": create_user(role="agency", username="agency-a"),
    }


@pytest.fixture
def tech(create_user):
    """A facility staff member who walks rounds."""
    return create_user(role="facility", username="tech-r")


@pytest.fixture
def api(app, create_user):
    """api(role) → a token client for a new user of that role."""

    def factory(role, **kw):
        return Api(app, create_user(role=role, **kw))

    return factory


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


@pytest.fixture
def photos(tmp_path):
    """Two real photos on disk, as a phone's file picker hands them over."""
    before = tmp_path / "IMG_0001.jpg"
    before.write_bytes(image_bytes("JPEG", (1200, 900), "saddlebrown"))
    after = tmp_path / "IMG_0002.png"
    after.write_bytes(image_bytes("PNG", (900, 1200), "seagreen"))
    return before, after
