"""Fixtures of the foundation tests: the demo data, the OpenAPI document and a supervisor's
token (the app, clients and the CLI runner come from tests/conftest)."""

import pytest

from demo import DEMO_USERS, load_demo
from models.core import audit, db
from models.users import create_token
from tests.conftest import module_database

# The demo account a browser test signs in with for each role (the first of that role).
DEMO_LOGINS: dict[str, str] = {}
for _username, _role, *_rest in DEMO_USERS:
    DEMO_LOGINS.setdefault(str(_role), _username)


@pytest.fixture
def doc(client):
    """The API's OpenAPI document."""
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def supervisor_headers(create_user):
    """Bearer-token headers of a new supervisor."""
    _row, token = create_token(create_user(role="supervisor"), "test")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def demo_data():
    """The demo users (with their passwords) and sample data, on either database."""
    with audit.acting_as(audit.Actor(None, "test")):
        passwords = load_demo()
        db.session.commit()
    return passwords


def _start_unfinished_round() -> None:
    """An unfinished round (the phone walk opens its page and finding form)."""
    from sqlalchemy import select

    from models import facility as fac
    from models.users import User

    tech = db.session.scalar(select(User).where(User.username == "facility"))
    with audit.acting_as(audit.Actor(tech.id, tech.username)):
        floors = [fac.floor_by_code("1F"), fac.floor_by_code("2F")]
        fac.start_round(fac.zone_by_code("northeast"), floors, by=tech)
    db.session.commit()


@pytest.fixture
def phone_demo(demo_data):
    """The demo data plus an unfinished round (the phone walk opens its page and finding form)."""
    _start_unfinished_round()
    return demo_data


@pytest.fixture(scope="module")
def module_demo(app):
    """The demo data built once for a module whose tests only read it (marked `module_data`:
    the accessibility sweep, the phone walk), with an unfinished round."""
    with module_database(app):
        with audit.acting_as(audit.Actor(None, "test")):
            passwords = load_demo()
            db.session.commit()
        _start_unfinished_round()
        yield passwords
