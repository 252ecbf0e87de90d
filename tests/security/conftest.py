"""A small world for the security tests: one user of every role and one real object of
every type, owned so that each role has a reason (or not) to reach it."""

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update

from models import facility as fac
from models.core import db
from models.core.outbox import Channel, DeliveryState, Notification
from models.dispatch import create_display_link, log_visit, notify
from models.reference import agency_by_code, update_agency
from models.users import create_token
from tests.conftest import login
from tests.facility.support import as_user, upload

ROLES = ("clerk", "agency_a", "agency_b", "facility", "supervisor", "admin")
AGENCY_A, AGENCY_B = "social-welfare", "labor"
# Markup typed into every free-text field of the evil world (stored XSS attempts).
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


@dataclass
class World:
    """Users by role name, their API tokens, and the ids of the objects made."""

    users: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)


def build_world(
    create_user,
    *,
    subject="低收入戶補助申請",
    name="王小明",
    notes="",
    description="燈管閃爍",
    location="男廁旁走道",
) -> World:
    """One user per role; a visit notified to agency A; a ticket filed by the clerk with a
    photo; a round started by the facility user; an in-app notice to the agency A user."""
    world = World()
    world.users["clerk"] = create_user(role="clerk", username="sec-clerk")
    world.users["agency_a"] = create_user(role="agency", agency=AGENCY_A, username="sec-a")
    world.users["agency_b"] = create_user(role="agency", agency=AGENCY_B, username="sec-b")
    world.users["facility"] = create_user(role="facility", username="sec-fac")
    world.users["supervisor"] = create_user(role="supervisor", username="sec-sup")
    world.users["admin"] = create_user(role="admin", username="sec-admin")
    clerk = world.users["clerk"]
    update_agency(agency_by_code(AGENCY_A), emails="desk@a.example")  # its e-mail: an ack link
    with as_user(clerk):
        visit = log_visit(
            kind="petition",
            subject=subject,
            by=clerk,
            petitioner_name=name,
            petitioner_phone="0912345678",
            notes=notes,
        )
        dispatch = notify(visit, AGENCY_A, by=clerk)
        db.session.commit()
    with as_user(clerk):
        defect = fac.report_defect(
            by=clerk,
            category=fac.category_by_code("facility"),
            zone=fac.zone_by_code("northeast"),
            floor=fac.floor_by_code("3F"),
            location=location,
            description=description,
            uploads=[upload()],
        )
        db.session.commit()
    inspector = world.users["facility"]
    with as_user(inspector):
        inspection = fac.start_round(
            fac.zone_by_code("northeast"), [fac.floor_by_code("3F")], by=inspector
        )
        db.session.commit()
    db.session.execute(
        update(Notification)
        .where(Notification.channel == Channel.IN_APP.value)
        .values(state=DeliveryState.SENT.value)
    )
    db.session.commit()
    notice_a = db.session.scalar(
        select(Notification.id).where(
            Notification.user_id == world.users["agency_a"].id,
            Notification.channel == Channel.IN_APP.value,
        )
    )
    assert notice_a is not None, "notifying agency A left no in-app notice for its staff"
    for role, user in world.users.items():
        row, token = create_token(user, "security test")
        world.tokens[role] = token
        if role == "admin":
            world.ids["token"] = row.id
    ack_mail = db.session.scalar(
        select(Notification).where(
            Notification.dispatch_id == dispatch.id, Notification.channel == Channel.EMAIL.value
        )
    )
    world.ids["ack_token"] = ack_mail.payload["ack_path"].rsplit("/", 1)[1]
    link, secret = create_display_link("一樓大廳", by=world.users["admin"])
    world.ids.update(display_link=link.id, display_secret=secret)
    db.session.commit()
    world.ids.update(
        visit=visit.id,
        dispatch=dispatch.id,
        defect=defect.id,
        photo=defect.photos[0].id,
        round=inspection.id,
        notice_a=notice_a,
        user=world.users["clerk"].id,
    )
    return world


@pytest.fixture
def world(create_user) -> World:
    """The world of build_world with default texts."""
    return build_world(create_user)


@pytest.fixture
def evil_world(create_user):
    """The world with markup in every text a user typed (SCRIPT and IMG)."""
    return build_world(
        create_user,
        subject=f"申請 {SCRIPT}",
        name=SCRIPT,
        notes=f"備註 {SCRIPT}",
        description=f"燈管 {IMG}",
        location=f"走道 {IMG}",
    )


@pytest.fixture
def signed_in(app, world):
    """signed_in(role) → a test client signed in through the form as that role's user."""

    def factory(role):
        client = app.test_client()
        response = login(client, world.users[role].username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return factory
